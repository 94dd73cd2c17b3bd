// spool::test::queue_wrapper and faulty_queue, the doubles integrators test with: they forward
// what they are not told to break, and break exactly what they are told.
#include <spool/queue/registry.hpp>
#include <spool/test/faulty_queue.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>

#include "queue_helpers.hpp"

namespace q = spool::queue;
using namespace std::chrono_literals;
using spool::errc;
using spool::test::faulty_queue;
using spool::test::queue_op;

namespace {

std::shared_ptr<faulty_queue> fresh() {
  return std::make_shared<faulty_queue>(q::make_memory_queue(queue_test::unique("faulty")));
}

}  // namespace

TEST_CASE("Queue::Faulty::FailNth: the nth call fails without reaching the backend, the others go through",
          "[queue][faulty]") {
  auto queue = fresh();
  queue_test::send(*queue, "job");
  auto d = queue_test::receive(*queue, 1);
  REQUIRE(d.size() == 1);
  queue->fail_nth(queue_op::ack, 2, {errc::io_error, "lost the connection"});
  queue->fail_nth(queue_op::ack, 1, {errc::throttled});
  auto first = queue->ack(d[0]);
  CHECK(first.code == errc::throttled);
  CHECK(first.message == "ack failed on purpose (faulty_queue, call 1)");
  auto second = queue->ack(d[0]);
  CHECK(second.code == errc::io_error);
  CHECK(second.message == "lost the connection");
  // Neither reached the backend: the delivery is still current, and this ack removes it.
  CHECK_FALSE(queue->ack(d[0]));
  CHECK(queue->ack(d[0]).code == errc::lease_lost);  // the backend's own answer now
  CHECK(queue->calls(queue_op::ack) == 4);
  CHECK(queue->failures(queue_op::ack) == 2);
  CHECK(queue->calls(queue_op::send) == 1);
  CHECK(queue->failures(queue_op::send) == 0);
}

TEST_CASE("Queue::Faulty::FailNext: the next n calls fail, or all of them until reset", "[queue][faulty]") {
  auto queue = fresh();
  queue->fail_next(queue_op::send, 2, {errc::no_space, "full"});
  CHECK(queue->send({"a", {}, 0ms}).error().code == errc::no_space);
  CHECK(queue->send({"b", {}, 0ms}).error().code == errc::no_space);
  CHECK(queue->send({"c", {}, 0ms}).has_value());
  queue->fail_next(queue_op::extend, -1, {errc::lease_lost, "refused"});
  auto d = queue_test::receive(*queue, 1);
  REQUIRE(d.size() == 1);
  CHECK(d[0].body == "c");
  for (int i = 0; i < 5; ++i) CHECK(queue->extend(d[0], 10s).error().code == errc::lease_lost);
  queue->reset();
  CHECK(queue->extend(d[0], 10s).has_value());
  CHECK(queue->failures(queue_op::extend) == 5);
  CHECK(queue_test::stats(*queue).visible == 0);  // the failed sends stored nothing
}

TEST_CASE("Queue::Faulty::Delay: calls wait the latency, a cancelled receive stops waiting", "[queue][faulty]") {
  auto queue = fresh();
  queue->delay(queue_op::send, 150ms);
  auto t0 = std::chrono::steady_clock::now();
  queue_test::send(*queue, "slow");
  CHECK(std::chrono::steady_clock::now() - t0 >= 150ms);
  queue->delay(queue_op::receive, 30s);
  std::atomic<bool> cancel{false};
  std::jthread canceller([&] {
    std::this_thread::sleep_for(100ms);
    cancel = true;
  });
  t0 = std::chrono::steady_clock::now();
  auto got = queue->receive({}, &cancel);
  CHECK(std::chrono::steady_clock::now() - t0 < 10s);
  REQUIRE(got.has_value());
}

TEST_CASE("Queue::Faulty::Withdraw: a withdrawn optional operation is undeclared and answers as the default",
          "[queue][faulty]") {
  auto queue = fresh();
  REQUIRE(queue->caps().send_batch);
  REQUIRE(queue->caps().stats);
  REQUIRE(queue->caps().uncounted_release);
  REQUIRE(queue->dead_letters() != nullptr);
  queue->withdraw(queue_op::send_batch);
  queue->withdraw(queue_op::stats);
  queue->withdraw(queue_op::release);
  queue->withdraw(queue_op::redrive);  // any of the store's operations withdraws the store
  const auto caps = queue->caps();
  CHECK_FALSE(caps.send_batch);
  CHECK_FALSE(caps.atomic_send_batch);
  CHECK_FALSE(caps.stats);
  CHECK_FALSE(caps.uncounted_release);
  CHECK(queue->dead_letters() == nullptr);
  auto batch = queue->send_batch({{"x", {}, 0ms}});
  REQUIRE_FALSE(batch.has_value());
  CHECK(batch.error().code == errc::feature_unsupported);
  CHECK(batch.error().message == "send_batch is not supported by the faulty mem queue backend");
  CHECK(queue->stats().error().code == errc::feature_unsupported);
  // release falls back to nack(d, 0): the delivery counts.
  queue_test::send(*queue, "job");
  auto d = queue_test::receive(*queue, 1);
  REQUIRE(d.size() == 1);
  REQUIRE_FALSE(queue->release(d[0]));
  auto again = queue_test::receive(*queue, 1);
  REQUIRE(again.size() == 1);
  CHECK(again[0].receive_count == 2);
}

TEST_CASE("Queue::Wrapper: forwards everything, and has a dead-letter store exactly when the backend does",
          "[queue][faulty]") {
  auto inner = q::make_memory_queue(queue_test::unique("wrapped"));
  spool::test::queue_wrapper w(inner);
  CHECK(w.type_name() == inner->type_name());
  CHECK(w.caps().max_batch == inner->caps().max_batch);
  REQUIRE(w.dead_letters() == &w);
  auto id = queue_test::send(w, "through the wrapper");
  auto d = queue_test::receive(*inner, 1);
  REQUIRE(d.size() == 1);
  CHECK(d[0].message_id == id);
  queue_test::dead_letter(w, d[0], "wrapped");
  auto dead = queue_test::all_dead(*inner);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].reason == "wrapped");
  CHECK(queue_test::value_of(w.dead_letters()->redrive(id)) == 1);

  auto bare = std::make_shared<faulty_queue>(inner);
  bare->withdraw(queue_op::dead_letter);
  spool::test::queue_wrapper over_bare(bare);
  CHECK(over_bare.dead_letters() == nullptr);
}
