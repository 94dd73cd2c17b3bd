#include "tls_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

std::int64_t range_start(const std::string& header) {
  constexpr std::string_view prefix = "bytes=";
  if (header.compare(0, prefix.size(), prefix) != 0) return -1;
  std::int64_t start = -1;
  const char* first = header.data() + prefix.size();
  auto [end, err] = std::from_chars(first, header.data() + header.size(), start);
  if (err != std::errc{} || end == first || *end != '-') return -1;
  return start;
}

struct tls_server::impl {
  tls_server_options options;
  std::string body;
  // Declared before the io_context: pending sessions (destroyed with it) hold streams on this context.
  ssl::context tls{ssl::context::tls_server};
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  std::thread thread;

  std::atomic<int> connections{0}, handshakes{0}, requests{0}, media_responses{0};
  std::atomic<std::int64_t> body_bytes{0};
  mutable std::mutex mutex;
  std::vector<std::string> targets, ranges;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++connections;
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    boost::system::error_code ec;
    if (options.stall) {  // hold the connection open, silent, until the server stops
      asio::steady_timer forever(ioc, std::chrono::hours(1));
      co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      co_return;
    }
    ssl::stream<tcp::socket> stream(std::move(socket), tls);
    co_await stream.async_handshake(ssl::stream_base::server, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;
    ++handshakes;
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::empty_body> req;
      co_await http::async_read(stream, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++requests;
      std::string range(req[http::field::range]);
      {
        std::lock_guard lock(mutex);
        targets.emplace_back(req.target());
        ranges.push_back(range);
      }
      if (!options.redirect_to.empty() || options.status != 0) {
        http::response<http::string_body> res{
            options.redirect_to.empty() ? static_cast<http::status>(options.status) : http::status::found, 11};
        if (!options.redirect_to.empty()) res.set(http::field::location, options.redirect_to);
        res.body() = "not the media\n";
        res.prepare_payload();
        res.keep_alive(req.keep_alive());
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !req.keep_alive()) co_return;
        continue;
      }

      const auto size = static_cast<std::int64_t>(body.size());
      std::int64_t start = options.ranges ? range_start(range) : -1;
      http::response<http::empty_body> res{http::status::ok, 11};
      res.set(http::field::content_type, "application/octet-stream");
      if (options.ranges) res.set(http::field::accept_ranges, "bytes");
      std::int64_t from = 0, length = size;
      if (start >= size) {
        res.result(http::status::range_not_satisfiable);
        res.set(http::field::content_range, "bytes */" + std::to_string(size));
        length = 0;
      } else if (start >= 0) {
        res.result(http::status::partial_content);
        res.set(http::field::content_range,
                "bytes " + std::to_string(start) + "-" + std::to_string(size - 1) + "/" + std::to_string(size));
        from = start;
        length = size - start;
      }
      res.content_length(static_cast<std::uint64_t>(length));  // never negative: start < size
      res.keep_alive(req.keep_alive());
      http::response_serializer<http::empty_body> header(res);
      co_await http::async_write_header(stream, header, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      std::int64_t send = options.cut_after >= 0 ? std::min(length, options.cut_after) : length;
      if (send > 0) {
        ++media_responses;
        co_await asio::async_write(stream, asio::buffer(body.data() + from, static_cast<std::size_t>(send)),
                                   asio::redirect_error(asio::use_awaitable, ec));
        body_bytes += send;
        if (ec) co_return;
      }
      if (send < length || !req.keep_alive()) co_return;  // the stream closes with the frame
    }
  }
};

tls_server::tls_server(tls_server_options options) : impl_(std::make_unique<impl>()) {
  auto& s = *impl_;
  s.options = std::move(options);
  if (!s.options.body_file.empty()) {
    std::ifstream in(s.options.body_file, std::ios::binary);
    if (!in) throw std::runtime_error("tls_server: cannot read " + s.options.body_file.string());
    std::ostringstream all;
    all << in.rdbuf();
    s.body = all.str();
  }
  s.tls.use_certificate_chain_file(s.options.cert_file.string());
  s.tls.use_private_key_file(s.options.key_file.string(), ssl::context::pem);
  tcp::endpoint local(asio::ip::make_address("127.0.0.1"), 0);
  s.acceptor.open(local.protocol());
  s.acceptor.set_option(tcp::acceptor::reuse_address(true));
  s.acceptor.bind(local);
  s.acceptor.listen();
  s.port = s.acceptor.local_endpoint().port();
  if (auto at = s.options.redirect_to.find("{port}"); at != std::string::npos)
    s.options.redirect_to.replace(at, 6, std::to_string(s.port));
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  s.thread = std::thread([&s] { s.ioc.run(); });
}

tls_server::~tls_server() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::uint16_t tls_server::port() const noexcept { return impl_->port; }

std::string tls_server::url(const std::string& host, const std::string& path_and_query) const {
  return "https://" + host + ":" + std::to_string(port()) + path_and_query;
}

int tls_server::connections() const noexcept { return impl_->connections; }
int tls_server::handshakes() const noexcept { return impl_->handshakes; }
int tls_server::requests() const noexcept { return impl_->requests; }
int tls_server::media_responses() const noexcept { return impl_->media_responses; }
std::int64_t tls_server::body_bytes() const noexcept { return impl_->body_bytes; }

std::vector<std::string> tls_server::targets() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->targets;
}

std::vector<std::string> tls_server::range_headers() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->ranges;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
