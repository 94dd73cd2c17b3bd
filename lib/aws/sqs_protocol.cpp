// SQS's JSON 1.0 requests and answers.
#include "aws/sqs_protocol.hpp"

#include <algorithm>
#include <array>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {
namespace {

bool contains(std::string_view text, std::string_view word) { return text.find(word) != std::string_view::npos; }

bool one_of(std::string_view code, std::initializer_list<std::string_view> codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

std::map<std::string, std::string, std::less<>> string_map(const json::value* v, bool message_attributes) {
  std::map<std::string, std::string, std::less<>> out;
  if (!v || !v->is_object()) return out;
  for (const auto& [k, val] : v->get_object()) {
    if (message_attributes) {
      // {"DataType":"String","StringValue":"..."}; binary attributes are not spool's.
      if (val.is_object()) out.emplace(std::string(k), string_of(val.get_object(), "StringValue"));
    } else if (val.is_string()) {
      out.emplace(std::string(k), std::string(val.get_string()));
    }
  }
  return out;
}

}  // namespace

std::string string_of(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end() || !it->value().is_string()) return {};
  return std::string(it->value().get_string());
}

std::int64_t whole_seconds(std::chrono::milliseconds d) noexcept {
  if (d.count() <= 0) return 0;
  return (d.count() + 999) / 1000;
}

http_request make_request(std::string_view endpoint, std::string_view action, const json::object& body) {
  http_request r;
  r.method = "POST";
  r.url = std::string(endpoint) + "/";
  r.headers.push_back({"Content-Type", "application/x-amz-json-1.0"});
  r.headers.push_back({"X-Amz-Target", "AmazonSQS." + std::string(action)});
  r.body = json::serialize(body);
  return r;
}

json::object receive_request(std::string_view queue_url, std::size_t max_messages, std::int64_t wait_s,
                             std::int64_t visibility_s) {
  json::object o;
  o["QueueUrl"] = queue_url;
  o["MaxNumberOfMessages"] = static_cast<std::int64_t>(std::clamp<std::size_t>(max_messages, 1, max_batch_entries));
  o["WaitTimeSeconds"] = std::clamp<std::int64_t>(wait_s, 0, max_wait_s);
  o["VisibilityTimeout"] = visibility_s;
  // Both names: MessageSystemAttributeNames is current, AttributeNames what older services know.
  o["MessageSystemAttributeNames"] = json::array{"All"};
  o["AttributeNames"] = json::array{"All"};
  o["MessageAttributeNames"] = json::array{"All"};
  return o;
}

json::object send_fields(const outgoing& m) {
  json::object o;
  o["MessageBody"] = m.body;
  if (m.delay_s > 0) o["DelaySeconds"] = m.delay_s;
  if (!m.group_id.empty()) o["MessageGroupId"] = m.group_id;
  if (!m.dedup_id.empty()) o["MessageDeduplicationId"] = m.dedup_id;
  if (!m.attributes.empty()) {
    json::object attrs;
    for (const auto& [k, v] : m.attributes) attrs[k] = json::object{{"DataType", "String"}, {"StringValue", v}};
    o["MessageAttributes"] = std::move(attrs);
  }
  return o;
}

bool is_sqs_text(std::string_view body) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(body.data());
  const auto* end = p + body.size();
  while (p < end) {
    unsigned c = *p;
    std::size_t n = c < 0x80 ? 0 : (c >> 5) == 0x6 ? 1 : (c >> 4) == 0xe ? 2 : (c >> 3) == 0x1e ? 3 : 4;
    if (n == 4 || static_cast<std::size_t>(end - p) < n + 1) return false;
    std::uint32_t cp = n == 0 ? c : n == 1 ? (c & 0x1f) : n == 2 ? (c & 0x0f) : (c & 0x07);
    for (std::size_t i = 1; i <= n; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    static constexpr std::uint32_t least[] = {0, 0x80, 0x800, 0x10000};
    if (cp < least[n]) return false;  // overlong
    bool ok = cp == 0x9 || cp == 0xa || cp == 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) ||
              (cp >= 0x10000 && cp <= 0x10ffff);
    if (!ok) return false;
    p += n + 1;
  }
  return true;
}

namespace {
constexpr char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    for (int s = 18; s >= 0; s -= 6) out.push_back(b64[(v >> s) & 0x3f]);
  }
  if (auto left = bytes.size() - i; left > 0) {
    std::uint32_t v = at(i) << 16 | (left == 2 ? at(i + 1) << 8 : 0);
    out.push_back(b64[(v >> 18) & 0x3f]);
    out.push_back(b64[(v >> 12) & 0x3f]);
    out.push_back(left == 2 ? b64[(v >> 6) & 0x3f] : '=');
    out.push_back('=');
  }
  return out;
}

bool base64_decode(std::string_view text, std::string& out) {
  if (text.size() % 4 != 0) return false;
  out.clear();
  out.reserve(text.size() / 4 * 3);
  auto value = [](char c) -> int {
    const char* p = std::char_traits<char>::find(b64, 64, c);
    return p ? static_cast<int>(p - b64) : -1;
  };
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int pad = last ? (text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (pad == 1 && text[i + 2] == '=') return false;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      int d = static_cast<int>(k) >= 4 - pad ? 0 : value(text[i + k]);
      if (d < 0) return false;
      v = v << 6 | static_cast<std::uint32_t>(d);
    }
    out.push_back(static_cast<char>(v >> 16));
    if (pad < 2) out.push_back(static_cast<char>((v >> 8) & 0xff));
    if (pad < 1) out.push_back(static_cast<char>(v & 0xff));
  }
  return true;
}

