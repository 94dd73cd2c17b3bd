// ECS container credentials against a loopback fake of the agent's endpoint.
#include <catch2/catch.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <atomic>
#include <mutex>

#include "aws/credentials_providers.hpp"
#include "catch_result.hpp"
#include "support/credentials_fixtures.hpp"
#include "support/loopback_server.hpp"

using namespace spool;
using namespace std::chrono_literals;
using spool::test::fake_env;
using spool::test::temp_dir;

namespace {

constexpr const char* auth_token = "Bearer-EXAMPLE-AUTH-TOKEN-do-not-log";
constexpr const char* secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

std::string iso(aws::wall_clock::time_point t) {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(aws::wall_clock::to_time_t(t)));
}

// The agent: answers /creds when the Authorization header is right, counts what it saw.
struct fake_agent {
  std::atomic<long long> lifetime_s{3600};  // set by the test, read on the server's thread
  std::atomic<int> refused{0};
  std::mutex mutex;
  std::string last_authorization, last_target;
  std::string last_expiration;
  test::loopback_server server{[this](const test::server_request& req) { return answer(req); }};

  test::server_response answer(const test::server_request& req) {
    std::lock_guard lock(mutex);
    last_authorization = req.header("Authorization");
    last_target = req.target;
    if (req.method != "GET" || req.target != "/v2/credentials/abc") return {404, {}, "no such path"};
    if (last_authorization != auth_token) {
      ++refused;
      return {401, {}, R"({"message":"bad token"})"};
    }
    last_expiration = iso(aws::wall_clock::now() + std::chrono::seconds(lifetime_s.load()));
    return {200,
            {{"Content-Type", "application/json"}},
            fmt::format(
                R"({{"AccessKeyId":"ASIAECSEXAMPLE","SecretAccessKey":"{}","Token":"ecs-session","Expiration":"{}",)"
                R"("RoleArn":"arn:aws:iam::123456789012:role/task"}})",
                secret, last_expiration)};
  }
};

aws::provider_options fast() {
  aws::provider_options o;
  o.http.connect_timeout = 500ms;
  o.http.idle_timeout = 300ms;
  return o;
}

}  // namespace

TEST_CASE("container: FULL_URI with the authorization token", "[aws][credentials][container]") {
  fake_agent agent;
  auto env = fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/v2/credentials/abc")},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", auth_token}});
  auto c = aws::container_credentials(env, fast())->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIAECSEXAMPLE");
  CHECK(c->secret_access_key == secret);
  CHECK(c->session_token == "ecs-session");
  REQUIRE(c->expiry);
  CHECK(iso(*c->expiry) == agent.last_expiration);
  CHECK(agent.last_authorization == auth_token);
}

TEST_CASE("container: RELATIVE_URI, and the token file before the token", "[aws][credentials][container]") {
  fake_agent agent;
  temp_dir dir;
  auto file = dir.write("token", std::string(auth_token) + "\n");
  auto options = fast();
  options.container_host = agent.server.url();
  auto env = fake_env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", file},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "not-this-one"}});
  auto c = aws::container_credentials(env, options)->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIAECSEXAMPLE");
  CHECK(agent.last_target == "/v2/credentials/abc");
  CHECK(agent.last_authorization == auth_token);

  auto missing = (dir.path() / "absent").string();
  auto no_file = aws::container_credentials(fake_env({{"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc"},
                                                      {"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", missing}}),
                                            options)
                     ->get();
  REQUIRE_FALSE(no_file);
  CHECK(no_file.error().code == errc::invalid_argument);
  CHECK_THAT(no_file.error().what(), Catch::Contains(missing + ": no such file"));
}

TEST_CASE("container: a wrong token is refused without being shown", "[aws][credentials][container]") {
  fake_agent agent;
  auto wrong = std::string(auth_token) + "-wrong";
  auto env = fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/v2/credentials/abc")},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", wrong}});
  auto got = aws::container_credentials(env, fast())->get();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::access_denied);
  CHECK(agent.refused == 1);
  CHECK_THAT(got.error().what(), Catch::Contains("401") && !Catch::Contains(wrong));

  auto split = aws::container_credentials(fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/x")},
                                                    {"AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Injected: 1"}}),
                                          fast())
                   ->get();
  REQUIRE_FALSE(split);
  CHECK(split.error().code == errc::invalid_argument);
}

TEST_CASE("container: plain http only to loopback or the agents' addresses", "[aws][credentials][container]") {
  for (const char* url : {"http://example.com/creds", "http://10.0.0.1/creds", "ftp://127.0.0.1/creds", "not a url"}) {
    INFO(url);
    auto got = aws::container_credentials(fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}}), fast())->get();
    REQUIRE_FALSE(got);
    CHECK(got.error().code == errc::invalid_argument);
  }
  // Allowed hosts are asked (and here refuse the connection: no agent listens on them in tests).
  for (const char* url : {"http://[::1]:1/creds", "http://127.0.0.2:1/creds"}) {
    INFO(url);
    auto got = aws::container_credentials(fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url}}), fast())->get();
    REQUIRE_FALSE(got);
    CHECK(got.error().code == errc::network);
  }
  auto none = aws::container_credentials(fake_env({}), fast())->get();
  CHECK(none.error().code == errc::no_credentials);
}

TEST_CASE("container: retried after a reset and a 500, given up on a stall", "[aws][credentials][container]") {
  std::atomic<int> n{0};
  fake_agent agent;
  test::loopback_server flaky([&](const test::server_request& req) {
    int i = ++n;
    if (i == 1) return test::server_response{0, {}, {}, test::server_response::action::reset};
    if (i == 2) return test::server_response{500, {}, "busy"};
    return agent.answer(req);
  });
  auto env = fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", flaky.url("/v2/credentials/abc")},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", auth_token}});
  auto c = aws::container_credentials(env, fast())->get();
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIAECSEXAMPLE");
  CHECK(n == 3);

  test::loopback_server stalled([](const test::server_request&) {
    return test::server_response{0, {}, {}, test::server_response::action::stall};
  });
  auto got = aws::container_credentials(fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", stalled.url("/creds")},
                                                  {"AWS_CONTAINER_AUTHORIZATION_TOKEN", auth_token}}),
                                        fast())
                 ->get();
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::network);
  CHECK_THAT(got.error().what(), Catch::Contains("container credentials endpoint") && !Catch::Contains(auth_token));
}

TEST_CASE("container: refreshed before expiry through the cache", "[aws][credentials][container][cache]") {
  fake_agent agent;
  auto env = fake_env({{"AWS_CONTAINER_CREDENTIALS_FULL_URI", agent.server.url("/v2/credentials/abc")},
                       {"AWS_CONTAINER_AUTHORIZATION_TOKEN", auth_token}});
  auto options = fast();
  options.refresh_window = 5min;

  agent.lifetime_s = 120;  // inside the window: the next get() fetches again
  auto short_lived = aws::cached_credentials(aws::container_credentials(env, options), options);
  REQUIRE(short_lived->get());
  REQUIRE(short_lived->get());
  CHECK(agent.server.requests() == 2);

  agent.lifetime_s = 3600;  // outside: kept
  auto long_lived = aws::cached_credentials(aws::container_credentials(env, options), options);
  REQUIRE(long_lived->get());
  REQUIRE(long_lived->get());
  REQUIRE(long_lived->get());
  CHECK(agent.server.requests() == 3);
}
