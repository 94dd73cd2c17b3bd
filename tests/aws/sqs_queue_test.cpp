// The SQS backend against fauxqs, beyond the conformance suite: partial batch failures, SQS's own
// dead-letter move, permanent failures dead-lettered with their reason (read back with the AWS CLI),
// redrive without move tasks, FIFO dedup across adapters, limits, cancel, batched extends, URIs.
#include <spool/aws/sqs.hpp>
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <set>
#include <thread>

#include "aws/schemes.hpp"
#include "sqs_fixture.hpp"

namespace json = boost::json;
using namespace std::chrono_literals;
using spool::errc;
using spool::queue::delivery;
using spool::queue::outgoing_message;
using spool::queue::receive_options;

namespace {

outgoing_message msg(std::string body, std::string key = {}, std::chrono::milliseconds delay = 0ms) {
  return {std::move(body), std::move(key), delay};
}

std::vector<delivery> receive_all(spool::queue::queue_adapter& q, std::size_t want, std::chrono::milliseconds lease) {
  std::vector<delivery> out;
  for (int i = 0; i < 10 && out.size() < want; ++i) {
    auto got = q.receive({10, 1000ms, lease});
    REQUIRE(got.has_value());
    out.insert(out.end(), got->begin(), got->end());
  }
  return out;
}

long long count_attr(const std::string& url, const char* name) {
  return std::stoll(std::string(sqs_test::attributes(url).at(name).as_string()));
}

}  // namespace

TEST_CASE("Aws::Sqs::Batch: an entry over the size limit fails alone, the others are stored", "[sqs]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("batch"));
  auto q = sqs_test::open(sqs_test::options_for(url));
  const auto limit = q->caps().max_message_bytes;
  auto out = q->send_batch({msg("first"), msg(std::string(limit + 1, 'x')), msg("third")});
  REQUIRE(out.has_value());
  REQUIRE(out->size() == 3);
  CHECK((*out)[0].has_value());
  REQUIRE_FALSE((*out)[1].has_value());
  CHECK((*out)[1].error().code == errc::invalid_argument);
  CHECK((*out)[1].error().message.find(std::to_string(limit)) != std::string::npos);
  CHECK((*out)[2].has_value());

  // The service refuses an entry itself: the queue's limit lowered after the adapter read it.
  sqs_test::call("SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", {{"MaximumMessageSize", "1024"}}}});
  auto second = q->send_batch({msg("fourth"), msg(std::string(4000, 'y')), msg("fifth")});
  REQUIRE(second.has_value());
  REQUIRE(second->size() == 3);
  CHECK((*second)[0].has_value());
  REQUIRE_FALSE((*second)[1].has_value());
  INFO((*second)[1].error().message);
  CHECK((*second)[1].error().code == errc::invalid_argument);
  CHECK((*second)[2].has_value());

  std::set<std::string> bodies;
  for (const auto& d : receive_all(*q, 4, 30'000ms)) {
    bodies.insert(d.body);
    CHECK_FALSE(q->ack(d));
  }
  CHECK(bodies == std::set<std::string>{"first", "third", "fourth", "fifth"});
}

