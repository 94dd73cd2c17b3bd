#pragma once
// Internal: a signed, retrying client for one AWS service (SQS, S3, STS). Each attempt is signed
// afresh (credentials may have been refreshed, the clock corrected); throttling (ThrottlingException,
// RequestThrottled, SlowDown, 429, 503), 500s, resets and timeouts are retried with capped
// exponential backoff and full jitter, bounded by attempts and by a retry budget shared by every
// call of the client; a request refused as skewed (RequestTimeTooSkewed, "Signature expired") is
// re-signed once with the offset the server's Date header shows.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>
#include <spool/io.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "aws/http_client.hpp"
#include "aws/sigv4.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// An AWS error answer: the service's code ("ThrottlingException", "NoSuchKey", "AccessDenied") and
/// message, from a JSON 1.0 body (`__type`, `message`), an XML body (`<Code>`, `<Message>`), or the
/// status alone.
struct service_error {
  int status = 0;
  std::string code;
  std::string message;
};
service_error parse_service_error(const http_response& response);

/// The spool error for an AWS error answer: access_denied for AccessDenied and friends,
/// no_credentials for invalid or expired keys, throttled, network for 5xx, invalid_argument
/// otherwise; the message names `what` (an operation and a resource, never a secret) and the code.
error to_error(const service_error& e, std::string_view what);

struct retry_policy {
  int max_attempts = 5;                   ///< attempts per call, the first included
  std::chrono::milliseconds base{100};    ///< the first backoff's cap
  std::chrono::milliseconds cap{20'000};  ///< no backoff is longer
  int budget = 100;                       ///< retries the client may spend; refilled by successes
};

struct service_options {
  sigv4::scope where;
  std::string endpoint;  ///< "https://sqs.eu-west-1.amazonaws.com" (no trailing slash)
  retry_policy retry;
  http_options http;
};

class service_client {
 public:
  service_client(service_options options, std::shared_ptr<credentials_provider> creds);

  /// Signs and sends `request` (its url absolute, under the endpoint or a URL the service gave),
  /// retrying what may be retried. The answer is any final response (2xx, or an error the caller
  /// turns into its own words with parse_service_error / to_error); transport failures and retries
  /// used up are errors. `payload_hash` empty means: hash request.body (S3 streamed bodies pass
  /// sigv4::unsigned_payload).
  result<http_response> call(const http_request& request, std::string payload_hash = {}, const body_writer& writer = {},
                             const io::interrupt_check& interrupt = {});

  const service_options& options() const noexcept { return options_; }
  credentials_provider& credentials_source() const noexcept { return *creds_; }
  /// How far the server's clock is ahead of ours, as learnt from a skew refusal.
  std::chrono::milliseconds clock_offset() const noexcept { return std::chrono::milliseconds(offset_ms_.load()); }

 private:
  service_options options_;
  std::shared_ptr<credentials_provider> creds_;
  http_client http_;
  std::atomic<long long> offset_ms_{0};
  std::atomic<int> budget_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
