// Roles through STS: AssumeRole with a source profile's keys, AssumeRoleWithWebIdentity with a token
// file, both against moto; and an unreachable STS stopping the chain.
#include <catch2/catch.hpp>

#include "aws/credentials_providers.hpp"
#include "aws/service_client.hpp"
#include "catch_result.hpp"
#include "support/credentials_fixtures.hpp"
#include "support/loopback_server.hpp"
#include "support/services.hpp"

using namespace spool;
using spool::test::fake_env;
using spool::test::temp_dir;
using vars_t = std::map<std::string, std::string, std::less<>>;

namespace {

constexpr const char* source_secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

// The ARN of the identity `c` belongs to, as moto's GetCallerIdentity answers.
std::string caller_arn(const std::string& endpoint, const aws::credentials& c) {
  aws::service_options so;
  so.where = {"us-east-1", "sts"};
  so.endpoint = endpoint;
  aws::service_client client(so, aws::static_credentials(c));
  aws::http_request req;
  req.method = "POST";
  req.url = endpoint + "/";
  req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  req.body = "Action=GetCallerIdentity&Version=2011-06-15";
  auto res = client.call(req);
  REQUIRE(res);
  REQUIRE(res->status == 200);
  auto from = res->body.find("<Arn>"), to = res->body.find("</Arn>");
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  return res->body.substr(from + 5, to - from - 5);
}

void check_temporary(const aws::credentials& c) {
  CHECK(c.access_key_id.rfind("ASIA", 0) == 0);  // moto's temporary key ids, like AWS's
  CHECK(c.access_key_id.size() == 20);
  CHECK_FALSE(c.secret_access_key.empty());
  CHECK_FALSE(c.session_token.empty());
  REQUIRE(c.expiry);
  CHECK(*c.expiry > aws::wall_clock::now());
}

}  // namespace

