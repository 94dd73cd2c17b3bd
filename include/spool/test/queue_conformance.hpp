#pragma once
// The queue conformance suite: one set of checks every queue backend runs, built-in or an
// integrator's own (link spool::test). Each case takes a fresh, empty queue, exercises one clause
// of the contract in spool/queue/adapter.hpp and reports a `failure` for every check that does not
// hold. The suite honours what a backend declares: it skips what caps() says the backend cannot do
// (fencing, dedup, delays, batch send, stats; no dead-letter store), expects what it says it does
// (release counts or not, by caps().uncounted_release), and checks that every optional operation
// the backend does not declare answers errc::feature_unsupported. It does not depend on a test
// framework, and uses real time (leases of a few hundred milliseconds): every case takes well
// under two seconds.
//
// From any test framework, e.g. Catch2:
//
//   #include <spool/test/queue_conformance.hpp>
//
//   TEST_CASE("MyQueue::Conformance") {
//     namespace conf = spool::test::conformance;
//     auto failures = conf::run_all([] { return std::make_shared<my_queue>(fresh_name()); });
//     INFO(conf::to_string(failures));
//     CHECK(failures.empty());
//   }
//
// or case by case (one fresh queue per case):
//
//   for (const auto& c : conf::cases()) {
//     auto q = make_fresh_queue();
//     auto failures = conf::run_case(c, *q);
//     ...
//   }
#include <spool/queue/adapter.hpp>
#include <spool/version.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance {

/// One check that did not hold: the case's name and what was wrong (with the suite's file and line).
struct SPOOL_API failure {
  std::string test;
  std::string what;
};

/// One case of the suite. `run` must be given a fresh, empty queue; it appends failures to its
/// second argument and does not throw on its own (run_case turns a backend's exception into a failure).
struct SPOOL_API test_case {
  std::string name;     ///< snake_case, stable
  std::string clause;   ///< the part of the contract it checks: "delivery", "leases", "batches", ...
  std::string summary;  ///< what it checks, one line
  std::function<void(queue::queue_adapter&, std::vector<failure>&)> run;
};

/// Every case, grouped by clause, in a fixed order.
SPOOL_API std::vector<test_case> cases();

/// Runs one case on `q` (which must be fresh and empty); an exception becomes a failure.
SPOOL_API std::vector<failure> run_case(const test_case& t, queue::queue_adapter& q);

/// Runs every case on fresh queues from `make` (called once per case) and returns the failures.
SPOOL_API std::vector<failure> run_all(const std::function<std::shared_ptr<queue::queue_adapter>()>& make);

/// The failures, one per line ("case: what").
SPOOL_API std::string to_string(const std::vector<failure>& failures);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance
