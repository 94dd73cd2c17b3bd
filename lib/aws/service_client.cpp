// Signed, retrying calls to one AWS service.
#include "aws/service_client.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <random>
#include <thread>

#include "aws/xml_text.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

using namespace std::chrono_literals;

bool one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

bool throttling(std::string_view code) {
  return one_of(code, {"Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
                       "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
                       "BandwidthLimitExceeded", "LimitExceededException", "RequestThrottled", "SlowDown",
                       "PriorRequestNotComplete", "EC2ThrottledException"});
}

bool skewed(const service_error& e) {
  return one_of(e.code, {"RequestTimeTooSkewed", "RequestExpired", "RequestInTheFuture"}) ||
         (e.code == "InvalidSignatureException" && e.message.find("Signature expired") != std::string::npos);
}

bool refused_credentials(std::string_view code) {
  return one_of(code, {"InvalidClientTokenId", "InvalidAccessKeyId", "UnrecognizedClientException", "ExpiredToken",
                       "ExpiredTokenException", "InvalidToken", "MissingAuthenticationToken",
                       "MissingAuthenticationTokenException", "SignatureDoesNotMatch", "IncompleteSignature",
                       "InvalidSecurity", "AuthFailure"});
}

bool denied(std::string_view code) {
  return one_of(code, {"AccessDenied", "AccessDeniedException", "AuthorizationError", "UnauthorizedOperation",
                       "Forbidden", "AllAccessDisabled", "KMS.AccessDeniedException"});
}

bool retryable(const service_error& e) {
  return e.status >= 500 || e.status == 429 || throttling(e.code) ||
         one_of(e.code, {"RequestTimeout", "RequestTimeoutException", "InternalError", "ServiceUnavailable"});
}

// A JSON string member's value, unescaped enough for messages (errors are flat objects).
std::string json_member(std::string_view body, std::string_view name) {
  std::string key = "\"" + std::string(name) + "\"";
  auto k = body.find(key);
  if (k == std::string_view::npos) return {};
  auto colon = body.find(':', k + key.size());
  if (colon == std::string_view::npos) return {};
  auto q = body.find('"', colon);
  if (q == std::string_view::npos) return {};
  std::string out;
  for (auto i = q + 1; i < body.size(); ++i) {
    if (body[i] == '\\' && i + 1 < body.size()) {
      out += body[++i];
    } else if (body[i] == '"') {
      return out;
    } else {
      out += body[i];
    }
  }
  return {};
}

// RFC 1123 ("Sun, 06 Nov 1994 08:49:37 GMT"), as servers send Date.
std::optional<wall_clock::time_point> parse_http_date(std::string_view v) {
  std::tm tm{};
  std::string s(v);
  if (!strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S", &tm)) return std::nullopt;
  return wall_clock::from_time_t(timegm(&tm));
}

}  // namespace

service_error parse_service_error(const http_response& response) {
  service_error e;
  e.status = response.status;
  std::string_view body = response.body;
  auto first = body.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && body[first] == '{') {
    e.code = json_member(body, "__type");
    if (e.code.empty()) e.code = json_member(body, "code");
    e.message = json_member(body, "message");
    if (e.message.empty()) e.message = json_member(body, "Message");
  } else if (first != std::string_view::npos && body[first] == '<') {
    e.code = xml_text(body, "Code").value_or("");
    e.message = xml_text(body, "Message").value_or("");
  }
  // "com.amazonaws.sqs#QueueDoesNotExist", "QueueDoesNotExist:http://..." -> "QueueDoesNotExist"
  if (auto hash = e.code.rfind('#'); hash != std::string::npos) e.code.erase(0, hash + 1);
  if (auto colon = e.code.find(':'); colon != std::string::npos) e.code.resize(colon);
  if (auto amzn = find_header(response.headers, "x-amzn-ErrorType"); e.code.empty() && !amzn.empty())
    e.code = std::string(amzn.substr(0, amzn.find(':')));
  if (e.code.empty()) {
    if (e.status == 403) e.code = "AccessDenied";
    if (e.status == 404) e.code = "NotFound";
    if (e.status == 503) e.code = "ServiceUnavailable";
  }
  return e;
}

error to_error(const service_error& e, std::string_view what) {
  std::string text = std::string(what) + ": " + (e.code.empty() ? std::string("error") : e.code) + " (HTTP " +
                     std::to_string(e.status) + ")" + (e.message.empty() ? "" : ": " + e.message);
  if (denied(e.code)) return {errc::access_denied, text};
  if (refused_credentials(e.code)) return {errc::no_credentials, text};
  if (throttling(e.code) || e.status == 429) return {errc::throttled, text};
  if (retryable(e)) return {errc::network, text};
  return {errc::invalid_argument, text};
}

service_client::service_client(service_options options, std::shared_ptr<credentials_provider> creds)
    : options_(std::move(options)), creds_(std::move(creds)), http_(options_.http), budget_(options_.retry.budget) {}

result<http_response> service_client::call(const http_request& request, std::string payload_hash,
                                           const body_writer& writer, const io::interrupt_check& interrupt) {
  if (payload_hash.empty()) payload_hash = sigv4::sha256_hex(request.body);
  thread_local std::minstd_rand jitter{std::random_device{}()};
  bool skew_fixed = false;
  bool wrote = false;
  body_writer counting;
  if (writer)
    counting = [&](std::span<const std::byte> chunk) {
      wrote = true;
      return writer(chunk);
    };
  for (int attempt = 1;; ++attempt) {
    auto creds = creds_->get();
    if (!creds) return creds.error();
    auto now = wall_clock::now() + clock_offset();
    http_request signed_request = request;
    sigv4::sign(signed_request, payload_hash, *creds, options_.where, now);
    auto r = http_.send(signed_request, counting, interrupt);

    if (r && r->status < 300) {
      if (attempt == 1 && budget_.load() < options_.retry.budget) ++budget_;
      return r;
    }
    if (r) {
      auto e = parse_service_error(*r);
      if (skewed(e) && !skew_fixed) {
        if (auto server = parse_http_date(find_header(r->headers, "Date"))) {
          auto offset = std::chrono::duration_cast<std::chrono::milliseconds>(*server - wall_clock::now());
          offset_ms_.store(offset.count());
          skew_fixed = true;
          --attempt;  // a corrected clock is not a retry
          continue;
        }
      }
      if (!retryable(e)) return r;
    } else {
      // Only transport failures are worth another attempt; a body half given to the writer is not.
      if (r.error().code != errc::network || wrote) return r;
    }
    if (attempt >= options_.retry.max_attempts || budget_.load() <= 0) return r;
    --budget_;
    auto ceiling = std::min<long long>(options_.retry.cap.count(),
                                       options_.retry.base.count() * (1LL << std::min(attempt - 1, 20)));
    std::uniform_int_distribution<long long> pick(0, std::max<long long>(ceiling, 0));
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(pick(jitter));
    while (std::chrono::steady_clock::now() < until) {
      if (interrupt)
        if (auto stop = interrupt()) return error(stop, stop == errc::cancelled ? "cancelled" : "the deadline passed");
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(20ms, until - std::chrono::steady_clock::now()));
    }
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
