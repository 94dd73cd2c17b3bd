#include "support/loopback_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <exception>
#include <thread>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::string server_request::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) return v;
  return {};
}

bool server_request::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return iequals(h.first, name); });
}

struct loopback_server::impl {
  server_handler handler;
  asio::io_context ioc;
  tcp::acceptor acceptor{ioc};
  std::uint16_t port = 0;
  std::atomic<int> requests{0};
  std::thread thread;

  asio::awaitable<void> accept_loop() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(ioc, session(std::move(socket)), asio::detached);
    }
  }

  server_response answer(const server_request& req) {
    try {
      return handler(req);
    } catch (const std::exception& e) {
      return {500, {}, std::string("handler threw: ") + e.what()};
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    boost::system::error_code ec;
    boost::beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> raw;
      co_await http::async_read(socket, buffer, raw, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      ++requests;
      server_request req;
      req.method = std::string(raw.method_string());
      req.target = std::string(raw.target());
      for (const auto& f : raw) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      req.body = raw.body();
      auto res = answer(req);
      if (res.then == server_response::action::reset) {
        socket.set_option(asio::socket_base::linger(true, 0), ec);
        socket.close(ec);
        co_return;
      }
      if (res.then == server_response::action::stall) {
        asio::steady_timer forever(ioc, std::chrono::hours(1));
        co_await forever.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      http::response<http::string_body> out{static_cast<http::status>(res.status), 11};
      for (const auto& [n, v] : res.headers) out.set(n, v);
      out.body() = std::move(res.body);
      out.prepare_payload();
      out.keep_alive(raw.keep_alive());
      co_await http::async_write(socket, out, asio::redirect_error(asio::use_awaitable, ec));
      if (ec || !raw.keep_alive()) co_return;
    }
  }
};

loopback_server::loopback_server(server_handler handler) : impl_(std::make_unique<impl>()) {
  auto& s = *impl_;
  s.handler = std::move(handler);
  tcp::endpoint local(asio::ip::make_address("127.0.0.1"), 0);
  s.acceptor.open(local.protocol());
  s.acceptor.bind(local);
  s.acceptor.listen();
  s.port = s.acceptor.local_endpoint().port();
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  s.thread = std::thread([&s] { s.ioc.run(); });
}

loopback_server::~loopback_server() {
  impl_->ioc.stop();
  impl_->thread.join();
}

std::uint16_t loopback_server::port() const noexcept { return impl_->port; }

std::string loopback_server::url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(impl_->port) + std::string(path);
}

int loopback_server::requests() const noexcept { return impl_->requests; }

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
