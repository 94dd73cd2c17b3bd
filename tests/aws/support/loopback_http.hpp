#pragma once
// One plain HTTP/1.1 exchange with a server on 127.0.0.1, for tests that check an emulator or a fake
// without going through spool's own client. Every exchange has a deadline.
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

struct loopback_request {
  std::string method = "GET";
  std::string target = "/";  ///< path and query as sent
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct loopback_response {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// The first header named `name` (case-insensitive), or "".
  std::string header(const std::string& name) const;
};

/// Sends `request` to 127.0.0.1:`port` (Host 127.0.0.1:PORT unless given) on a new connection and
/// reads the answer. Throws std::runtime_error on a transport failure or after `timeout`.
loopback_response loopback_http(std::uint16_t port, const loopback_request& request,
                                std::chrono::milliseconds timeout = std::chrono::seconds(10));

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
