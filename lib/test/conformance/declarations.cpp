// Declarations: what caps() and dead_letters() say is what the backend does. An optional
// operation it does not declare answers errc::feature_unsupported, naming the operation and the
// backend, and changes nothing; one it declares works.
#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

bool mentions(const std::string& text, std::string_view word) { return text.find(word) != std::string::npos; }

// errc::feature_unsupported with a message naming the operation and the backend.
void expect_unsupported(queue_adapter& q, checker& c, const error& e, const std::string& operation,
                        where w = where::current()) {
  if (!c.is(e, errc::feature_unsupported, operation + ", which caps() does not declare", w)) return;
  const std::string name(q.type_name());
  c(mentions(e.message, operation) && mentions(e.message, name),
    "the refusal of " + operation + " is '" + e.message + "'; want a message naming '" + operation + "' and '" + name +
        "'",
    w);
}

void capabilities_consistent(queue_adapter& q, checker& c) {
  const auto caps = q.caps();
  c(!q.type_name().empty(), "type_name() is empty");
  c(caps.max_batch >= 1, "caps().max_batch is 0: receive could never return a message");
  c(caps.max_message_bytes >= 1024, "caps().max_message_bytes is under 1 KiB");
  c(caps.max_lease >= 1000ms, "caps().max_lease is under a second");
  c(!caps.atomic_send_batch || caps.send_batch, "caps().atomic_send_batch without caps().send_batch");
  c(caps.dedup || caps.dedup_window == 0ms, "caps().dedup_window without caps().dedup");
  c(q.dead_letters() == q.dead_letters(), "dead_letters() returned two different stores");
}

void undeclared_operations_unsupported(queue_adapter& q, checker& c) {
  const auto caps = q.caps();
  if (!caps.send_batch) {
    expect_unsupported(q, c, error_of(q.send_batch({msg("never stored")})), "send_batch");
    expect_nothing(q, c, "after an unsupported send_batch");
  }
  if (!caps.stats) expect_unsupported(q, c, error_of(q.stats()), "stats");
}

void declared_operations_work(queue_adapter& q, checker& c) {
  const auto caps = q.caps();
  if (caps.send_batch) {
    auto r = q.send_batch({msg("one of a batch")});
    if (c.ok(r, "send_batch, which caps() declares") && c(r->size() == 1, "send_batch of one gave another count"))
      c.ok(error_of(r->front()), "the one message of a declared send_batch");
  }
  if (caps.stats) c.ok(q.stats(), "stats, which caps() declares");
  if (auto* store = q.dead_letters()) {
    c.ok(store->list_dead("", 10), "list_dead of the store dead_letters() returned");
    c.ok(store->redrive(""), "redrive of the store dead_letters() returned");
  }
  for (const auto& d : drain(q, c, 5000ms)) c.ok(q.ack(d), "ack");
}

}  // namespace

std::vector<test_case> declaration_cases() {
  const std::string clause = "declarations";
  return {
      make_case("capabilities_consistent", clause, "caps() is coherent: batch sizes, limits, flags that imply others",
                capabilities_consistent),
      make_case("undeclared_operations_unsupported", clause,
                "an optional operation caps() does not declare answers feature_unsupported, naming it and the "
                "backend, and changes nothing",
                undeclared_operations_unsupported),
      make_case("declared_operations_work", clause,
                "an optional operation caps() declares (or a dead-letter store dead_letters() returns) works",
                declared_operations_work),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
