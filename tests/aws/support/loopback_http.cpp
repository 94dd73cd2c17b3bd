#include "support/loopback_http.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <strings.h>

#include <exception>
#include <stdexcept>
#include <utility>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string loopback_response::header(const std::string& name) const {
  for (const auto& [n, v] : headers)
    if (::strcasecmp(n.c_str(), name.c_str()) == 0) return v;
  return {};
}

loopback_response loopback_http(std::uint16_t port, const loopback_request& request,
                                std::chrono::milliseconds timeout) {
  asio::io_context ioc;
  loopback_response out;
  std::exception_ptr failure;
  auto exchange = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(ioc);
    stream.expires_after(timeout);
    co_await stream.async_connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), port), asio::use_awaitable);
    http::request<http::string_body> req(http::string_to_verb(request.method), request.target, 11);
    bool has_host = false;
    for (const auto& [name, value] : request.headers) {
      req.insert(name, value);
      has_host = has_host || ::strcasecmp(name.c_str(), "host") == 0;
    }
    if (!has_host) req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
    req.body() = request.body;
    if (!request.body.empty() || request.method == "POST" || request.method == "PUT") req.prepare_payload();
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64ULL * 1024 * 1024);
    if (request.method == "HEAD") parser.skip(true);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    const auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (const auto& field : res)
      out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    out.body = res.body();
  };
  asio::co_spawn(ioc, exchange(), [&](std::exception_ptr e) { failure = std::move(e); });
  ioc.run();
  if (failure) {
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& e) {
      throw std::runtime_error(request.method + " " + request.target + " to 127.0.0.1:" + std::to_string(port) +
                               " failed: " + e.what());
    }
  }
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