void set_body(outgoing& m, std::string_view body) {
  if (is_sqs_text(body)) {
    m.body = std::string(body);
    m.attributes.erase(attr_encoding);
  } else {
    m.body = base64_encode(body);
    m.attributes[attr_encoding] = "base64";
  }
}

std::string body_of(const message& m) {
  auto it = m.custom.find(attr_encoding);
  std::string out;
  if (it != m.custom.end() && it->second == "base64" && base64_decode(m.body, out)) return out;
  return m.body;
}

result<std::vector<message>> parse_messages(const json::value& answer) {
  std::vector<message> out;
  if (!answer.is_object()) return error{errc::network, "SQS ReceiveMessage answered something other than an object"};
  auto it = answer.get_object().find("Messages");
  if (it == answer.get_object().end() || it->value().is_null()) return out;
  if (!it->value().is_array()) return error{errc::network, "SQS ReceiveMessage answered Messages that is not a list"};
  for (const auto& v : it->value().get_array()) {
    if (!v.is_object()) return error{errc::network, "SQS ReceiveMessage answered a message that is not an object"};
    const auto& o = v.get_object();
    message m;
    m.message_id = string_of(o, "MessageId");
    m.receipt = string_of(o, "ReceiptHandle");
    m.body = string_of(o, "Body");
    if (m.message_id.empty() || m.receipt.empty())
      return error{errc::network, "SQS ReceiveMessage answered a message without MessageId or ReceiptHandle"};
    m.system = string_map(o.if_contains("Attributes"), false);
    m.custom = string_map(o.if_contains("MessageAttributes"), true);
    out.push_back(std::move(m));
  }
  return out;
}

result<batch_answer> parse_batch(const json::value& answer) {
  if (!answer.is_object()) return error{errc::network, "an SQS batch call answered something other than an object"};
  batch_answer out;
  const auto& o = answer.get_object();
  if (const auto* ok = o.if_contains("Successful"); ok && ok->is_array())
    for (const auto& e : ok->get_array())
      if (e.is_object()) out.successful.emplace(string_of(e.get_object(), "Id"), e.get_object());
  if (const auto* bad = o.if_contains("Failed"); bad && bad->is_array())
    for (const auto& e : bad->get_array()) {
      if (!e.is_object()) continue;
      const auto& f = e.get_object();
      out.failed.emplace(string_of(f, "Id"), service_error{400, string_of(f, "Code"), string_of(f, "Message")});
    }
  return out;
}

result<json::value> parse_answer(const http_response& response, std::string_view what) {
  if (response.body.empty()) return json::value(json::object{});
  boost::system::error_code ec;
  auto v = json::parse(response.body, ec);
  if (ec)
    return error{errc::network,
                 std::string(what) + ": SQS answered with JSON that does not parse (" + ec.message() + ")"};
  return v;
}

service_error answer_error(const http_response& response) {
  // JSON 1.0 (`__type`) or query-style XML (moto's auth refusals), with the code bare.
  service_error e = parse_service_error(response);
  if (e.code.empty() || e.code == "NotFound") {
    // "AWS.SimpleQueueService.NonExistentQueue;Sender"
    std::string_view q = find_header(response.headers, "x-amzn-query-error");
    if (!q.empty()) e.code = std::string(q.substr(0, q.find(';')));
  }
  return e;
}

error to_spool_error(const service_error& e, std::string_view what, std::string_view queue, bool takes_receipt) {
  const std::string detail = " (" + e.code + (e.message.empty() ? "" : ": " + e.message) + ")";
  if (one_of(e.code, {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "NonExistentQueue"}))
    return {errc::invalid_argument,
            std::string(what) + ": the SQS queue " + std::string(queue) + " does not exist" + detail};
  if (takes_receipt && (one_of(e.code, {"ReceiptHandleIsInvalid", "InvalidReceiptHandle", "MessageNotInflight",
                                        "AWS.SimpleQueueService.MessageNotInflight"}) ||
                        contains(e.message, "receipt handle has expired") || contains(e.message, "ReceiptHandle")))
    return {errc::lease_lost, std::string(what) + ": the receipt is no longer current" + detail};
  if (contains(e.message, "Total VisibilityTimeout") || contains(e.message, "beyond the limit"))
    return {errc::invalid_argument,
            std::string(what) + ": the lease would pass SQS's 12-hour visibility ceiling (counted from the receive)" +
                detail};
  if (contains(e.code, "Throttl") || e.code == "RequestThrottled")
    return {errc::throttled, std::string(what) + ": SQS is throttling" + detail};
  if (e.code.starts_with("AccessDenied")) return {errc::access_denied, std::string(what) + ": access denied" + detail};
  return to_error(e, what);
}

bool parse_queue_arn(std::string_view arn, queue_arn& out) {
  std::array<std::string_view, 6> parts;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    auto colon = i + 1 < parts.size() ? arn.find(':') : std::string_view::npos;
    if (i + 1 < parts.size() && colon == std::string_view::npos) return false;
    parts[i] = arn.substr(0, colon);
    arn = colon == std::string_view::npos ? std::string_view{} : arn.substr(colon + 1);
  }
  if (parts[0] != "arn" || parts[2] != "sqs" || parts[5].empty() || parts[4].empty()) return false;
  out = {std::string(parts[3]), std::string(parts[4]), std::string(parts[5])};
  return true;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
