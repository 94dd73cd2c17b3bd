// The SQS backend where signatures and IAM policies are checked (moto with auth enforced): a user
// allowed to read but not to send gets access_denied, a wrong secret gets no_credentials, and neither
// message shows the secret. moto answers these refusals in query-style XML, even to JSON requests.
#include <spool/aws/sqs.hpp>

#include <catch2/catch.hpp>

#include "aws/http_client.hpp"
#include "aws/service_client.hpp"
#include "aws/sigv4.hpp"
#include "sqs_fixture.hpp"
#include "support/services.hpp"

namespace json = boost::json;
using spool::errc;

namespace {

// One call to moto before auth is enforced (any key signs), signed as the AWS CLI would.
std::string signed_call(const std::string& endpoint, const std::string& service, const std::string& content_type,
                        const std::string& target, std::string body) {
  spool::aws::service_options so;
  so.where = {"us-east-1", service};
  so.endpoint = endpoint;
  spool::aws::service_client client(so, spool::aws::static_credentials({"AKIDSETUP", "setup-secret", "", {}, "test"}));
  spool::aws::http_request r;
  r.method = "POST";
  r.url = endpoint + "/";
  r.headers = {{"Content-Type", content_type}};
  if (!target.empty()) r.headers.push_back({"X-Amz-Target", target});
  r.body = std::move(body);
  auto answer = client.call(r);
  REQUIRE(answer.has_value());
  INFO(service << ": " << answer->body);
  REQUIRE(answer->status == 200);
  return answer->body;
}

// IAM speaks the query protocol.
std::string iam(const std::string& endpoint, const std::string& form) {
  return signed_call(endpoint, "iam", "application/x-www-form-urlencoded; charset=utf-8", "",
                     "Version=2010-05-08&" + form);
}

// The text of the first <tag> of an XML answer.
std::string xml_text(const std::string& xml, const std::string& tag) {
  auto from = xml.find("<" + tag + ">"), to = xml.find("</" + tag + ">");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  from += tag.size() + 2;
  return xml.substr(from, to - from);
}

spool::aws::sqs_options options(const std::string& endpoint, const std::string& url, const std::string& key,
                                const std::string& secret) {
  auto o = sqs_test::options_for(url);
  o.endpoint = endpoint;
  o.credentials = spool::aws::static_credentials({key, secret, "", std::nullopt, "test"});
  return o;
}

}  // namespace

TEST_CASE("Aws::Sqs::Moto: IAM refusals are access_denied, a wrong secret no_credentials", "[sqs][moto]") {
  auto moto = spool::test::aws::start_moto_or_skip();
  if (!moto) return;
  const auto& ep = moto->endpoint;
  const auto url = std::string(json::parse(signed_call(ep, "sqs", "application/x-amz-json-1.0", "AmazonSQS.CreateQueue",
                                                       R"({"QueueName":"spool-moto-jobs"})"))
                                   .at("QueueUrl")
                                   .as_string());
  const std::string arn = "arn:aws:sqs:us-east-1:" + std::string(moto->account_id) + ":spool-moto-jobs";
  const auto policy = json::serialize(json::object{
      {"Version", "2012-10-17"},
      {"Statement", json::array{json::object{
                        {"Effect", "Allow"},
                        {"Action", json::array{"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}},
                        {"Resource", arn}}}}});
  iam(ep, "Action=CreateUser&UserName=reader");
  iam(ep, "Action=PutUserPolicy&UserName=reader&PolicyName=read&PolicyDocument=" +
              spool::aws::sigv4::uri_encode(policy, false));
  const auto key = iam(ep, "Action=CreateAccessKey&UserName=reader");
  const std::string key_id = xml_text(key, "AccessKeyId"), secret = xml_text(key, "SecretAccessKey");

  spool::aws::http_client http;
  auto reset = http.send({"POST", ep + "/moto-api/reset-auth", {{"Content-Type", "text/plain"}}, "0", nullptr});
  REQUIRE(reset.has_value());
  REQUIRE(reset->status == 200);

  auto q = spool::aws::make_sqs_queue(options(ep, url, key_id, secret));
  INFO((q ? "" : q.error().what()));
  REQUIRE(q.has_value());
  auto got = (*q)->receive({1, std::chrono::milliseconds(0), std::chrono::milliseconds(30'000)});
  INFO((got ? "" : got.error().what()));
  CHECK(got.has_value());  // allowed, and signed right
  auto sent = (*q)->send({"not allowed", "", std::chrono::milliseconds(0)});
  REQUIRE_FALSE(sent.has_value());
  INFO(sent.error().what());
  CHECK(sent.error().code == errc::access_denied);
  CHECK(sent.error().message.find(secret) == std::string::npos);

  const std::string wrong = secret.substr(0, secret.size() - 4) + "XXXX";
  auto refused = spool::aws::make_sqs_queue(options(ep, url, key_id, wrong));
  REQUIRE_FALSE(refused.has_value());
  INFO(refused.error().what());
  CHECK(refused.error().code == errc::no_credentials);
  CHECK(refused.error().message.find(wrong) == std::string::npos);
  CHECK(refused.error().message.find(secret) == std::string::npos);
}
