#pragma once
// Internal: the one HTTP(S) client every AWS service call goes through. Blocking, thread-safe, on
// Beast: idle connections are kept per host and reused, TLS verifies the peer against the system's
// certificate store (or a CA file), and bodies can be streamed both ways so media never sits in
// memory whole. It sends one request per call and never retries: aws::service_client does that.
#include <spool/error.hpp>
#include <spool/io.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

struct http_header {
  std::string name;
  std::string value;
};
using http_headers = std::vector<http_header>;

/// The value of the first header named `name` (case-insensitive), or an empty view.
std::string_view find_header(const http_headers& headers, std::string_view name) noexcept;
/// Replaces (or adds) the header named `name`.
void set_header(http_headers& headers, std::string_view name, std::string value);

/// Gives a streamed request body: fills `buffer` and returns the count, 0 at the end. Called again
/// from the start (after rewind) when a request is retried.
struct body_reader {
  std::int64_t length = 0;  ///< exact size; sent as Content-Length
  std::function<result<std::size_t>(std::span<std::byte> buffer)> read;
  std::function<error()> rewind;
};

struct http_request {
  std::string method = "GET";
  /// "https://host[:port]/path?query": path and query exactly as they go on the wire (encoded).
  std::string url;
  http_headers headers;
  std::string body;                     ///< a small body (JSON, XML); ignored when `stream` is set
  std::shared_ptr<body_reader> stream;  ///< a large body, streamed
};

struct http_response {
  int status = 0;
  http_headers headers;
  std::string body;  ///< empty when the body went to a body_writer
};

/// Takes a response body as it arrives, chunk by chunk; an error stops the transfer.
using body_writer = std::function<error(std::span<const std::byte> chunk)>;

struct http_options {
  std::string ca_file;  ///< PEM bundle trusted instead of the system store (tests)
  std::chrono::milliseconds connect_timeout{10'000};
  /// No byte sent or received for this long fails the request (errc::network). Longer than SQS's
  /// 20 s long poll.
  std::chrono::milliseconds idle_timeout{40'000};
  std::size_t max_idle_connections_per_host = 16;
};

class http_client {
 public:
  explicit http_client(http_options options = {});
  ~http_client();
  http_client(const http_client&) = delete;
  http_client& operator=(const http_client&) = delete;

  /// Sends `request` and reads the whole response (any status; only transport failures are errors:
  /// errc::network for refused, reset, timed-out or cut connections, errc::invalid_argument for a
  /// malformed URL, errc::cancelled / deadline_exceeded from `interrupt`). A 2xx body goes to
  /// `writer` when one is given; other statuses' bodies are always read into the response.
  result<http_response> send(const http_request& request, const body_writer& writer = {},
                             const io::interrupt_check& interrupt = {});

  /// Connections opened so far (for tests of reuse).
  int connections_opened() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// `url` without its query string and user info, for messages (presigned URLs carry credentials).
std::string redact(std::string_view url);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
