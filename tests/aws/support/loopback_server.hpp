#pragma once
// A small HTTP/1.1 server for tests of clients of plain-http services (instance metadata, container
// credentials, fake AWS endpoints): Beast on its own thread, bound to 127.0.0.1 on a kernel-chosen
// port, answering every request with what `handler` returns (the handler runs on the server's
// thread, one request at a time). A response can also reset the connection or stall. The server
// counts requests and stops when destroyed.
#include <spool/version.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

struct server_request {
  std::string method;  ///< "GET", "PUT", ...
  std::string target;  ///< path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The first header named `name` (case-insensitive); empty when absent.
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

struct server_response {
  enum class action {
    answer,  ///< send status, headers and body
    reset,   ///< close the connection at once with a TCP reset, answering nothing
    stall,   ///< keep the connection open and never answer (until the server stops)
  };
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  action then = action::answer;
};

using server_handler = std::function<server_response(const server_request&)>;

class loopback_server {
 public:
  /// Binds and starts serving; throws when it cannot bind.
  explicit loopback_server(server_handler handler);
  /// Stops the server (stalled connections included) and joins its thread.
  ~loopback_server();
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const noexcept;
  /// "http://127.0.0.1:PORT" + path.
  std::string url(std::string_view path = "") const;
  /// Requests read so far.
  int requests() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
