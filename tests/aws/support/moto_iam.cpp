#include "support/moto_iam.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <memory>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace {

using namespace std::chrono_literals;

std::string form_encode(const std::string& s) { return spool::aws::sigv4::uri_encode(s, false); }

result<std::string> iam_call(spool::aws::service_client& iam, const std::string& form) {
  spool::aws::http_request r;
  r.method = "POST";
  r.url = iam.options().endpoint + "/";
  r.headers.push_back({"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  r.body = form + "&Version=2010-05-08";
  auto answer = iam.call(std::move(r));
  if (!answer) return answer.error();
  if (answer->status != 200)
    return spool::aws::to_error(spool::aws::parse_service_error(*answer), "IAM " + form.substr(0, 40));
  return std::move(answer->body);
}

}  // namespace

error enforce_moto_auth(const std::string& endpoint) {
  spool::aws::http_client http;
  spool::aws::http_request r;
  r.method = "POST";
  r.url = endpoint + "/moto-api/reset-auth";
  r.headers.push_back({"Content-Type", "text/plain"});
  r.body = "0";
  auto answer = http.send(r);
  if (!answer) return answer.error();
  if (answer->status != 200) return {errc::internal, "moto reset-auth answered " + std::to_string(answer->status)};
  return {};
}

spool::aws::service_client moto_client(const std::string& endpoint, const std::string& service,
                                       spool::aws::credentials creds) {
  spool::aws::service_options o;
  o.where = {"us-east-1", service};
  o.endpoint = endpoint;
  o.retry.max_attempts = 2;
  o.http.connect_timeout = 5s;
  o.http.idle_timeout = 15s;
  return spool::aws::service_client(std::move(o), spool::aws::static_credentials(std::move(creds)));
}

result<spool::aws::credentials> create_user_with_policy(spool::aws::service_client& iam, const std::string& name,
                                                        const std::string& policy_json) {
  if (auto r = iam_call(iam, "Action=CreateUser&UserName=" + form_encode(name)); !r) return r.error();
  auto policy = iam_call(
      iam, "Action=CreatePolicy&PolicyName=" + form_encode(name) + "&PolicyDocument=" + form_encode(policy_json));
  if (!policy) return policy.error();
  auto arn = xml_value(*policy, "Arn");
  if (arn.empty()) return error{errc::internal, "CreatePolicy gave no Arn"};
  if (auto r =
          iam_call(iam, "Action=AttachUserPolicy&UserName=" + form_encode(name) + "&PolicyArn=" + form_encode(arn));
      !r)
    return r.error();
  auto key = iam_call(iam, "Action=CreateAccessKey&UserName=" + form_encode(name));
  if (!key) return key.error();
  spool::aws::credentials c;
  c.access_key_id = xml_value(*key, "AccessKeyId");
  c.secret_access_key = xml_value(*key, "SecretAccessKey");
  c.source = "moto user " + name;
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return error{errc::internal, "CreateAccessKey gave no keys"};
  return c;
}

result<spool::aws::http_response> sqs_call(spool::aws::service_client& sqs, const std::string& action,
                                           const std::string& body) {
  spool::aws::http_request r;
  r.method = "POST";
  r.url = sqs.options().endpoint + "/";
  r.headers.push_back({"Content-Type", "application/x-amz-json-1.0"});
  r.headers.push_back({"X-Amz-Target", "AmazonSQS." + action});
  r.body = body;
  return sqs.call(std::move(r));
}

result<std::string> create_queue(spool::aws::service_client& sqs, const std::string& name) {
  auto answer = sqs_call(sqs, "CreateQueue", R"({"QueueName":")" + name + R"("})");
  if (!answer) return answer.error();
  if (answer->status != 200)
    return spool::aws::to_error(spool::aws::parse_service_error(*answer), "CreateQueue " + name);
  boost::system::error_code ec;
  auto v = boost::json::parse(answer->body, ec);
  const auto* url = !ec && v.is_object() ? v.as_object().if_contains("QueueUrl") : nullptr;
  if (!url || !url->is_string()) return error{errc::internal, "CreateQueue gave no QueueUrl"};
  return std::string(url->as_string());
}

result<spool::aws::http_response> s3_call(spool::aws::service_client& s3, const std::string& method,
                                          const std::string& path, const std::string& body) {
  spool::aws::http_request r;
  r.method = method;
  r.url = s3.options().endpoint + path;
  r.body = body;
  if (method == "PUT" || method == "POST") r.headers.push_back({"Content-Type", "application/octet-stream"});
  return s3.call(std::move(r));
}

std::string xml_value(const std::string& xml, const std::string& tag) {
  auto b = xml.find("<" + tag + ">");
  if (b == std::string::npos) return {};
  b += tag.size() + 2;
  auto e = xml.find("</" + tag + ">", b);
  return e == std::string::npos ? std::string() : xml.substr(b, e - b);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
