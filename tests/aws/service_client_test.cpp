// The signed, retrying service client against a scripted loopback server: which answers are retried
// and how often, the shared retry budget, clock-skew correction, interruption during a backoff.
#include "aws/service_client.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <string>
#include <vector>

#include "catch_result.hpp"
#include "support/loopback_server.hpp"

using namespace spool::test;
using namespace std::chrono_literals;
using spool::errc;
using spool::aws::http_request;
using spool::aws::parse_service_error;
using spool::aws::service_client;
using spool::aws::service_options;
using spool::aws::to_error;

namespace {

constexpr const char* secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY-unit";

service_options options_for(const loopback_server& server, int attempts = 4) {
  service_options o;
  o.where = {"us-east-1", "sqs"};
  o.endpoint = server.url();
  o.retry.max_attempts = attempts;
  o.retry.base = 1ms;  // keep the backoffs short; their bounds are what matters here
  o.retry.cap = 5ms;
  return o;
}

std::shared_ptr<spool::aws::credentials_provider> creds() {
  return spool::aws::static_credentials({"AKIDUNITTEST", secret, "session-token-unit", std::nullopt, "test"});
}

http_request sqs_call(const loopback_server& server) {
  http_request r;
  r.method = "POST";
  r.url = server.url("/");
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS.ListQueues"}};
  r.body = "{}";
  return r;
}

server_response answer(int status, std::string body, std::string type = "application/x-amz-json-1.0") {
  server_response r;
  r.status = status;
  r.body = std::move(body);
  r.headers = {{"Content-Type", std::move(type)}};
  return r;
}

std::string http_date(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

}  // namespace

TEST_CASE("aws service client: 503s, 500s and resets are retried, each attempt signed afresh", "[aws][retry]") {
  std::mutex m;
  std::vector<std::string> signatures;
  loopback_server server([&](const server_request& req) {
    std::lock_guard lock(m);
    signatures.push_back(req.header("Authorization"));
    switch (signatures.size()) {
      case 1: return answer(503, "");
      case 2: return answer(500, R"({"__type":"InternalError","message":"try again"})");
      case 3: {
        server_response reset;
        reset.then = server_response::action::reset;
        return reset;
      }
      default: return answer(200, R"({"QueueUrls":[]})");
    }
  });
  service_client client(options_for(server), creds());
  auto got = client.call(sqs_call(server));
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(server.requests() == 4);
  std::lock_guard lock(m);
  for (const auto& s : signatures) CHECK(s.rfind("AWS4-HMAC-SHA256 Credential=AKIDUNITTEST/", 0) == 0);
}

TEST_CASE("aws service client: throttling is retried up to the attempt limit, then is errc::throttled",
          "[aws][retry]") {
  loopback_server server([](const server_request&) {
    return answer(400, R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"})");
  });
  service_client client(options_for(server, 3), creds());
  auto got = client.call(sqs_call(server));
  REQUIRE(got);  // the last answer, for the caller to put in its own words
  CHECK(server.requests() == 3);
  auto e = to_error(parse_service_error(*got), "ListQueues");
  CHECK(e.code == errc::throttled);
  CHECK(e.message.find("ThrottlingException") != std::string::npos);
  CHECK(e.message.find(secret) == std::string::npos);
}

TEST_CASE("aws service client: S3's SlowDown is retried, a client error is not", "[aws][retry]") {
  std::atomic<int> n{0};
  loopback_server server([&](const server_request& req) {
    if (req.target.find("missing") != std::string::npos)
      return answer(404, "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>",
                    "application/xml");
    return ++n < 3 ? answer(503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>",
                            "application/xml")
                   : answer(200, "ok", "text/plain");
  });
  auto o = options_for(server);
  o.where.service = "s3";
  service_client client(o, creds());
  http_request get;
  get.url = server.url("/bucket/key");
  auto slow = client.call(get);
  REQUIRE(slow);
  CHECK(slow->body == "ok");
  CHECK(n == 3);

  int before = server.requests();
  get.url = server.url("/bucket/missing");
  auto missing = client.call(get);
  REQUIRE(missing);
  CHECK(missing->status == 404);
  CHECK(server.requests() == before + 1);
  auto e = parse_service_error(*missing);
  CHECK(e.code == "NoSuchKey");
}

TEST_CASE("aws service client: the retry budget is shared, so a failing service is not hammered", "[aws][retry]") {
  loopback_server server([](const server_request&) { return answer(500, ""); });
  auto o = options_for(server, 10);
  o.retry.budget = 3;
  service_client client(o, creds());
  auto first = client.call(sqs_call(server));
  REQUIRE(first);
  CHECK(server.requests() == 4);  // the first attempt and the three retries the budget holds
  auto second = client.call(sqs_call(server));
  REQUIRE(second);
  CHECK(server.requests() == 5);  // budget spent: one attempt, no retry
}

TEST_CASE("aws service client: a request refused as skewed is signed again with the server's clock", "[aws][retry]") {
  const auto server_now = [] { return std::chrono::system_clock::now() + 2h; };
  loopback_server server([&](const server_request& req) {
    // The server judges X-Amz-Date against its own clock, two hours ahead of the test's.
    std::tm tm{};
    strptime(req.header("X-Amz-Date").c_str(), "%Y%m%dT%H%M%SZ", &tm);
    auto sent = std::chrono::system_clock::from_time_t(timegm(&tm));
    auto skew = server_now() - sent;
    server_response r;
    if (skew > 5min || skew < -5min) {
      r = answer(403,
                 "<Error><Code>RequestTimeTooSkewed</Code><Message>The difference between the request time "
                 "and the current time is too large.</Message></Error>",
                 "application/xml");
    } else {
      r = answer(200, "{}");
    }
    r.headers.emplace_back("Date", http_date(server_now()));
    return r;
  });
  service_client client(options_for(server, 1), creds());  // no retries: the correction is not one
  auto got = client.call(sqs_call(server));
  REQUIRE(got);
  CHECK(got->status == 200);
  CHECK(server.requests() == 2);
  CHECK(client.clock_offset() > 110min);
  CHECK(client.clock_offset() < 130min);
  auto again = client.call(sqs_call(server));
  REQUIRE(again);
  CHECK(again->status == 200);
  CHECK(server.requests() == 3);  // the corrected clock holds for later calls
}

TEST_CASE("aws service client: an interrupt ends a backoff at once", "[aws][retry]") {
  loopback_server server([](const server_request&) { return answer(503, ""); });
  auto o = options_for(server, 5);
  o.retry.base = o.retry.cap = 10min;  // a backoff only the interrupt can end
  service_client client(o, creds());
  std::atomic<int> asked{0};
  auto got = client.call(sqs_call(server), {}, {}, [&]() -> spool::error_code {
    return server.requests() >= 1 && ++asked > 2 ? spool::make_error_code(errc::cancelled) : spool::error_code{};
  });
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::cancelled);
  CHECK(server.requests() == 1);
}
