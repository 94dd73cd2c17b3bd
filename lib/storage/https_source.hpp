#pragma once
// Internal: a blocking reader of one https:// resource, independent of FFmpeg. It verifies the
// server's certificate, refuses internal addresses and unlisted redirect targets, seeks with HTTP
// Range requests and streams bodies (nothing is held in memory beyond a small buffer).
#include <spool/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {

struct https_settings {
  std::vector<std::string> allowed_hosts;         ///< exact, case-insensitive host names (or IP literals)
  bool allow_private_addresses = false;           ///< loopback, private, link-local, ... (see address_policy.hpp)
  std::string ca_file;                            ///< PEM bundle trusted instead of the system store
  int max_redirects = 3;                          ///< per request; 0 refuses every redirect
  std::chrono::milliseconds idle_timeout{30000};  ///< no progress for this long is errc::network
  /// Asked between short waits; a non-empty code (cancelled, deadline_exceeded) stops at once.
  std::function<error_code()> should_stop;
};

/// Reads one https:// URL. Not thread-safe: one thread at a time. Errors are sticky: after the first
/// failure every call fails with the same error() and detail(). Never throws for network reasons.
class https_source {
 public:
  https_source(std::string url, https_settings settings);
  ~https_source();
  https_source(const https_source&) = delete;
  https_source& operator=(const https_source&) = delete;

  /// Connects and requests the resource from its first byte; false on failure (see error()).
  bool open();
  /// Replaces what waits ask (https_settings::should_stop), e.g. once the engine has its deadline.
  void set_should_stop(std::function<error_code()> check);

  /// Total size in bytes, or -1 when the server did not say.
  std::int64_t size() const noexcept;
  /// Whether the server honours Range requests (answered the first one with 206).
  bool seekable() const noexcept;
  /// Where the next read() starts.
  std::int64_t position() const noexcept;

  /// Reads up to `buffer.size()` bytes at position(): the count, 0 at the end, -1 on failure.
  std::int64_t read(std::span<std::uint8_t> buffer);
  /// seek(offset), then read(buffer).
  std::int64_t read_at(std::int64_t offset, std::span<std::uint8_t> buffer);
  /// Moves position(). Cheap: the request it needs is sent by the next read. On a server that ignores
  /// Range, a move backwards fails (errc::feature_unsupported) and a move forwards discards bytes.
  bool seek(std::int64_t offset);

  const error_code& error() const noexcept;
  /// The failure in words, naming the URL without its query string.
  const std::string& detail() const noexcept;

  /// Connections opened and requests sent so far.
  int connections() const noexcept;
  int requests() const noexcept;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

/// "https://host[:port]/path": `url` as it may appear in messages and logs, without user info, query
/// or fragment (presigned URLs carry their credentials in the query).
std::string redact_url(std::string_view url);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
