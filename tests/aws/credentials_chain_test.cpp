// The environment and profile sources and the chain's order, without any service.
#include <catch2/catch.hpp>

#include <cstdlib>

#include "aws/credentials_providers.hpp"
#include "catch_result.hpp"
#include "support/credentials_fixtures.hpp"
#include "support/loopback_server.hpp"

using namespace spool;
using spool::test::fake_env;
using spool::test::temp_dir;
using vars_t = std::map<std::string, std::string, std::less<>>;

namespace {

constexpr const char* secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr const char* token = "FwoGZXIvYXdzEXAMPLESESSIONTOKEN";

// No files, no metadata service: only what a test adds.
vars_t isolated(const temp_dir& dir) { return {{"HOME", dir.path().string()}, {"AWS_EC2_METADATA_DISABLED", "true"}}; }

void check_no_secret(const error& e) {
  CHECK_THAT(e.what(), !Catch::Contains(secret));
  CHECK_THAT(e.what(), !Catch::Contains(token));
}

}  // namespace

TEST_CASE("environment: keys and session token", "[aws][credentials]") {
  auto c =
      aws::environment_credentials(
          fake_env({{"AWS_ACCESS_KEY_ID", "AKIDENV"}, {"AWS_SECRET_ACCESS_KEY", secret}, {"AWS_SESSION_TOKEN", token}}))
          ->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "AKIDENV");
  CHECK(c->secret_access_key == secret);
  CHECK(c->session_token == token);
  CHECK(c->source == "environment");
  CHECK_FALSE(c->expiry);

  auto none = aws::environment_credentials(fake_env({}))->get();
  REQUIRE_FALSE(none);
  CHECK(none.error().code == errc::no_credentials);

  auto half = aws::environment_credentials(fake_env({{"AWS_SECRET_ACCESS_KEY", secret}}))->get();
  REQUIRE_FALSE(half);
  CHECK(half.error().code == errc::invalid_argument);
  CHECK_THAT(half.error().what(), Catch::Contains("AWS_ACCESS_KEY_ID"));
  check_no_secret(half.error());
}

TEST_CASE("chain: environment first, then the profile's static keys", "[aws][credentials]") {
  temp_dir dir;
  dir.write(".aws/credentials",
            "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = s-default\n"
            "[dev]  ; the developer's\naws_access_key_id = AKIDDEV\naws_secret_access_key = " +
                std::string(secret) + "\naws_session_token = " + token + "\n");
  auto vars = isolated(dir);
  vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
  vars["AWS_SECRET_ACCESS_KEY"] = "s-env";
  auto from_env = aws::default_credentials_chain(fake_env(vars))->get();
  REQUIRE(from_env);
  CHECK(from_env->access_key_id == "AKIDENV");

  vars.erase("AWS_ACCESS_KEY_ID");
  vars.erase("AWS_SECRET_ACCESS_KEY");
  auto chain = aws::default_credentials_chain(fake_env(vars));
  auto from_default = chain->get();
  REQUIRE(from_default);
  CHECK(from_default->access_key_id == "AKIDDEFAULT");
  CHECK(from_default->secret_access_key == "s-default");
  CHECK(from_default->source == "profile default");
  CHECK(chain->name() == "profile default");

  vars["AWS_PROFILE"] = "dev";
  auto from_dev = aws::default_credentials_chain(fake_env(vars))->get();
  REQUIRE(from_dev);
  CHECK(from_dev->access_key_id == "AKIDDEV");
  CHECK(from_dev->session_token == token);
}

TEST_CASE("chain: nothing anywhere is no_credentials, naming what was tried", "[aws][credentials]") {
  temp_dir dir;
  auto got = aws::default_credentials_chain(fake_env(isolated(dir)))->get();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::no_credentials);
  for (const char* source : {"environment", "profile default", "web identity", "container", "EC2 instance metadata",
                             "AWS_EC2_METADATA_DISABLED"})
    CHECK_THAT(got.error().what(), Catch::Contains(source));
}