TEST_CASE("STS: a profile's role assumed with its source profile's keys", "[aws][credentials][sts][moto]") {
  auto moto = test::aws::start_moto_or_skip();
  if (!moto) return;
  temp_dir dir;
  auto config = dir.write("config",
                          "[profile base]\nregion = us-east-1\n"
                          "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app-role\nsource_profile = base\n"
                          "role_session_name = spool-app\nregion = us-east-1\n");
  auto creds = dir.write("credentials", "[base]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = " +
                                            std::string(source_secret) + "\n");
  vars_t vars{{"HOME", dir.path().string()},
              {"AWS_CONFIG_FILE", config},
              {"AWS_SHARED_CREDENTIALS_FILE", creds},
              {"AWS_PROFILE", "app"},
              {"AWS_ENDPOINT_URL_STS", moto->endpoint},
              {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto chain = aws::default_credentials_chain(fake_env(vars));
  auto c = chain->get();
  REQUIRE(c);
  check_temporary(*c);
  CHECK(c->access_key_id != "AKIAIOSFODNN7EXAMPLE");
  CHECK(c->secret_access_key != source_secret);
  CHECK_THAT(c->source, Catch::Contains("profile app") && Catch::Contains("app-role"));
  CHECK(caller_arn(moto->endpoint, *c) == "arn:aws:sts::123456789012:assumed-role/app-role/spool-app");

  auto again = chain->get();  // cached: the same credentials, not a second AssumeRole
  REQUIRE(again);
  CHECK(again->access_key_id == c->access_key_id);
}

TEST_CASE("STS: web identity with a token file (unsigned)", "[aws][credentials][sts][moto]") {
  auto moto = test::aws::start_moto_or_skip();
  if (!moto) return;
  temp_dir dir;
  auto token_file = dir.write("token", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXBwIn0.c2ln\n");
  vars_t vars{{"HOME", dir.path().string()},
              {"AWS_WEB_IDENTITY_TOKEN_FILE", token_file},
              {"AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/irsa-role"},
              {"AWS_ROLE_SESSION_NAME", "pod-session"},
              {"AWS_REGION", "eu-west-1"},
              {"AWS_ENDPOINT_URL_STS", moto->endpoint},
              {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto chain = aws::default_credentials_chain(fake_env(vars));
  auto c = chain->get();
  REQUIRE(c);
  check_temporary(*c);
  CHECK(chain->name() == "web identity");
  CHECK(caller_arn(moto->endpoint, *c) == "arn:aws:sts::123456789012:assumed-role/irsa-role/pod-session");

  // The same role named in a profile instead of the environment.
  auto config = dir.write("config",
                          "[profile pod]\nrole_arn = arn:aws:iam::123456789012:role/irsa-role\n"
                          "web_identity_token_file = " +
                              token_file + "\nrole_session_name = from-profile\n");
  vars_t profile_vars{{"HOME", dir.path().string()},
                      {"AWS_CONFIG_FILE", config},
                      {"AWS_PROFILE", "pod"},
                      {"AWS_REGION", "eu-west-1"},
                      {"AWS_ENDPOINT_URL_STS", moto->endpoint},
                      {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto p = aws::default_credentials_chain(fake_env(profile_vars))->get();
  REQUIRE(p);
  check_temporary(*p);
  CHECK(caller_arn(moto->endpoint, *p) == "arn:aws:sts::123456789012:assumed-role/irsa-role/from-profile");
}

TEST_CASE("STS: unreachable, the chain stops with the role's error", "[aws][credentials][sts]") {
  std::string closed;
  {
    test::loopback_server gone([](const test::server_request&) { return test::server_response{}; });
    closed = gone.url();
  }
  test::loopback_server ecs([](const test::server_request&) {
    return test::server_response{200, {}, R"({"AccessKeyId":"AKIDECS","SecretAccessKey":"x","Token":"y"})"};
  });
  temp_dir dir;
  auto config = dir.write("config",
                          "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app-role\n"
                          "source_profile = app\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                          "aws_secret_access_key = " +
                              std::string(source_secret) + "\n");
  vars_t vars{{"HOME", dir.path().string()},
              {"AWS_CONFIG_FILE", config},
              {"AWS_PROFILE", "app"},
              {"AWS_REGION", "us-east-1"},
              {"AWS_ENDPOINT_URL_STS", closed},
              {"AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url("/creds")},
              {"AWS_EC2_METADATA_DISABLED", "true"}};
  aws::provider_options options;
  options.http.connect_timeout = std::chrono::milliseconds(500);
  auto got = aws::default_credentials_chain(fake_env(vars), options)->get();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::network);
  CHECK_THAT(got.error().what(), Catch::Contains("AssumeRole") && Catch::Contains("app-role"));
  CHECK_THAT(got.error().what(), !Catch::Contains(source_secret));
  CHECK(ecs.requests() == 0);
}

TEST_CASE("STS: refused source keys stop the chain too", "[aws][credentials][sts]") {
  test::loopback_server sts([](const test::server_request&) {
    return test::server_response{403,
                                 {{"Content-Type", "text/xml"}},
                                 "<ErrorResponse><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code>"
                                 "<Message>The security token included in the request is invalid.</Message></Error>"
                                 "<RequestId>1</RequestId></ErrorResponse>"};
  });
  test::loopback_server ecs([](const test::server_request&) {
    return test::server_response{200, {}, R"({"AccessKeyId":"AKIDECS","SecretAccessKey":"x","Token":"y"})"};
  });
  temp_dir dir;
  auto config = dir.write("config",
                          "[profile app]\nrole_arn = arn:aws:iam::123456789012:role/app-role\n"
                          "source_profile = app\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
                          "aws_secret_access_key = " +
                              std::string(source_secret) + "\n");
  vars_t vars{{"HOME", dir.path().string()},
              {"AWS_CONFIG_FILE", config},
              {"AWS_PROFILE", "app"},
              {"AWS_REGION", "us-east-1"},
              {"AWS_ENDPOINT_URL_STS", sts.url()},
              {"AWS_CONTAINER_CREDENTIALS_FULL_URI", ecs.url("/creds")},
              {"AWS_EC2_METADATA_DISABLED", "true"}};
  auto got = aws::default_credentials_chain(fake_env(vars))->get();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::access_denied);
  CHECK_THAT(got.error().what(), Catch::Contains("InvalidClientTokenId") && !Catch::Contains(source_secret));
  CHECK(sts.requests() >= 1);
  CHECK(ecs.requests() == 0);
}
