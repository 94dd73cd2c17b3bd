// PUT /uploads/{id}?expires=..&sig=..: the body streams to DIR/uploads/ID.partial through a 64 KiB
// buffer (memory stays the same whatever the size), is renamed into place when every announced byte
// has come, and the job is queued. Refusals come before the body is read.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <set>

#include "http.hpp"
#include "service.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace portal {

namespace {

constexpr auto idle_timeout = std::chrono::seconds(60);

// Uploads being received: a second PUT of the same URL meanwhile is a conflict.
std::mutex receiving_mutex;
std::set<std::string, std::less<>> receiving;

class claim {
 public:
  explicit claim(std::string_view id) : id_(id) {
    std::lock_guard lock(receiving_mutex);
    held_ = receiving.insert(id_).second;
  }
  ~claim() {
    if (!held_) return;
    std::lock_guard lock(receiving_mutex);
    receiving.erase(id_);
  }
  claim(const claim&) = delete;
  claim& operator=(const claim&) = delete;
  bool held() const { return held_; }

 private:
  std::string id_;
  bool held_ = false;
};

class output_file {
 public:
  explicit output_file(const std::filesystem::path& p)
      : path_(p), fd_(::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) {}
  ~output_file() {
    if (fd_ >= 0) ::close(fd_);
    if (!kept_) std::filesystem::remove(path_, ignored_);
  }
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;
  bool ok() const { return fd_ >= 0; }
  bool write(const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }
  /// Durable and renamed to `final`; the file is no longer removed.
  bool keep_as(const std::filesystem::path& final) {
    if (::fsync(fd_) != 0) return false;
    ::close(fd_);
    fd_ = -1;
    std::filesystem::rename(path_, final, ignored_);
    kept_ = !ignored_;
    return kept_;
  }

 private:
  std::filesystem::path path_;
  int fd_;
  bool kept_ = false;
  std::error_code ignored_;
};

}  // namespace

asio::awaitable<void> handle_upload(exchange& x, std::string_view id, std::string_view query) {
  if (x.header().method() != http::verb::put)
    co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use PUT");
  if (!valid_id(id)) co_return co_await send_error(x, http::status::not_found, "not_found", "no such upload");
  const auto now =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  switch (x.app.signer().check(id, query_param(query, "expires"), query_param(query, "sig"), now)) {
    case url_check::ok: break;
    case url_check::expired:
      co_return co_await send_error(x, http::status::forbidden, "url_expired", "this upload URL has expired");
    case url_check::bad_signature:
      co_return co_await send_error(x, http::status::forbidden, "bad_signature",
                                    "this upload URL is not one the portal signed");
  }
  auto v = x.app.videos().get(id);
  if (!v) co_return co_await send_error(x, http::status::not_found, "not_found", "no such upload");
  claim busy(id);
  if (v->state != video_state::uploading || !busy.held())
    co_return co_await send_error(x, http::status::conflict, "already_uploaded",
                                  "this upload URL has been used; ask for a new video");
  const auto length = x.parser.content_length();
  if (!length)
    co_return co_await send_error(x, http::status::length_required, "length_required",
                                  "send the upload with a Content-Length");
  if (*length > static_cast<std::uint64_t>(v->size))
    co_return co_await send_error(x, http::status::payload_too_large, "larger_than_announced",
                                  "the body is larger than the size announced when the video was created");
  if (*length < static_cast<std::uint64_t>(v->size))
    co_return co_await send_error(x, http::status::bad_request, "smaller_than_announced",
                                  "the body is smaller than the size announced when the video was created");

  output_file out(x.app.partial_upload(id));
  if (!out.ok())
    co_return co_await send_error(x, http::status::insufficient_storage, "storage_unavailable",
                                  "the upload cannot be stored");
  if (x.header()[http::field::expect] == "100-continue") {
    http::response<http::empty_body> cont{http::status::continue_, x.header().version()};
    co_await http::async_write(x.stream, cont, asio::as_tuple(asio::use_awaitable));
  }
  http::request_parser<http::buffer_body> body{std::move(x.parser)};
  body.body_limit(*length);
  std::array<char, 64 * 1024> chunk;
  std::uint64_t received = 0;
  while (!body.is_done()) {
    body.get().body().data = chunk.data();
    body.get().body().size = chunk.size();
    x.stream.expires_after(idle_timeout);
    auto [ec, n] = co_await http::async_read(x.stream, x.buffer, body, asio::as_tuple(asio::use_awaitable));
    if (ec && ec != http::error::need_buffer) {
      x.keep_alive = false;  // the client went away or stalled; the partial file goes with `out`
      x.status = 499;
      co_return;
    }
    const std::size_t got = chunk.size() - body.get().body().size;
    if (!out.write(chunk.data(), got)) {
      x.keep_alive = false;
      co_return co_await send_error(x, http::status::insufficient_storage, "no_space",
                                    "the upload could not be written: the disk is full");
    }
    received += got;
    x.app.stats().add_upload_bytes(static_cast<std::int64_t>(got));
  }
  x.body_read = true;
  if (received != *length || !out.keep_as(x.app.source_of(id)))
    co_return co_await send_error(x, http::status::insufficient_storage, "storage_unavailable",
                                  "the upload could not be stored");
  if (auto e = x.app.enqueue(id); e) {
    if (x.app.config().naive)
      co_return co_await send_error(x, http::status::unprocessable_entity, spool::code_name(e.code), e.what());
    co_return co_await send_error(x, http::status::service_unavailable, "queue_unavailable", e.what());
  }
  co_await send_json(x, http::status::ok, to_json(*x.app.videos().get(id)));
}

}  // namespace portal