TEST_CASE("chain: a configured source that fails stops the chain", "[aws][credentials]") {
  temp_dir dir;
  // A container endpoint that would answer: the chain must not reach it.
  test::loopback_server ecs([](const test::server_request&) {
    return test::server_response{200, {}, R"({"AccessKeyId":"AKIDECS","SecretAccessKey":"x","Token":"y"})"};
  });
  auto vars = isolated(dir);
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds");

  SECTION("a missing web identity token file") {
    auto missing = (dir.path() / "no-token").string();
    vars["AWS_WEB_IDENTITY_TOKEN_FILE"] = missing;
    vars["AWS_ROLE_ARN"] = "arn:aws:iam::123456789012:role/web";
    auto got = aws::default_credentials_chain(fake_env(vars))->get();
    REQUIRE_FALSE(got);
    CHECK(got.error().code != errc::no_credentials);
    CHECK_THAT(got.error().what(), Catch::Contains("the web identity token file " + missing + ": no such file"));
  }
  SECTION("half the keys in the environment") {
    vars["AWS_ACCESS_KEY_ID"] = "AKIDENV";
    auto got = aws::default_credentials_chain(fake_env(vars))->get();
    REQUIRE_FALSE(got);
    CHECK(got.error().code == errc::invalid_argument);
  }
  SECTION("AWS_PROFILE names a profile that is nowhere") {
    dir.write(".aws/config", "[profile other]\nregion = eu-west-1\n");
    vars["AWS_PROFILE"] = "missing";
    auto got = aws::default_credentials_chain(fake_env(vars))->get();
    REQUIRE_FALSE(got);
    CHECK(got.error().code == errc::invalid_argument);
    CHECK_THAT(got.error().what(), Catch::Contains("'missing'"));
  }
  CHECK(ecs.requests() == 0);

  // Without those, the container source is reached and answers.
  vars = isolated(dir);
  vars["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = ecs.url("/creds");
  auto got = aws::default_credentials_chain(fake_env(vars))->get();
  REQUIRE(got);
  CHECK(got->access_key_id == "AKIDECS");
  CHECK(ecs.requests() == 1);
}

TEST_CASE("profiles: refused configurations say what is wrong without secrets", "[aws][credentials]") {
  temp_dir dir;
  dir.write(
      ".aws/config",
      "[profile nokeys]\nregion = eu-west-1\n"
      "[profile halfkey]\naws_secret_access_key = " +
          std::string(secret) +
          "\n"
          "[profile orphan-role]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
          "[profile ec2-role]\nrole_arn = arn:aws:iam::123456789012:role/r\ncredential_source = Ec2InstanceMetadata\n"
          "[profile loop-a]\nrole_arn = arn:aws:iam::123456789012:role/a\nsource_profile = loop-b\n"
          "[profile loop-b]\nrole_arn = arn:aws:iam::123456789012:role/b\nsource_profile = loop-a\n"
          "[profile empty-source]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = nokeys\n"
          "[profile ghost-source]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = ghost\n"
          "[profile long]\nrole_arn = arn:aws:iam::123456789012:role/r\nsource_profile = halfkey\n"
          "duration_seconds = 99999\n");
  auto get = [&](const std::string& profile) {
    auto vars = isolated(dir);
    vars["AWS_PROFILE"] = profile;
    return aws::profile_credentials(fake_env(vars))->get();
  };
  auto nokeys = get("nokeys");
  REQUIRE_FALSE(nokeys);
  CHECK(nokeys.error().code == errc::no_credentials);  // the chain goes on

  struct refused {
    const char* profile;
    errc code;
    const char* says;
  };
  for (auto [profile, code, says] : {
           refused{"halfkey", errc::invalid_argument, "aws_secret_access_key but not aws_access_key_id"},
           refused{"orphan-role", errc::invalid_argument, "role_arn but no source_profile"},
           refused{"ec2-role", errc::feature_unsupported, "credential_source"},
           refused{"loop-a", errc::invalid_argument, "loop-a -> loop-b -> loop-a"},
           refused{"empty-source", errc::invalid_argument, "'nokeys' of 'empty-source' has no credentials"},
           refused{"ghost-source", errc::invalid_argument, "'ghost'"},
           refused{"long", errc::invalid_argument, "duration_seconds"},
       }) {
    INFO(profile);
    auto got = get(profile);
    REQUIRE_FALSE(got);
    CHECK(got.error().code == code);
    CHECK_THAT(got.error().what(), Catch::Contains(says));
    check_no_secret(got.error());
  }
}

TEST_CASE("the process environment", "[aws][credentials]") {
  auto env = aws::process_environment();
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): nothing sets variables here
  REQUIRE(path != nullptr);
  CHECK(env("PATH") == std::optional<std::string>(path));
  CHECK_FALSE(env("SPOOL_AWS_TEST_SURELY_UNSET_VARIABLE"));
}

TEST_CASE("static credentials and a malformed credentials file", "[aws][credentials]") {
  aws::credentials fixed{"AKIDFIXED", secret, "", std::nullopt, ""};
  auto c = aws::static_credentials(fixed)->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "AKIDFIXED");
  CHECK(c->source == "static");

  temp_dir dir;
  dir.write(".aws/credentials", "[default]\naws_access_key_id = AKID\n" + std::string(secret) + "\n");
  auto got = aws::default_credentials_chain(fake_env(isolated(dir)))->get();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::invalid_argument);
  CHECK_THAT(got.error().what(), Catch::Contains("credentials, line 3"));
  check_no_secret(got.error());
}
