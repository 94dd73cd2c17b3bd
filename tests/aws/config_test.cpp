// The shared files, the region and the endpoints.
#include <spool/aws/config.hpp>

#include <catch2/catch.hpp>

#include "aws/shared_config.hpp"
#include "catch_result.hpp"
#include "support/credentials_fixtures.hpp"

using namespace spool;
using spool::test::fake_env;
using spool::test::temp_dir;

TEST_CASE("INI: comments, whitespace, case and sub-settings", "[aws][config]") {
  const char* text =
      "# a comment\n"
      "; another\n"
      "  [ default ]   # trailing comment\n"
      "\toutput   =   json   ; inline comment\n"
      "Region=eu-west-1\n"
      "note = first\n"
      "   second\n"  // indented under a value: a continuation
      "odd = a#b;c\n"
      "s3 =\n"
      "  addressing_style = path\n"
      "\n"
      "[profile dev]\r\n"
      "role_arn: arn:aws:iam::123456789012:role/dev\r\n";
  auto ini = aws::parse_ini(text, "test.ini");
  REQUIRE(ini);
  REQUIRE(ini->size() == 2);
  const auto& d = ini->at("default");
  CHECK(d.at("region") == "eu-west-1");
  CHECK(d.at("output") == "json");
  CHECK(d.at("note") == "first\nsecond");
  CHECK(d.at("odd") == "a#b;c");  // not a comment: no whitespace before
  CHECK(d.at("s3.addressing_style") == "path");
  CHECK(ini->at("profile dev").at("role_arn") == "arn:aws:iam::123456789012:role/dev");
}

TEST_CASE("INI: a malformed line is refused by line number, without its text", "[aws][config]") {
  auto ini = aws::parse_ini("[default]\naws_access_key_id = AKIDEXAMPLE\nwJalrXUtnFEMI/K7MDENG\n", "/x/credentials");
  REQUIRE_FALSE(ini);
  CHECK(ini.error().code == errc::invalid_argument);
  CHECK_THAT(ini.error().what(), Catch::Contains("/x/credentials, line 3"));
  CHECK_THAT(ini.error().what(), !Catch::Contains("wJalrXUtnFEMI"));

  auto before = aws::parse_ini("key = value\n[default]\n", "f");
  REQUIRE_FALSE(before);
  CHECK_THAT(before.error().what(), Catch::Contains("line 1"));
  CHECK_FALSE(aws::parse_ini("[default\n", "f"));
  CHECK_FALSE(aws::parse_ini("[]\n", "f"));
}

TEST_CASE("shared files: profile sections in each file", "[aws][config]") {
  temp_dir dir;
  auto config = dir.write("config",
                          "[default]\nregion = us-east-2\n"
                          "[profile dev]\nregion = eu-west-1\naws_access_key_id = CONFIGKEY\n"
                          "[staging]\nregion = ap-south-1\n"  // not a profile in the config file
                          "[sso-session corp]\nsso_region = us-east-1\n");
  auto creds = dir.write("credentials",
                         "[dev]\naws_access_key_id = CREDKEY\naws_secret_access_key = s1\n"
                         "[profile prod]\naws_access_key_id = PRODKEY\n");  // a profile named "profile prod"
  auto shared =
      aws::load_shared_config(fake_env({{"AWS_CONFIG_FILE", config}, {"AWS_SHARED_CREDENTIALS_FILE", creds}}));
  REQUIRE(shared);
  CHECK(shared->setting("dev", "region") == "eu-west-1");
  CHECK(shared->setting("dev", "aws_access_key_id") == "CREDKEY");  // the credentials file wins
  CHECK(shared->setting("dev", "aws_secret_access_key") == "s1");
  CHECK(shared->setting("default", "region") == "us-east-2");
  CHECK(shared->profile("staging") == nullptr);
  CHECK(shared->profile("corp") == nullptr);
  CHECK(shared->profile("sso-session corp") == nullptr);
  CHECK(shared->profile("prod") == nullptr);
  CHECK(shared->profile("profile prod") != nullptr);
}

