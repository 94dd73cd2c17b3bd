#pragma once
// A small HTTPS server for the https input tests: Beast over OpenSSL, bound to 127.0.0.1 on a
// kernel-chosen port, running on its own thread until the object is destroyed. It serves one file
// (for any path) with or without Range support, or misbehaves on request, and counts what it saw.
#include <spool/version.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

struct tls_server_options {
  std::filesystem::path cert_file, key_file;  ///< PEM certificate (chain) and private key
  std::filesystem::path body_file;            ///< served for every GET
  bool ranges = true;                         ///< false: ignore Range, always 200 with the whole file
  bool stall = false;                         ///< accept connections and never answer (not even TLS)
  int status = 0;                             ///< non-zero: answer every request with this status
  std::string redirect_to;                    ///< non-empty: answer every request with 302 to this URL;
                                              ///< "{port}" in it becomes the server's own port
  std::int64_t cut_after = -1;                ///< >= 0: close the connection after this many body bytes
};

class tls_server {
 public:
  /// Binds and starts serving. Throws on failure (bad certificate, no port).
  explicit tls_server(tls_server_options options);
  /// Stops the server and joins its thread.
  ~tls_server();
  tls_server(const tls_server&) = delete;
  tls_server& operator=(const tls_server&) = delete;

  std::uint16_t port() const noexcept;
  /// "https://HOST:PORT" + path_and_query.
  std::string url(const std::string& host, const std::string& path_and_query = "/input") const;

  int connections() const noexcept;          ///< TCP connections accepted
  int handshakes() const noexcept;           ///< TLS handshakes completed
  int requests() const noexcept;             ///< HTTP requests read
  int media_responses() const noexcept;      ///< responses that carried bytes of the file
  std::int64_t body_bytes() const noexcept;  ///< bytes of the file sent, over all responses
  /// Each request's target and Range header ("" when absent), in arrival order.
  std::vector<std::string> targets() const;
  std::vector<std::string> range_headers() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// The first byte a "bytes=N-" or "bytes=N-M" header asks for, or -1.
std::int64_t range_start(const std::string& header);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
