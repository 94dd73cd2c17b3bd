// s3:// inputs: ranged GETs through one bounded window.
#include "aws/s3_source.hpp"

#include <algorithm>
#include <cstring>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

bool s3_input_allowed(const input_policy& policy, std::string_view bucket, std::string_view key) {
  const std::string full = std::string(bucket) + "/" + std::string(key);
  return std::any_of(policy.s3_prefixes.begin(), policy.s3_prefixes.end(), [&](const std::string& p) {
    if (p.empty()) return false;
    if (p.find('/') == std::string::npos) return p == bucket;
    return full.starts_with(p);
  });
}

s3_source::s3_source(std::shared_ptr<s3_client> client, s3_uri where, object_info info)
    : client_(std::move(client)), where_(std::move(where)), info_(std::move(info)) {
  window_.resize(static_cast<std::size_t>(std::max<std::int64_t>(1, client_->options().read_window)));
}

s3_source::~s3_source() {
  if (ahead_.valid()) ahead_.wait();
}

result<std::size_t> s3_source::read_at(std::int64_t offset, std::span<std::byte> buffer) {
  if (offset < 0) return error(errc::invalid_argument, "negative offset reading " + name());
  if (offset >= info_.size || buffer.empty()) return std::size_t{0};
  if (!in_window(offset)) {
    take_ahead(offset);
    if (!in_window(offset)) {
      auto got = fetch(offset, window_, interrupt_);
      if (!got) return got.error();
      window_at_ = offset;
      window_len_ = *got;
    }
  }
  auto from = static_cast<std::size_t>(offset - window_at_);
  auto n = std::min(buffer.size(), window_len_ - from);
  std::memcpy(buffer.data(), window_.data() + from, n);
  // Reading on into the window's second half: the next window is fetched meanwhile.
  if (from + n > window_len_ / 2) start_ahead();
  return n;
}

bool s3_source::in_window(std::int64_t offset) const noexcept {
  return offset >= window_at_ && offset < window_at_ + static_cast<std::int64_t>(window_len_);
}

void s3_source::start_ahead() {
  const std::int64_t next = window_at_ + static_cast<std::int64_t>(window_len_);
  if (ahead_.valid() || next >= info_.size) return;
  if (ahead_buffer_.empty()) ahead_buffer_.resize(window_.size());
  ahead_at_ = next;
  ahead_ =
      std::async(std::launch::async, [this, next, check = interrupt_] { return fetch(next, ahead_buffer_, check); });
}

void s3_source::take_ahead(std::int64_t offset) {
  if (!ahead_.valid()) return;
  auto got = ahead_.get();
  const bool wanted = offset >= ahead_at_ && got && offset < ahead_at_ + static_cast<std::int64_t>(*got);
  // A jump elsewhere drops the fetched window, and a failure too: the read that needs those bytes
  // asks again, and reports what happens then.
  if (!wanted) return;
  std::swap(window_, ahead_buffer_);
  window_at_ = ahead_at_;
  window_len_ = *got;
}

result<std::size_t> s3_source::fetch(std::int64_t offset, std::vector<std::byte>& into,
                                     const io::interrupt_check& interrupt) {
  const auto want =
      static_cast<std::size_t>(std::min<std::int64_t>(static_cast<std::int64_t>(into.size()), info_.size - offset));
  std::size_t got = 0;
  bool overflow = false;
  body_writer w = [&](std::span<const std::byte> chunk) -> error {
    // A server that ignores Range sends more than asked: stop it there, never hold the object.
    if (got + chunk.size() > want) {
      overflow = true;
      return error(errc::input_unreadable, "the server sent more of " + name() + " than was asked");
    }
    std::memcpy(into.data() + got, chunk.data(), chunk.size());
    got += chunk.size();
    return {};
  };
  // A connection cut mid-body is not retried by the service client (part of the body was taken):
  // the rest of the range is asked for again, a few times.
  constexpr int resumes = 3;
  result<http_response> r = error(errc::internal, "no GET was sent");
  std::int64_t from = offset;
  for (int resumed = 0;; ++resumed) {
    from = offset + static_cast<std::int64_t>(got);
    http_request rq;
    rq.url = client_->url(where_.bucket, where_.key);
    rq.headers.push_back({"Range", "bytes=" + std::to_string(from) + "-" +
                                       std::to_string(offset + static_cast<std::int64_t>(want) - 1)});
    if (!info_.etag.empty()) rq.headers.push_back({"If-Match", info_.etag});
    ++gets_;
    const std::size_t before = got;
    r = client_->service().call(rq, {}, w, interrupt);
    if (r || overflow || r.error().code != errc::network || got == before || got == want || resumed == resumes) break;
  }
  auto largest = largest_body_.load();
  while (static_cast<std::int64_t>(got) > largest &&
         !largest_body_.compare_exchange_weak(largest, static_cast<std::int64_t>(got))) {
  }
  if (overflow) return error(errc::input_unreadable, "the server ignored the Range asked of " + name());
  if (!r) {
    auto e = r.error();
    if (e.code == errc::network) e.message = "GET " + name() + ": " + e.what();
    return e;
  }
  if (r->status == 412) return error(errc::input_unreadable, name() + " changed while it was being read");
  if (r->status == 404) return error(errc::input_unreadable, name() + " is gone");
  if (r->status / 100 != 2) return to_error(parse_service_error(*r), "GET " + name());
  if (r->status == 200 && from != 0)
    return error(errc::input_unreadable, "the server ignored the Range asked of " + name());
  if (got != want) return error(errc::input_truncated, "a range of " + name() + " came back short");
  return got;
}

result<std::unique_ptr<s3_source>> open_s3_source(std::shared_ptr<s3_client> client, std::string_view path,
                                                  const input_policy& policy, const io::interrupt_check& interrupt) {
  auto where = split_path(path);
  if (!where) return where.error();
  const std::string name = s3_name(where->bucket, where->key);
  if (where->key.empty()) return error(errc::invalid_argument, name + " names no object");
  if (!s3_input_allowed(policy, where->bucket, where->key))
    return error(errc::protocol_not_allowed, name + " is not under an allowed S3 prefix (input_policy::s3_prefixes)");
  if (interrupt)
    if (auto ec = interrupt()) return error(ec, "stopped opening " + name);
  auto info = client->head(where->bucket, where->key);
  if (!info) return info.error();
  if (!*info) return error(errc::input_unreadable, name + " does not exist");
  if ((*info)->size < 0) return error(errc::input_unreadable, "no size was given for " + name);
  return std::make_unique<s3_source>(std::move(client), *std::move(where), **std::move(info));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
