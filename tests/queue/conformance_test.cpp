// The conformance suite (spool/test/queue_conformance.hpp) on the built-in backends, and on a
// backend with nothing but the required core (the optional operations withdrawn), which must pass
// it too: what it does not declare is skipped, and must answer feature_unsupported.
#include <spool/queue/registry.hpp>
#include <spool/test/faulty_queue.hpp>
#include <spool/test/queue_conformance.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <set>
#include <string>

#include "queue_helpers.hpp"

namespace conf = spool::test::conformance;
using queue_test::temp_dir;
using queue_test::unique;
using spool::queue::queue_adapter;
using spool::test::queue_op;

namespace {

void check_case(const conf::test_case& c, queue_adapter& q) {
  auto failures = conf::run_case(c, q);
  INFO(c.clause << " / " << c.name << ": " << c.summary << "\n" << conf::to_string(failures));
  CHECK(failures.empty());
}

}  // namespace

TEST_CASE("Queue::Memory::Conformance: mem:// passes every case of the suite", "[queue][conformance]") {
  for (const auto& c : conf::cases()) {
    DYNAMIC_SECTION(c.name) {
      auto q = spool::queue::make_memory_queue(unique("conformance-" + c.name));
      REQUIRE(q);
      check_case(c, *q);
    }
  }
}

TEST_CASE("Queue::File::Conformance: file:// passes every case of the suite", "[queue][conformance]") {
  for (const auto& c : conf::cases()) {
    DYNAMIC_SECTION(c.name) {
      temp_dir dir;
      auto q = queue_test::file_queue(dir.path / (c.name + ".db"));
      check_case(c, *q);
      q.reset();  // close before the directory goes
    }
  }
}

TEST_CASE("Queue::Minimal::Conformance: a backend with only the required operations passes the suite",
          "[queue][conformance]") {
  for (const auto& c : conf::cases()) {
    DYNAMIC_SECTION(c.name) {
      auto q = std::make_shared<spool::test::faulty_queue>(spool::queue::make_memory_queue(unique("minimal")));
      for (auto op : {queue_op::send_batch, queue_op::stats, queue_op::release, queue_op::dead_letter}) q->withdraw(op);
      REQUIRE_FALSE(q->caps().send_batch);
      REQUIRE_FALSE(q->caps().stats);
      REQUIRE_FALSE(q->caps().uncounted_release);
      REQUIRE(q->dead_letters() == nullptr);
      check_case(c, *q);
    }
  }
}

TEST_CASE("Queue::Memory::RunAll: run_all gives each case a fresh queue", "[queue][conformance]") {
  int made = 0;
  auto failures = conf::run_all([&] {
    ++made;
    return spool::queue::make_memory_queue(unique("run-all"));
  });
  INFO(conf::to_string(failures));
  CHECK(failures.empty());
  CHECK(made == static_cast<int>(conf::cases().size()));
}

TEST_CASE("Queue::Conformance::Cases: names are unique and every clause of the contract has cases", "[queue]") {
  std::set<std::string> names, clauses;
  for (const auto& c : conf::cases()) {
    CHECK(names.insert(c.name).second);
    clauses.insert(c.clause);
    CHECK_FALSE(c.summary.empty());
  }
  CHECK(clauses == std::set<std::string>{"delivery", "leases", "release", "batches", "dedup and limits",
                                         "dead letters and stats", "declarations", "concurrency"});
}
