// Dedup keys and limits: a repeated key queues nothing for as long as the backend remembers it;
// requests beyond caps() are refused and change nothing.
#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void dedup_key(queue_adapter& q, checker& c) {
  if (!q.caps().dedup) return;
  send_result a, b, other;
  if (!send1(q, c, msg("first", 0ms, "job-42"), a)) return;
  c(!a.duplicate, "first send with a dedup_key reported duplicate = true");
  if (!send1(q, c, msg("second", 0ms, "job-42"), b)) return;
  c(b.duplicate, "second send with the same dedup_key reported duplicate = false");
  c(b.message_id == a.message_id, "second send with the same dedup_key returned id '" + b.message_id +
                                      "', want the first message's '" + a.message_id + "'");
  if (!send1(q, c, msg("other", 0ms, "job-43"), other)) return;
  c(!other.duplicate, "send with a different dedup_key reported duplicate = true");
  c(other.message_id != a.message_id, "different dedup_keys got the same message id");
  expect_stats(q, c, "after two sends with one key and one with another", 2, 0, 0, 0);

  auto all = drain(q, c, 5000ms);
  c(all.size() == 2, std::to_string(all.size()) + " deliveries for two distinct dedup_keys, want 2");
  for (const auto& d : all)
    if (d.message_id == a.message_id) c(d.body == "first", "the deduplicated message's body is '" + d.body + "'");

  // While the message is leased it still exists: the key is still remembered.
  send_result again;
  if (send1(q, c, msg("third", 0ms, "job-42"), again)) {
    c(again.duplicate && again.message_id == a.message_id,
      "send with the key of a leased message was not reported as a duplicate of it");
  }
  expect_stats(q, c, "after a duplicate send while leased", 0, 2, 0, 0);
  for (const auto& d : all) c.ok(q.ack(d), "ack");
  expect_empty(q, c, "after acking both");
}

void dedup_after_ack(queue_adapter& q, checker& c) {
  if (!q.caps().dedup || q.caps().dedup_window <= 0ms) return;
  send_result a;
  if (!send1(q, c, msg("job", 0ms, "upload-7"), a)) return;
  auto got = drain(q, c, 5000ms);
  c(got.size() == 1, std::to_string(got.size()) + " deliveries of one message, want 1");
  for (const auto& d : got) c.ok(q.ack(d), "ack");
  // The host retries its submit after the job finished: within the window nothing is queued.
  send_result again;
  if (!send1(q, c, msg("job, retried", 0ms, "upload-7"), again)) return;
  c(again.duplicate, "a send with the key of an acknowledged message reported duplicate = false");
  c(again.message_id == a.message_id, "a send with the key of an acknowledged message returned id '" +
                                          again.message_id + "', want '" + a.message_id + "'");
  expect_empty(q, c, "after a duplicate of an acknowledged message");
  // A keyless message's ack remembers nothing.
  send_result k1, k2;
  if (send1(q, c, msg("no key"), k1) && send1(q, c, msg("no key"), k2))
    c(!k2.duplicate && k1.message_id != k2.message_id, "two keyless sends were taken as duplicates");
}

// A refusal is invalid_argument and says which limit in words.
bool refused(checker& c, const error& e, const std::string& what, where w = where::current()) {
  if (!c.is(e, errc::invalid_argument, what, w)) return false;
  return c(!e.message.empty(), what + ": the refusal has no message saying which limit", w);
}
template <class T>
bool refused(checker& c, const result<T>& r, const std::string& what, where w = where::current()) {
  return refused(c, error_of(r), what, w);
}

void limits_refused(queue_adapter& q, checker& c) {
  const auto caps = q.caps();
  refused(c, q.send(msg("too late", caps.max_delay + 1ms)), "a send delayed beyond caps().max_delay");
  if (caps.max_message_bytes < (std::size_t{64} << 20))
    refused(c, q.send(msg(std::string(caps.max_message_bytes + 1, 'x'))), "a body over caps().max_message_bytes");
  expect_empty(q, c, "after refused sends");
  send_result r;
  if (!send1(q, c, msg("job"), r)) return;
  receive_options too_long;
  too_long.lease = caps.max_lease + 1ms;
  auto got = q.receive(too_long);
  refused(c, got, "a receive asking for a lease over caps().max_lease");
  auto all = drain(q, c, 5000ms);
  if (!c(all.size() == 1, "after a refused receive, " + std::to_string(all.size()) + " deliveries of the one message"))
    return;
  c(all[0].receive_count == 1,
    "the refused receive counted a delivery: receive_count " + std::to_string(all[0].receive_count));
  refused(c, q.extend(all[0], caps.max_lease + 1ms), "an extend over caps().max_lease");
  refused(c, q.nack(all[0], caps.max_delay + 1ms), "a nack delayed beyond caps().max_delay");
  // Refusals changed nothing: the lease is still current.
  c.ok(q.ack(all[0]), "ack after refused extend and nack");
}

}  // namespace

std::vector<test_case> dedup_and_limit_cases() {
  const std::string clause = "dedup and limits";
  return {
      make_case("dedup_key", clause, "a repeated dedup_key returns the first id with duplicate = true and one delivery",
                dedup_key),
      make_case("dedup_after_ack", clause,
                "a key is still honoured for caps().dedup_window after its message was acknowledged", dedup_after_ack),
      make_case("limits_refused", clause,
                "delays, bodies and leases beyond caps() are invalid_argument with a message, and change nothing",
                limits_refused),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
