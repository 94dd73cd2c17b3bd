#pragma once
// Internal: SQS over AWS JSON 1.0 — the requests spool sends and the answers it reads, without the
// network, so that encoding and decoding can be checked on their own.
#include <spool/error.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_client.hpp"
#include "aws/service_client.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {

namespace json = boost::json;

inline constexpr std::size_t max_batch_entries = 10;
inline constexpr std::size_t max_batch_payload = 1 << 20;  // bytes of bodies in one SendMessageBatch
inline constexpr std::int64_t max_visibility_s = 43'200;   // 12 hours
inline constexpr std::int64_t max_delay_s = 900;           // 15 minutes
inline constexpr std::int64_t max_wait_s = 20;

/// SQS counts whole seconds: a duration rounded up, so that a lease or delay is never shorter than asked.
std::int64_t whole_seconds(std::chrono::milliseconds d) noexcept;

/// POST / to `endpoint` with X-Amz-Target: AmazonSQS.<action> and the JSON body.
http_request make_request(std::string_view endpoint, std::string_view action, const json::object& body);

/// A received message: the system attributes (ApproximateReceiveCount, SentTimestamp, ...) and the
/// string message attributes.
struct message {
  std::string message_id;
  std::string receipt;
  std::string body;
  std::map<std::string, std::string, std::less<>> system;
  std::map<std::string, std::string, std::less<>> custom;
};

/// A ReceiveMessage request asking for every attribute.
json::object receive_request(std::string_view queue_url, std::size_t max_messages, std::int64_t wait_s,
                             std::int64_t visibility_s);

/// SQS carries text only: valid UTF-8 of #x9, #xA, #xD and #x20 and above, without surrogates or
/// U+FFFE/U+FFFF. Any other body travels as base64 with this message attribute saying so.
inline constexpr const char* attr_encoding = "spool.encoding";
bool is_sqs_text(std::string_view body) noexcept;
std::string base64_encode(std::string_view bytes);
bool base64_decode(std::string_view text, std::string& out);

/// One message to send: SendMessage's fields (without QueueUrl), or a SendMessageBatch entry with Id.
struct outgoing {
  std::string body;
  std::int64_t delay_s = 0;
  std::string group_id;  ///< FIFO only
  std::string dedup_id;  ///< FIFO only
  std::map<std::string, std::string> attributes;
};
json::object send_fields(const outgoing& m);
/// Sets m.body to `body`, as base64 (with attr_encoding) when it is not SQS text.
void set_body(outgoing& m, std::string_view body);
/// The body a received message carries, decoded.
std::string body_of(const message& m);

/// The messages of a ReceiveMessage answer.
result<std::vector<message>> parse_messages(const json::value& answer);

/// A batch call's answer: the successful entries by Id, and the failed ones by Id with their error.
struct batch_answer {
  std::map<std::string, json::object> successful;
  std::map<std::string, service_error> failed;
};
result<batch_answer> parse_batch(const json::value& answer);

/// The JSON of a 2xx answer (an empty body is an empty object).
result<json::value> parse_answer(const http_response& response, std::string_view what);

/// The error of a refused call, with the code bare ("QueueDoesNotExist", not "com.amazonaws.sqs#...")
/// and the query-compatible code (x-amzn-query-error) when the body has none.
service_error answer_error(const http_response& response);

/// The spool error for an SQS error: a missing queue is invalid_argument naming `queue`; on calls
/// that take a receipt, an invalid or expired receipt is lease_lost; the rest as aws::to_error.
error to_spool_error(const service_error& e, std::string_view what, std::string_view queue, bool takes_receipt);

/// "arn:aws:sqs:REGION:ACCOUNT:NAME"; false when `arn` is not an SQS queue ARN.
struct queue_arn {
  std::string region, account, name;
};
bool parse_queue_arn(std::string_view arn, queue_arn& out);

/// A string member of `o`, or empty.
std::string string_of(const json::object& o, std::string_view key);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