TEST_CASE("shared files: default paths under HOME, missing files, unreadable ones", "[aws][config]") {
  temp_dir dir;
  dir.write(".aws/config", "[profile dev]\nregion = sa-east-1\n");
  auto env = fake_env({{"HOME", dir.path().string()}, {"AWS_PROFILE", "dev"}});
  CHECK(aws::config_file_path(env) == dir.path() / ".aws/config");
  CHECK(aws::credentials_file_path(env) == dir.path() / ".aws/credentials");
  auto shared = aws::load_shared_config(env);
  REQUIRE(shared);  // the credentials file is missing: fine
  CHECK(shared->setting("dev", "region") == "sa-east-1");

  auto none = aws::load_shared_config(fake_env({{"HOME", (dir.path() / "nowhere").string()}}));
  REQUIRE(none);
  CHECK(none->profiles.empty());

  auto tilde = fake_env({{"HOME", dir.path().string()}, {"AWS_CONFIG_FILE", "~/.aws/config"}});
  CHECK(aws::config_file_path(tilde) == dir.path() / ".aws/config");

  auto is_dir = aws::load_shared_config(fake_env({{"AWS_CONFIG_FILE", dir.path().string()}}));
  REQUIRE_FALSE(is_dir);
  CHECK(is_dir.error().code == errc::invalid_argument);
  CHECK_THAT(is_dir.error().what(), Catch::Contains(dir.path().string()));
}

TEST_CASE("region: AWS_REGION, then AWS_DEFAULT_REGION, then the profile in the config file", "[aws][config]") {
  temp_dir dir;
  auto config = dir.write("config", "[default]\nregion = us-west-1\n[profile dev]\nregion = eu-central-1\n");
  auto creds = dir.write("credentials", "[other]\nregion = ap-east-1\n");
  std::map<std::string, std::string, std::less<>> vars{{"AWS_CONFIG_FILE", config},
                                                       {"AWS_SHARED_CREDENTIALS_FILE", creds},
                                                       {"AWS_REGION", "eu-north-1"},
                                                       {"AWS_DEFAULT_REGION", "eu-south-1"},
                                                       {"AWS_PROFILE", "dev"}};
  CHECK(aws::resolve_region(fake_env(vars)).value() == "eu-north-1");
  vars["AWS_REGION"] = "";  // set but empty counts as unset
  CHECK(aws::resolve_region(fake_env(vars)).value() == "eu-south-1");
  vars.erase("AWS_DEFAULT_REGION");
  CHECK(aws::resolve_region(fake_env(vars)).value() == "eu-central-1");
  vars.erase("AWS_PROFILE");
  CHECK(aws::resolve_region(fake_env(vars)).value() == "us-west-1");
  vars["AWS_PROFILE"] = "other";  // a region in the credentials file is not read
  auto none = aws::resolve_region(fake_env(vars));
  REQUIRE_FALSE(none);
  CHECK(none.error().code == errc::invalid_argument);
  CHECK_THAT(none.error().what(), Catch::Contains("AWS_REGION") && Catch::Contains(config));

  auto odd = aws::resolve_region(fake_env({{"AWS_REGION", "eu-west-1/../x"}}));
  REQUIRE_FALSE(odd);
  CHECK(odd.error().code == errc::invalid_argument);
}

TEST_CASE("endpoints: per-service override, then the general one, then AWS's", "[aws][config]") {
  std::map<std::string, std::string, std::less<>> vars{{"AWS_ENDPOINT_URL", "http://127.0.0.1:4566/"},
                                                       {"AWS_ENDPOINT_URL_S3", "http://localhost:9000"}};
  auto s3 = aws::resolve_endpoint("s3", "eu-west-1", fake_env(vars));
  CHECK(s3.url == "http://localhost:9000");
  CHECK(s3.custom);
  auto sqs = aws::resolve_endpoint("sqs", "eu-west-1", fake_env(vars));
  CHECK(sqs.url == "http://127.0.0.1:4566");  // trailing slash dropped
  CHECK(sqs.custom);
  vars["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:5000";
  CHECK(aws::resolve_endpoint("sts", "eu-west-1", fake_env(vars)).url == "http://127.0.0.1:5000");

  auto plain = fake_env({});
  auto aws_s3 = aws::resolve_endpoint("s3", "eu-west-1", plain);
  CHECK(aws_s3.url == "https://s3.eu-west-1.amazonaws.com");
  CHECK_FALSE(aws_s3.custom);
  CHECK(aws::resolve_endpoint("sqs", "us-east-2", plain).url == "https://sqs.us-east-2.amazonaws.com");
  CHECK(aws::resolve_endpoint("sts", "ap-southeast-2", plain).url == "https://sts.ap-southeast-2.amazonaws.com");
  CHECK(aws::resolve_endpoint("sqs", "cn-north-1", plain).url == "https://sqs.cn-north-1.amazonaws.com.cn");
  CHECK(aws::resolve_endpoint("sqs", "eu-west-1", fake_env({{"AWS_ENDPOINT_URL_SQS", ""}})).url ==
        "https://sqs.eu-west-1.amazonaws.com");
}
