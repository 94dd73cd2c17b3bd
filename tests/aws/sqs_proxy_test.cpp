// The SQS backend through a loopback proxy in front of fauxqs that answers some actions itself: a
// StartMessageMoveTask (fauxqs has none) to check the redrive that asks SQS to move the messages, and
// ThrottlingException to check that throttling is retried, then reported as throttled.
#include <spool/aws/sqs.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <mutex>

#include "aws/http_client.hpp"
#include "sqs_fixture.hpp"
#include "support/loopback_server.hpp"

namespace json = boost::json;
using spool::errc;
using spool::test::server_request;
using spool::test::server_response;

namespace {

// Forwards to fauxqs what `intercept` leaves alone.
struct sqs_proxy {
  std::function<std::optional<server_response>(const std::string& action, const server_request&)> intercept;
  spool::aws::http_client http;
  spool::test::loopback_server server{[this](const server_request& r) { return handle(r); }};

  server_response handle(const server_request& r) {
    const std::string action = r.header("X-Amz-Target").substr(std::string("AmazonSQS.").size());
    if (intercept)
      if (auto answer = intercept(action, r)) return *answer;
    spool::aws::http_request fwd{"POST", sqs_test::endpoint() + "/", {}, r.body, nullptr};
    fwd.headers = {{"Content-Type", r.header("Content-Type")}, {"X-Amz-Target", r.header("X-Amz-Target")}};
    auto answer = http.send(fwd);
    if (!answer) return {502, {}, answer.error().what()};
    return {answer->status, {{"Content-Type", "application/x-amz-json-1.0"}}, answer->body};
  }
};

server_response throttling() {
  return {400,
          {{"Content-Type", "application/x-amz-json-1.0"}},
          R"({"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"})"};
}

}  // namespace

TEST_CASE("Aws::Sqs::Redrive: a redrive of every dead letter asks SQS for a move task back to the main queue",
          "[sqs]") {
  auto pair = sqs_test::create_pair("move-task", 100);
  std::mutex m;
  std::vector<json::object> tasks;
  sqs_proxy proxy;
  proxy.intercept = [&](const std::string& action, const server_request& r) -> std::optional<server_response> {
    if (action != "StartMessageMoveTask") return std::nullopt;
    std::lock_guard lock(m);
    tasks.push_back(json::parse(r.body).as_object());
    return server_response{200, {{"Content-Type", "application/x-amz-json-1.0"}}, R"({"TaskHandle":"task-1"})"};
  };
  auto options = sqs_test::options_for(pair.url);
  options.endpoint = proxy.server.url();
  auto q = sqs_test::open(options);
  for (const char* body : {"a", "b"}) REQUIRE(q->send({body, "", std::chrono::milliseconds(0)}).has_value());
  auto got = q->receive({10, std::chrono::milliseconds(1000), std::chrono::milliseconds(30'000)});
  REQUIRE(got.has_value());
  REQUIRE(got->size() == 2);
  for (const auto& d : *got) REQUIRE_FALSE(q->dead_letters()->dead_letter(d, "bad", ""));

  auto moved = q->dead_letters()->redrive("");
  INFO((moved ? "" : moved.error().what()));
  REQUIRE(moved.has_value());
  CHECK(*moved == 2);
  std::lock_guard lock(m);
  REQUIRE(tasks.size() == 1);
  CHECK(tasks[0].at("SourceArn") == sqs_test::attributes(pair.dead_url).at("QueueArn"));
  CHECK(tasks[0].at("DestinationArn") == sqs_test::attributes(pair.url).at("QueueArn"));
  // A redrive of one message is never a move task.
  auto one = q->dead_letters()->redrive(got->front().message_id);
  REQUIRE(one.has_value());
  CHECK(*one == 1);
  CHECK(tasks.size() == 1);
}

TEST_CASE("Aws::Sqs::Throttling: throttled calls are retried, and reported as throttled when it persists", "[sqs]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("throttle"));
  std::atomic<int> refusals{0};  // SendMessage calls to refuse
  std::atomic<int> refused{0};
  sqs_proxy proxy;
  proxy.intercept = [&](const std::string& action, const server_request&) -> std::optional<server_response> {
    if (action != "SendMessage" || refusals.load() == 0) return std::nullopt;
    --refusals;
    ++refused;
    return throttling();
  };
  auto options = sqs_test::options_for(url);
  options.endpoint = proxy.server.url();
  auto q = sqs_test::open(options);

  refusals = 2;
  auto sent = q->send({"after two refusals", "", std::chrono::milliseconds(0)});
  INFO((sent ? "" : sent.error().what()));
  REQUIRE(sent.has_value());
  CHECK(refused == 2);
  auto got = q->receive({1, std::chrono::milliseconds(1000), std::chrono::milliseconds(30'000)});
  REQUIRE(got.has_value());
  REQUIRE(got->size() == 1);
  CHECK(got->front().message_id == sent->message_id);

  refusals = 1000;
  auto refused_send = q->send({"never", "", std::chrono::milliseconds(0)});
  REQUIRE_FALSE(refused_send.has_value());
  CHECK(refused_send.error().code == errc::throttled);
  refusals = 0;
}