TEST_CASE("Aws::Sqs::DeadLetters: SQS moves a message after maxReceiveCount receives", "[sqs]") {
  auto pair = sqs_test::create_pair("redrive-policy", 2);
  auto q = sqs_test::open(sqs_test::options_for(pair.url));
  auto sent = q->send(msg("poison"));
  REQUIRE(sent.has_value());
  for (int i = 1; i <= 2; ++i) {
    auto got = q->receive({1, 0ms, 30'000ms});
    REQUIRE(got.has_value());
    REQUIRE(got->size() == 1);
    CHECK(got->front().receive_count == i);
    REQUIRE_FALSE(q->nack(got->front(), 0ms));
  }
  auto third = q->receive({1, 1000ms, 30'000ms});
  REQUIRE(third.has_value());
  CHECK(third->empty());

  // The AWS CLI, reading the dead-letter queue, finds it.
  auto cli = json::parse(sqs_test::aws_cli({"sqs", "receive-message", "--queue-url", pair.dead_url,
                                            "--visibility-timeout", "0", "--wait-time-seconds", "1"}));
  const auto& msgs = cli.at("Messages").as_array();
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].at("Body").as_string() == "poison");
  CHECK(msgs[0].at("MessageId").as_string() == sent->message_id);

  auto page = q->dead_letters()->list_dead("", 10);
  REQUIRE(page.has_value());
  REQUIRE(page->records.size() == 1);
  CHECK(page->records[0].message_id == sent->message_id);
  CHECK(page->records[0].reason.find("maxReceiveCount") != std::string::npos);
}

TEST_CASE("Aws::Sqs::DeadLetters: a permanent failure goes to the dead-letter queue at once, with its reason",
          "[sqs]") {
  auto pair = sqs_test::create_pair("permanent", 5);
  auto q = sqs_test::open(sqs_test::options_for(pair.url));
  REQUIRE(q->send(msg("not a video")).has_value());
  auto got = q->receive({1, 0ms, 30'000ms});
  REQUIRE(got.has_value());
  REQUIRE(got->size() == 1);
  const std::string err = R"({"code":"input_not_media","category":"input","message":"no known container format"})";
  REQUIRE_FALSE(q->dead_letters()->dead_letter(got->front(), "permanent failure", err));

  CHECK(count_attr(pair.url, "ApproximateNumberOfMessages") == 0);
  CHECK(count_attr(pair.url, "ApproximateNumberOfMessagesNotVisible") == 0);
  auto cli = json::parse(sqs_test::aws_cli({"sqs", "receive-message", "--queue-url", pair.dead_url,
                                            "--message-attribute-names", "All", "--visibility-timeout", "0"}));
  const auto& msgs = cli.at("Messages").as_array();
  REQUIRE(msgs.size() == 1);
  CHECK(msgs[0].at("Body").as_string() == "not a video");
  const auto& attrs = msgs[0].at("MessageAttributes");
  CHECK(attrs.at("spool.reason").at("StringValue").as_string() == "permanent failure");
  CHECK(attrs.at("spool.error").at("StringValue").as_string() == err);
  CHECK(attrs.at("spool.id").at("StringValue").as_string() == got->front().message_id);
}

TEST_CASE("Aws::Sqs::DeadLetters: redrive without move tasks receives, sends back and deletes", "[sqs]") {
  auto pair = sqs_test::create_pair("redrive", 100);
  auto options = sqs_test::options_for(pair.url);
  REQUIRE(options.use_move_task);  // fauxqs has no StartMessageMoveTask: the adapter falls back
  auto q = sqs_test::open(options);
  for (const char* body : {"a", "b", "c"}) REQUIRE(q->send(msg(body)).has_value());
  for (const auto& d : receive_all(*q, 3, 30'000ms)) REQUIRE_FALSE(q->dead_letters()->dead_letter(d, "bad", ""));
  CHECK(count_attr(pair.dead_url, "ApproximateNumberOfMessages") == 3);
  auto moved = q->dead_letters()->redrive("");
  INFO((moved ? "" : moved.error().what()));
  REQUIRE(moved.has_value());
  CHECK(*moved == 3);
  CHECK(count_attr(pair.dead_url, "ApproximateNumberOfMessages") == 0);
  CHECK(count_attr(pair.dead_url, "ApproximateNumberOfMessagesNotVisible") == 0);
  CHECK(count_attr(pair.url, "ApproximateNumberOfMessages") == 3);
  std::set<std::string> bodies;
  for (const auto& d : receive_all(*q, 3, 30'000ms)) {
    bodies.insert(d.body);
    CHECK(d.receive_count == 1);
  }
  CHECK(bodies == std::set<std::string>{"a", "b", "c"});
}

TEST_CASE("Aws::Sqs::Stats: counts from the queue's and the dead-letter queue's attributes", "[sqs]") {
  auto pair = sqs_test::create_pair("stats", 100);
  auto q = sqs_test::open(sqs_test::options_for(pair.url));
  for (const char* body : {"a", "b", "c"}) REQUIRE(q->send(msg(body)).has_value());
  REQUIRE(q->send(msg("later", "", 60'000ms)).has_value());
  auto got = q->receive({2, 0ms, 30'000ms});
  REQUIRE(got.has_value());
  REQUIRE(got->size() == 2);
  REQUIRE_FALSE(q->dead_letters()->dead_letter(got->front(), "bad", ""));
  auto s = q->stats();
  REQUIRE(s.has_value());
  CHECK(s->visible == 1);
  CHECK(s->in_flight == 1);
  CHECK(s->delayed == 1);
  CHECK(s->dead == 1);
}

TEST_CASE("Aws::Sqs::Fifo: a dedup key sent twice, even by two adapters, queues one message", "[sqs]") {
  auto pair = sqs_test::create_pair("fifo", 100, true);
  auto a = sqs_test::open(sqs_test::options_for(pair.url));
  auto b = sqs_test::open(sqs_test::options_for(pair.url));
  CHECK(a->caps().dedup);
  CHECK(a->caps().dedup_window == std::chrono::minutes(5));
  auto first = a->send(msg("upload 7", "upload-7"));
  REQUIRE(first.has_value());
  CHECK_FALSE(first->duplicate);
  auto again = a->send(msg("upload 7, retried", "upload-7"));
  REQUIRE(again.has_value());
  CHECK(again->duplicate);
  CHECK(again->message_id == first->message_id);
  // Another process knows nothing of the first send; SQS itself drops the copy.
  auto other = b->send(msg("upload 7, elsewhere", "upload-7"));
  REQUIRE(other.has_value());
  CHECK(other->message_id == first->message_id);
  auto all = receive_all(*a, 1, 30'000ms);
  REQUIRE(all.size() == 1);
  CHECK(all[0].body == "upload 7");
  auto more = a->receive({10, 0ms, 30'000ms});
  REQUIRE(more.has_value());
  CHECK(more->empty());
  // A delay per message is not something a FIFO queue takes.
  auto delayed = a->send(msg("x", "", 1000ms));
  REQUIRE_FALSE(delayed.has_value());
  CHECK(delayed.error().code == errc::invalid_argument);
  // A standard queue does not claim dedup.
  auto standard = sqs_test::open(sqs_test::options_for(sqs_test::create_queue(sqs_test::unique_name("std"))));
  CHECK_FALSE(standard->caps().dedup);
  CHECK(standard->caps().dedup_window == 0ms);
}

TEST_CASE("Aws::Sqs::Limits: bodies over the queue's size and leases past 12 hours are refused with the limit",
          "[sqs]") {
  const auto url = sqs_test::create_queue(sqs_test::unique_name("limits"), {{"MaximumMessageSize", "262144"}});
  auto q = sqs_test::open(sqs_test::options_for(url));
  const auto limit = q->caps().max_message_bytes;
  CHECK(limit < 262144);
  auto big = q->send(msg(std::string(limit + 1, 'x')));
  REQUIRE_FALSE(big.has_value());
  CHECK(big.error().code == errc::invalid_argument);
  CHECK(big.error().message.find("262144") != std::string::npos);
  REQUIRE(q->send(msg(std::string(limit, 'x'))).has_value());  // the limit itself is taken

  auto too_long = q->receive({1, 0ms, 12h + 1s});
  REQUIRE_FALSE(too_long.has_value());
  CHECK(too_long.error().code == errc::invalid_argument);
  CHECK(too_long.error().message.find("43200") != std::string::npos);
  auto got = q->receive({1, 0ms, 30'000ms});
  REQUIRE(got.has_value());
  REQUIRE(got->size() == 1);
  CHECK(got->front().body.size() == limit);
  auto ext = q->extend(got->front(), 13h);
  REQUIRE_FALSE(ext.has_value());
  CHECK(ext.error().code == errc::invalid_argument);
  CHECK_FALSE(q->ack(got->front()));
}

TEST_CASE("Aws::Sqs::Cancel: a 20 s long poll returns soon after cancel", "[sqs]") {
  auto q = sqs_test::open(sqs_test::options_for(sqs_test::create_queue(sqs_test::unique_name("cancel"))));
  std::atomic<bool> cancel{false};
  const auto t0 = std::chrono::steady_clock::now();
  spool::result<std::vector<delivery>> got = std::vector<delivery>{};
  {
    std::jthread canceller([&] {
      std::this_thread::sleep_for(300ms);
      cancel = true;
    });
    got = q->receive({1, 20'000ms, 30'000ms}, &cancel);
  }
  REQUIRE(got.has_value());
  CHECK(got->empty());
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("Aws::Sqs::Extend: extend_batch extends many leases in batches, a stale receipt fails alone", "[sqs]") {
  auto q = sqs_test::open(sqs_test::options_for(sqs_test::create_queue(sqs_test::unique_name("extend"))));
  std::vector<outgoing_message> msgs;
  for (int i = 0; i < 12; ++i) msgs.push_back(msg("job " + std::to_string(i)));
  REQUIRE(q->send_batch(std::vector<outgoing_message>(msgs.begin(), msgs.begin() + 10)).has_value());
  REQUIRE(q->send_batch(std::vector<outgoing_message>(msgs.begin() + 10, msgs.end())).has_value());
  auto held = receive_all(*q, 12, 1000ms);
  REQUIRE(held.size() == 12);
  auto stale = held[5];
  stale.receipt = "not-a-receipt";
  held.push_back(stale);
  auto out = q->extend_batch(held, 10'000ms);
  REQUIRE(out.size() == 13);
  for (std::size_t i = 0; i < 12; ++i) CHECK(out[i].has_value());
  REQUIRE_FALSE(out[12].has_value());
  CHECK(out[12].error().code == errc::lease_lost);
  std::this_thread::sleep_for(1500ms);  // past the first 1 s lease
  auto again = q->receive({10, 0ms, 30'000ms});
  REQUIRE(again.has_value());
  CHECK(again->empty());
  for (std::size_t i = 0; i < 12; ++i) CHECK_FALSE(q->ack(held[i]));
}

TEST_CASE("Aws::Sqs::Open: a missing queue is invalid_argument naming it, sqs:// opens through the registry", "[sqs]") {
  auto options = sqs_test::options_for("");
  options.queue_name = "spool-no-such-queue";
  auto missing = spool::aws::make_sqs_queue(options);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == errc::invalid_argument);
  CHECK(missing.error().message.find("spool-no-such-queue") != std::string::npos);
  CHECK(missing.error().message.find(options.credentials->get()->secret_access_key) == std::string::npos);

  const auto name = sqs_test::unique_name("uri");
  const auto url = sqs_test::create_queue(name);
  spool::aws::register_sqs_scheme();
  ::setenv("AWS_ENDPOINT_URL_SQS", sqs_test::endpoint().c_str(), 1);
  ::setenv("AWS_ACCESS_KEY_ID", "AKIDSPOOLTEST", 1);
  ::setenv("AWS_SECRET_ACCESS_KEY", "spool-test-secret", 1);
  struct unset_at_exit {
    ~unset_at_exit() {
      for (const char* name : {"AWS_ENDPOINT_URL_SQS", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}) ::unsetenv(name);
    }
  } unset;
  // The default chain reads the environment on each call.
  auto q = spool::queue::open_queue("sqs://us-east-1/000000000000/" + name);
  INFO((q ? "" : q.error().what()));
  REQUIRE(q.has_value());
  CHECK((*q)->type_name() == "sqs");
  auto sent = (*q)->send(msg("via the uri"));
  INFO((sent ? "" : sent.error().what()));
  REQUIRE(sent.has_value());
  // The message is on the queue the URI names, as the service sees it.
  auto cli = json::parse(sqs_test::aws_cli({"sqs", "receive-message", "--queue-url", url}));
  REQUIRE(cli.at("Messages").as_array().size() == 1);
  CHECK(cli.at("Messages").at(0).at("MessageId").as_string() == sent->message_id);
}
