// Calls to one SQS endpoint.
#include "aws/sqs_connection.hpp"

#include <utility>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {

connection::connection(service_options options, std::shared_ptr<credentials_provider> creds)
    : client_(std::move(options), std::move(creds)) {}

result<json::value> connection::call(std::string_view action, const json::object& body, std::string_view what,
                                     std::string_view queue, bool takes_receipt, const io::interrupt_check& interrupt,
                                     service_error* refusal) {
  auto answer = client_.call(make_request(endpoint(), action, body), {}, {}, interrupt);
  if (!answer) {
    auto e = answer.error();
    if (e.code == errc::cancelled || e.code == errc::deadline_exceeded) return e;
    e.message = std::string(what) + ": " + e.what();
    return e;
  }
  if (answer->status / 100 != 2) {
    auto e = answer_error(*answer);
    if (refusal) *refusal = e;
    return to_spool_error(e, what, queue, takes_receipt);
  }
  return parse_answer(*answer, what);
}

result<std::string> connection::queue_url(const std::string& name, const std::string& account) {
  json::object body{{"QueueName", name}};
  if (!account.empty()) body["QueueOwnerAWSAccountId"] = account;
  auto answer = call("GetQueueUrl", body, "GetQueueUrl " + name, name);
  if (!answer) return answer.error();
  auto url = answer->is_object() ? string_of(answer->get_object(), "QueueUrl") : std::string{};
  if (url.empty()) return error{errc::network, "GetQueueUrl " + name + ": SQS answered no QueueUrl"};
  return url;
}

result<std::map<std::string, std::string>> connection::attributes(const std::string& url,
                                                                  const std::vector<std::string>& names) {
  json::array wanted;
  for (const auto& n : names) wanted.emplace_back(n);
  auto answer = call("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", std::move(wanted)}},
                     "GetQueueAttributes " + url, url);
  if (!answer) return answer.error();
  std::map<std::string, std::string> out;
  if (const auto* attrs = answer->is_object() ? answer->get_object().if_contains("Attributes") : nullptr;
      attrs && attrs->is_object())
    for (const auto& [k, v] : attrs->get_object())
      if (v.is_string()) out.emplace(std::string(k), std::string(v.get_string()));
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
