#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/serialize.hpp>

#include <array>
#include <chrono>

#include "http.hpp"
#include "service.hpp"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace json = boost::json;

namespace portal {

namespace {

constexpr auto header_timeout = std::chrono::seconds(30);
constexpr std::size_t header_limit = 16 * 1024;
constexpr auto linger_timeout = std::chrono::seconds(2);
constexpr std::size_t linger_bytes = 1 << 20;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

asio::awaitable<void> route(exchange& x) {
  const std::string_view target = x.header().target();
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);

  if (path.starts_with("/uploads/")) {
    x.route = "upload";
    co_return co_await handle_upload(x, path.substr(9), query);
  }
  if (path.starts_with("/videos/")) {
    const std::string_view rest = path.substr(8);
    const auto slash = rest.find('/');
    const std::string_view id = rest.substr(0, slash);
    const std::string_view tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
    if (tail == "/events") {
      x.route = "events";
      co_return co_await handle_events(x, id);
    }
    if (tail.starts_with("/package/")) {
      x.route = "package";
      co_return co_await handle_package(x, id, tail.substr(9));
    }
  }
  if (path == "/videos" || path.starts_with("/videos/") || path == "/healthz" || path == "/metrics")
    co_return co_await handle_api(x, path, query);
  co_return co_await handle_static(x, path, query);
}

}  // namespace

std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) != name) continue;
    const std::string_view raw = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    std::string out;
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '%' && i + 2 < raw.size() && hex_value(raw[i + 1]) >= 0 && hex_value(raw[i + 2]) >= 0) {
        out += static_cast<char>(hex_value(raw[i + 1]) * 16 + hex_value(raw[i + 2]));
        i += 2;
      } else {
        out += raw[i] == '+' ? ' ' : raw[i];
      }
    }
    return out;
  }
  return {};
}

asio::awaitable<void> send_text(exchange& x, http::status status, std::string_view content_type, std::string body,
                                std::string_view cache_control) {
  http::response<http::string_body> res{status, x.header().version()};
  res.set(http::field::server, "lecture-portal");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, cache_control);
  res.set("X-Content-Type-Options", "nosniff");
  res.keep_alive(x.keep_alive && x.header().keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  if (x.header().method() == http::verb::head) res.body().clear();  // Content-Length stays the GET's
  x.status = static_cast<unsigned>(status);
  x.stream.expires_after(header_timeout);
  co_await http::async_write(x.stream, res, asio::as_tuple(asio::use_awaitable));
}

asio::awaitable<void> send_json(exchange& x, http::status status, const json::value& body) {
  co_await send_text(x, status, "application/json", json::serialize(body) + "\n");
}

asio::awaitable<void> send_error(exchange& x, http::status status, std::string_view code, std::string_view message) {
  // Built before the co_await: GCC 12 cannot keep an initializer list's array alive across one.
  const json::value body = json::object{{"error", {{"code", code}, {"message", message}}}};
  co_await send_json(x, status, body);
}

asio::awaitable<void> serve_connection(asio::ip::tcp::socket socket, service& app) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::empty_body> parser;
    parser.header_limit(header_limit);
    parser.body_limit(boost::none);  // each route sets its own before it reads a body
    stream.expires_after(header_timeout);
    auto [ec, n] = co_await http::async_read_header(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::eof &&
          ec != asio::error::connection_reset && ec != asio::error::operation_aborted) {
        exchange bad{stream, buffer, parser, app, parser.get()};
        bad.keep_alive = false;
        co_await send_error(bad, http::status::bad_request, "bad_request", "the request is not valid HTTP/1.1");
      }
      break;
    }
    const auto started = std::chrono::steady_clock::now();
    exchange x{stream, buffer, parser, app, parser.get()};
    const bool has_body = !parser.is_done();
    co_await route(x);
    app.stats().observe_request(x.route, x.status,
                                std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    if (!x.keep_alive || !x.head.keep_alive() || (has_body && !x.body_read) || !stream.socket().is_open()) break;
  }
  // A lingering close: after an answer given before the body was read (a refused upload), closing
  // with the body still arriving would reset the connection and the client could lose the answer.
  // Say we are done, then read and drop what is still coming, for a bounded time and amount.
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  std::array<char, 16 * 1024> sink;
  std::size_t dropped = 0;
  stream.expires_after(linger_timeout);
  while (dropped < linger_bytes) {
    auto [ec, n] = co_await stream.async_read_some(asio::buffer(sink), asio::as_tuple(asio::use_awaitable));
    if (ec) break;
    dropped += n;
  }
  stream.close();
}

}  // namespace portal
