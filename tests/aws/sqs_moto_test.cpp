// The SQS backend where signatures and IAM policies are checked (moto with auth enforced): a user
// allowed to read but not to send gets access_denied, a wrong secret gets no_credentials, and neither
// message shows the secret. moto answers these refusals in query-style XML, even to JSON requests.
#include <spool/aws/sqs.hpp>

#include <catch2/catch.hpp>

#include "aws/http_client.hpp"
#include "sqs_fixture.hpp"
#include "support/services.hpp"

namespace json = boost::json;
using spool::errc;

namespace {

json::value cli(const std::string& endpoint, const std::vector<std::string>& args) {
  auto r = spool::test::aws::aws_cli(endpoint, args);
  INFO("aws " << args.at(0) << " " << args.at(1) << ": " << r.err);
  REQUIRE(r.exit_status == 0);
  return json::parse(r.out.empty() ? "{}" : r.out);
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
  const auto url =
      std::string(cli(ep, {"sqs", "create-queue", "--queue-name", "spool-moto-jobs"}).at("QueueUrl").as_string());
  const std::string arn = "arn:aws:sqs:us-east-1:" + std::string(moto->account_id) + ":spool-moto-jobs";
  cli(ep, {"iam", "create-user", "--user-name", "reader"});
  const auto policy = json::serialize(json::object{
      {"Version", "2012-10-17"},
      {"Statement", json::array{json::object{
                        {"Effect", "Allow"},
                        {"Action", json::array{"sqs:GetQueueUrl", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"}},
                        {"Resource", arn}}}}});
  cli(ep, {"iam", "put-user-policy", "--user-name", "reader", "--policy-name", "read", "--policy-document", policy});
  const auto key = cli(ep, {"iam", "create-access-key", "--user-name", "reader"}).at("AccessKey");
  const std::string key_id(key.at("AccessKeyId").as_string()), secret(key.at("SecretAccessKey").as_string());

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
