#pragma once
// The portal's HTTP side: one coroutine per connection reads a request's header, routes it, and lets
// the route read the body in the way it needs (uploads stream to disk; JSON bodies are small and
// capped). Each connection runs on a strand of its own.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace portal {

class service;

namespace http = boost::beast::http;

/// One request in progress on a connection.
struct exchange {
  boost::beast::tcp_stream& stream;
  boost::beast::flat_buffer& buffer;
  http::request_parser<http::empty_body>& parser;
  service& app;
  /// A copy of the request's header: routes that read a body move the parser on.
  http::request<http::empty_body> head;
  std::string route = "other";  ///< the metrics label
  unsigned status = 0;          ///< what was answered
  bool keep_alive = true;       ///< false when the route used the connection up (events)
  bool body_read = false;       ///< the route read the request's body; otherwise the connection closes

  const http::request<http::empty_body>& header() const { return head; }
};

boost::asio::awaitable<void> serve_connection(boost::asio::ip::tcp::socket socket, service& app);

// Answers (each writes the whole response and records the status).
boost::asio::awaitable<void> send_text(exchange& x, http::status status, std::string_view content_type,
                                       std::string body, std::string_view cache_control = "no-store");
boost::asio::awaitable<void> send_json(exchange& x, http::status status, const boost::json::value& body);
/// {"error":{"code","message"}}
boost::asio::awaitable<void> send_error(exchange& x, http::status status, std::string_view code,
                                        std::string_view message);

// The routes.
boost::asio::awaitable<void> handle_api(exchange& x, std::string_view path, std::string_view query);
boost::asio::awaitable<void> handle_upload(exchange& x, std::string_view id, std::string_view query);
boost::asio::awaitable<void> handle_events(exchange& x, std::string_view id);
/// GET/HEAD of a file: `range` and conditional requests honoured, at most 64 KiB in memory.
boost::asio::awaitable<void> send_file(exchange& x, const std::string& path, std::string_view content_type,
                                       std::string_view cache_control);
boost::asio::awaitable<void> handle_static(exchange& x, std::string_view path, std::string_view query);
boost::asio::awaitable<void> handle_package(exchange& x, std::string_view id, std::string_view rest);

/// The value of `name` in a query string ("a=1&b=2"), percent-decoded; empty when absent.
std::string query_param(std::string_view query, std::string_view name);

}  // namespace portal
