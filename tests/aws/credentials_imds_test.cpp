// EC2 instance metadata (IMDSv2) against a loopback fake that insists on session tokens.
#include <catch2/catch.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <map>
#include <mutex>
#include <thread>

#include "aws/credentials_providers.hpp"
#include "catch_result.hpp"
#include "support/credentials_fixtures.hpp"
#include "support/loopback_server.hpp"

using namespace spool;
using namespace std::chrono_literals;
using spool::test::fake_env;
using spool::test::temp_dir;

namespace {

constexpr const char* secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
constexpr std::string_view roles = "/latest/meta-data/iam/security-credentials/";

// IMDSv2 as EC2 serves it: PUT /latest/api/token (TTL 1..21600 s) first; every GET without a live
// token is 401.
struct fake_imds {
  std::mutex mutex;
  std::map<std::string, std::chrono::steady_clock::time_point> tokens;
  int issued = 0;
  std::atomic<int> token_puts{0}, unauthorized{0};
  std::atomic<bool> has_role{true};
  std::atomic<bool> stall_tokens{false};
  std::string expiration = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr) + 6 * 3600));
  test::loopback_server server{[this](const test::server_request& req) { return answer(req); }};

  void forget_tokens() {
    std::lock_guard lock(mutex);
    tokens.clear();
  }

  test::server_response answer(const test::server_request& req) {
    std::lock_guard lock(mutex);
    auto now = std::chrono::steady_clock::now();
    if (req.method == "PUT" && req.target == "/latest/api/token") {
      if (stall_tokens) return {0, {}, {}, test::server_response::action::stall};
      ++token_puts;
      auto ttl_text = req.header("X-aws-ec2-metadata-token-ttl-seconds");
      int ttl = 0;
      auto [end, ec] = std::from_chars(ttl_text.data(), ttl_text.data() + ttl_text.size(), ttl);
      if (ec != std::errc{} || end != ttl_text.data() + ttl_text.size() || ttl < 1 || ttl > 21600)
        return {400, {}, "bad ttl"};
      auto token = fmt::format("imds-token-{}", ++issued);
      tokens[token] = now + std::chrono::seconds(ttl);
      return {200, {{"X-aws-ec2-metadata-token-ttl-seconds", ttl_text}}, token};
    }
    if (req.method != "GET") return {405, {}, ""};
    auto it = tokens.find(req.header("X-aws-ec2-metadata-token"));
    if (it == tokens.end() || now >= it->second) {
      ++unauthorized;
      return {401, {}, ""};
    }
    if (req.target == roles)
      return has_role ? test::server_response{200, {}, "web-role"} : test::server_response{404, {}, ""};
    if (req.target == std::string(roles) + "web-role")
      return {
          200,
          {},
          fmt::format(
              R"({{"Code":"Success","LastUpdated":"2026-11-29T00:00:00Z","Type":"AWS-HMAC",)"
              R"("AccessKeyId":"ASIAIMDSEXAMPLE","SecretAccessKey":"{}","Token":"imds-session","Expiration":"{}"}})",
              secret, expiration)};
    return {404, {}, ""};
  }
};

aws::provider_options fast() {
  aws::provider_options o;
  o.http.connect_timeout = 500ms;
  o.http.idle_timeout = 300ms;
  return o;
}

}  // namespace

TEST_CASE("IMDSv2: a token, the role, its credentials", "[aws][credentials][imds]") {
  fake_imds imds;
  auto env = fake_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.url("/")}});
  auto c = aws::instance_metadata_credentials(env, fast())->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIAIMDSEXAMPLE");
  CHECK(c->secret_access_key == secret);
  CHECK(c->session_token == "imds-session");
  REQUIRE(c->expiry);
  CHECK(fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(aws::wall_clock::to_time_t(*c->expiry))) == imds.expiration);
  CHECK_THAT(c->source, Catch::Contains("web-role"));
  CHECK(imds.token_puts == 1);
  CHECK(imds.unauthorized == 0);
  CHECK(imds.server.requests() == 3);
}

TEST_CASE("IMDSv2: the token is renewed when its TTL runs out, and when refused", "[aws][credentials][imds]") {
  fake_imds imds;
  auto env = fake_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.url()}});
  auto options = fast();
  options.imds_token_ttl = 1;
  auto provider = aws::instance_metadata_credentials(env, options);
  REQUIRE(provider->get());
  REQUIRE(provider->get());  // the same token, still alive
  CHECK(imds.token_puts == 1);
  std::this_thread::sleep_for(1100ms);
  REQUIRE(provider->get());
  CHECK(imds.token_puts == 2);
  CHECK(imds.unauthorized == 0);  // renewed before the service would refuse it

  options.imds_token_ttl = 21600;
  auto long_token = aws::instance_metadata_credentials(env, options);
  REQUIRE(long_token->get());
  imds.forget_tokens();  // as after a service restart
  REQUIRE(long_token->get());
  CHECK(imds.unauthorized == 1);
  CHECK(imds.token_puts == 4);
}

TEST_CASE("IMDS: disabled, unreachable, stalled or without a role is no_credentials", "[aws][credentials][imds]") {
  fake_imds imds;
  for (const char* value : {"true", "TRUE"}) {
    auto got =
        aws::instance_metadata_credentials(
            fake_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.url()}, {"AWS_EC2_METADATA_DISABLED", value}}),
            fast())
            ->get();
    REQUIRE_FALSE(got);
    CHECK(got.error().code == errc::no_credentials);
  }
  CHECK(imds.server.requests() == 0);

  std::string closed;
  {
    test::loopback_server gone([](const test::server_request&) { return test::server_response{}; });
    closed = gone.url();
  }
  auto unreachable =
      aws::instance_metadata_credentials(fake_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", closed}}), fast())->get();
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().code == errc::no_credentials);
  CHECK_THAT(unreachable.error().what(), Catch::Contains("not reachable"));

  auto env = fake_env({{"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.url()}});
  imds.has_role = false;
  auto no_role = aws::instance_metadata_credentials(env, fast())->get();
  REQUIRE_FALSE(no_role);
  CHECK(no_role.error().code == errc::no_credentials);
  CHECK_THAT(no_role.error().what(), Catch::Contains("no IAM role"));

  imds.stall_tokens = true;
  auto stalled = aws::instance_metadata_credentials(env, fast())->get();
  REQUIRE_FALSE(stalled);
  CHECK(stalled.error().code == errc::no_credentials);
}

TEST_CASE("IMDS: the chain's last source", "[aws][credentials][imds]") {
  fake_imds imds;
  temp_dir home;
  auto chain = aws::default_credentials_chain(
      fake_env({{"HOME", home.path().string()}, {"AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.server.url()}}), fast());
  auto c = chain->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIAIMDSEXAMPLE");
  CHECK(chain->name() == "EC2 instance metadata");
  REQUIRE(chain->get());
  CHECK(imds.server.requests() == 3);  // cached: the credentials last six hours
}
