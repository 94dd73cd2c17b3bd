// The SQS backend through a loopback proxy in front of fauxqs that fails calls on request (500s,
// resets before the call reaches the service, and resets after it did). Throttling is
// sqs_proxy_test.cpp's. What the queue holds is read straight from fauxqs, never through spool.
#include <spool/aws/sqs.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <set>
#include <vector>

#include "sqs_fixture.hpp"
#include "support/fault_proxy.hpp"

namespace json = boost::json;
using spool::test::aws::fault;
using spool::test::aws::fault_proxy;
using namespace std::chrono_literals;

namespace {

const std::string target = "POST / AmazonSQS.";

int seen(const fault_proxy& proxy, const std::string& action) {
  int n = 0;
  for (const auto& line : proxy.seen()) n += line == target + action ? 1 : 0;
  return n;
}

// Every message in the queue, visible or leased, as the service counts them.
long long held(const std::string& url) {
  auto a = sqs_test::attributes(url);
  return std::stoll(std::string(a.at("ApproximateNumberOfMessages").as_string())) +
         std::stoll(std::string(a.at("ApproximateNumberOfMessagesNotVisible").as_string()));
}

// Receives (and hides for a minute) every visible message, straight from fauxqs; their count.
int drain(const std::string& url) {
  int n = 0;
  for (int round = 0; round < 50; ++round) {
    auto answer = sqs_test::call(
        "ReceiveMessage",
        {{"QueueUrl", url}, {"MaxNumberOfMessages", 10}, {"VisibilityTimeout", 60}, {"WaitTimeSeconds", 0}});
    const auto* messages = answer.as_object().if_contains("Messages");
    if (!messages || messages->as_array().empty()) return n;
    n += static_cast<int>(messages->as_array().size());
  }
  FAIL("the queue never ran dry");
  return n;
}

}  // namespace

TEST_CASE("Aws::Sqs::Faults: receive, extend and ack through 500s and resets lose nothing and ack each once",
          "[aws][faults]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("faults"));
  fault_proxy proxy(sqs_test::endpoint());
  auto options = sqs_test::options_for(url);
  options.endpoint = proxy.endpoint();
  auto q = sqs_test::open(options);

  constexpr int count = 6;
  std::set<std::string> sent;
  for (int i = 0; i < count; ++i) {
    auto s = q->send({"job " + std::to_string(i), "", 0ms});
    REQUIRE(s.has_value());
    sent.insert(s->message_id);
  }
  REQUIRE(held(url) == count);

  proxy.script_for(target + "ReceiveMessage", {fault::internal_error(), fault::connection_reset()});
  proxy.script_for(target + "ChangeMessageVisibility", {fault::connection_reset(), fault::internal_error()});
  proxy.script_for(target + "DeleteMessage",
                   {fault::internal_error(), fault::connection_reset(), fault::internal_error()});
  std::map<std::string, int> acked;
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (static_cast<int>(acked.size()) < count && std::chrono::steady_clock::now() < give_up) {
    auto got = q->receive({10, 1000ms, 30'000ms});
    INFO((got ? "" : got.error().what()));
    REQUIRE(got.has_value());
    for (const auto& d : *got) {
      auto extended = q->extend(d, 60'000ms);
      INFO((extended ? "" : extended.error().what()));
      REQUIRE(extended.has_value());
      auto e = q->ack(d);
      INFO(e.what());
      REQUIRE_FALSE(e);
      ++acked[d.message_id];
    }
  }
  CHECK(proxy.pending() == 0);  // every fault met a call
  CHECK(seen(proxy, "DeleteMessage") == count + 3);
  REQUIRE(static_cast<int>(acked.size()) == count);
  for (const auto& [id, times] : acked) {
    INFO(id);
    CHECK(times == 1);
    CHECK(sent.count(id) == 1);
  }
  CHECK(held(url) == 0);
  CHECK(drain(url) == 0);
}

TEST_CASE("Aws::Sqs::Faults: a receive whose answer is lost hides the message for one lease, no longer",
          "[aws][faults]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("faults-receive"));
  fault_proxy proxy(sqs_test::endpoint());
  auto options = sqs_test::options_for(url);
  options.endpoint = proxy.endpoint();
  auto q = sqs_test::open(options);
  auto sent = q->send({"leased by a lost answer", "", 0ms});
  REQUIRE(sent.has_value());

  proxy.script_for(target + "ReceiveMessage", {fault::reset_after_forwarding()});
  std::vector<spool::queue::delivery> got;
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (got.empty() && std::chrono::steady_clock::now() < give_up) {
    auto r = q->receive({1, 2000ms, 1000ms});
    INFO((r ? "" : r.error().what()));
    REQUIRE(r.has_value());
    got = *r;
  }
  REQUIRE(got.size() == 1);
  CHECK(proxy.pending() == 0);
  CHECK(got.front().message_id == sent->message_id);
  CHECK(got.front().receive_count == 2);  // the lost delivery counts
  REQUIRE_FALSE(q->ack(got.front()));
  CHECK(held(url) == 0);
}

TEST_CASE("Aws::Sqs::Faults: a send whose answer is lost is retried: at least once on a standard queue",
          "[aws][faults]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("faults-lost"));
  fault_proxy proxy(sqs_test::endpoint());
  auto options = sqs_test::options_for(url);
  options.endpoint = proxy.endpoint();
  auto q = sqs_test::open(options);

  proxy.script_for(target + "SendMessage", {fault::reset_after_forwarding()});
  auto s = q->send({"stored, answer lost", "", 0ms});
  INFO((s ? "" : s.error().what()));
  REQUIRE(s.has_value());
  CHECK(proxy.pending() == 0);
  CHECK(seen(proxy, "SendMessage") == 2);
  // Both SendMessage calls reached the service: a standard queue keeps both (never none).
  const int copies = drain(url);
  CHECK(copies >= 1);
  WARN("a SendMessage retried after its answer was lost left " << copies << " cop" << (copies == 1 ? "y" : "ies"));
}

TEST_CASE("Aws::Sqs::Faults: on a FIFO queue the retried send of a lost answer is de-duplicated", "[aws][faults]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("faults-fifo") + ".fifo", {{"FifoQueue", "true"}});
  fault_proxy proxy(sqs_test::endpoint());
  auto options = sqs_test::options_for(url);
  options.endpoint = proxy.endpoint();
  auto q = sqs_test::open(options);

  proxy.script_for(target + "SendMessage", {fault::reset_after_forwarding()});
  auto keyed = q->send({"keyed", "submit-42", 0ms});
  INFO((keyed ? "" : keyed.error().what()));
  REQUIRE(keyed.has_value());
  CHECK_FALSE(keyed->duplicate);
  CHECK(proxy.pending() == 0);
  // Without a key, one send still carries one deduplication id through its retries.
  proxy.script_for(target + "SendMessage", {fault::reset_after_forwarding()});
  auto unkeyed = q->send({"unkeyed", "", 0ms});
  INFO((unkeyed ? "" : unkeyed.error().what()));
  REQUIRE(unkeyed.has_value());
  CHECK(proxy.pending() == 0);
  CHECK(seen(proxy, "SendMessage") == 4);  // each reached the service twice
  CHECK(drain(url) == 2);

  // The same key again is the first message, not a third one.
  auto again = q->send({"keyed", "submit-42", 0ms});
  REQUIRE(again.has_value());
  CHECK(again->duplicate);
  CHECK(again->message_id == keyed->message_id);
}
