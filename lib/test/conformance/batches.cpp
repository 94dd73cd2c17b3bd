// Batches: receive hands out up to max_messages at once; send_batch (where declared) stores several
// messages in one call, honours dedup keys within and across batches, and is all-or-nothing where
// caps().atomic_send_batch says so.
#include <map>
#include <set>

#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void batch_receive(queue_adapter& q, checker& c) {
  const std::size_t k = std::min<std::size_t>(3, q.caps().max_batch), n = k + 2;
  std::map<std::string, std::string> sent;  // id -> body
  for (std::size_t i = 0; i < n; ++i) {
    send_result s;
    if (!send1(q, c, msg("batch-" + std::to_string(i)), s)) return;
    sent[s.message_id] = "batch-" + std::to_string(i);
  }
  c(sent.size() == n, "sends returned repeated message ids");
  expect_stats(q, c, "after " + std::to_string(n) + " sends", static_cast<std::int64_t>(n), 0, 0, 0);

  auto first = recv(q, k, 0ms, 5000ms);
  if (!c.ok(first, "receive of a batch")) return;
  c(first->size() == k, "receive with max_messages " + std::to_string(k) + " and " + std::to_string(n) +
                            " visible messages returned " + std::to_string(first->size()));
  std::vector<delivery> all = *first;
  auto rest = recv(q, std::min<std::size_t>(10, q.caps().max_batch), 0ms, 5000ms);
  if (!c.ok(rest, "receive of the rest")) return;
  c(rest->size() == n - k, "receive with max_messages 10 and " + std::to_string(n - k) + " visible messages returned " +
                               std::to_string(rest->size()));
  all.insert(all.end(), rest->begin(), rest->end());
  std::set<std::string> ids, receipts;
  for (const auto& d : all) {
    ids.insert(d.message_id);
    receipts.insert(d.receipt);
    auto it = sent.find(d.message_id);
    if (!c(it != sent.end(), "a batch delivered unknown message id '" + d.message_id + "'")) continue;
    c(d.body == it->second, "batch delivery of " + it->second + " has body '" + d.body + "'");
    c(d.receive_count == 1, "batch delivery has receive_count " + std::to_string(d.receive_count));
  }
  c(ids.size() == all.size(), "a message was delivered twice within the batches");
  c(receipts.size() == all.size(), "two deliveries in the batches share a receipt");
  c(ids.size() == n, std::to_string(ids.size()) + " distinct messages delivered, want " + std::to_string(n));
  for (const auto& d : all) c.ok(q.ack(d), "ack of a batch delivery");
  expect_empty(q, c, "after acking every batch delivery");
}

void send_batch(queue_adapter& q, checker& c) {
  if (!q.caps().send_batch) return;
  std::vector<outgoing_message> first, second;
  for (int i = 0; i < 5; ++i) first.push_back(msg("batch-a" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) second.push_back(msg("batch-b" + std::to_string(i)));
  std::vector<send_result> out, more;
  if (!send_n(q, c, first, out)) return;
  if (!send_n(q, c, second, more)) return;
  out.insert(out.end(), more.begin(), more.end());

  std::map<std::string, std::string> sent;  // id -> body
  for (std::size_t i = 0; i < out.size(); ++i) {
    c(!out[i].duplicate, "send_batch without dedup keys reported duplicate = true");
    sent[out[i].message_id] = i < first.size() ? first[i].body : second[i - first.size()].body;
  }
  c(sent.size() == out.size(), "two batches returned " + std::to_string(sent.size()) + " distinct ids for " +
                                   std::to_string(out.size()) + " messages");
  expect_stats(q, c, "after two batches", static_cast<std::int64_t>(sent.size()), 0, 0, 0);

  auto all = drain(q, c, 5000ms);
  c(all.size() == sent.size(),
    std::to_string(all.size()) + " of " + std::to_string(sent.size()) + " batched messages were receivable");
  std::set<std::string> seen;
  for (const auto& d : all) {
    seen.insert(d.message_id);
    auto it = sent.find(d.message_id);
    if (c(it != sent.end(), "received unknown message id '" + d.message_id + "'"))
      c(d.body == it->second, "batched message " + it->second + " arrived with body '" + d.body + "'");
    c.ok(q.ack(d), "ack of a batched message");
  }
  c(seen.size() == all.size(), "a batched message was delivered twice");
  expect_empty(q, c, "after acking every batched message");
}

void send_batch_empty(queue_adapter& q, checker& c) {
  if (!q.caps().send_batch) return;
  auto out = q.send_batch({});
  if (c.ok(out, "send_batch of an empty batch"))
    c(out->empty(), "send_batch of an empty batch answered " + std::to_string(out->size()) + " entries");
  expect_empty(q, c, "after an empty batch");
}

void send_batch_dedup(queue_adapter& q, checker& c) {
  if (!q.caps().send_batch || !q.caps().dedup) return;
  send_result a;
  if (!send1(q, c, msg("first", 0ms, "job-1"), a)) return;
  // Against an earlier send, within the batch, and a plain message among them.
  std::vector<send_result> r1;
  if (!send_n(q, c, {msg("again", 0ms, "job-1"), msg("b", 0ms, "job-2"), msg("b again", 0ms, "job-2"), msg("plain")},
              r1))
    return;
  c(r1[0].duplicate && r1[0].message_id == a.message_id,
    "a batched message with the key of an earlier send was not reported as a duplicate of it");
  c(!r1[1].duplicate, "the first message with a new key in a batch reported duplicate = true");
  c(r1[2].duplicate && r1[2].message_id == r1[1].message_id,
    "a key repeated within one batch was not reported as a duplicate of its first message");
  c(!r1[3].duplicate, "a batched message without a key reported duplicate = true");
  c(r1[3].message_id != a.message_id && r1[3].message_id != r1[1].message_id,
    "a batched message without a key got another message's id");
  // Across batches.
  std::vector<send_result> r2;
  if (!send_n(q, c, {msg("b thrice", 0ms, "job-2"), msg("c", 0ms, "job-3")}, r2)) return;
  c(r2[0].duplicate && r2[0].message_id == r1[1].message_id,
    "a key from an earlier batch was not reported as a duplicate of that batch's message");
  c(!r2[1].duplicate, "a new key in a second batch reported duplicate = true");
  expect_stats(q, c, "after one send and two batches with repeated keys", 4, 0, 0, 0);

  const std::map<std::string, std::string> want = {
      {a.message_id, "first"}, {r1[1].message_id, "b"}, {r1[3].message_id, "plain"}, {r2[1].message_id, "c"}};
  auto all = drain(q, c, 5000ms);
  c(all.size() == want.size(), std::to_string(all.size()) + " deliveries for 4 distinct messages");
  for (const auto& d : all) {
    auto it = want.find(d.message_id);
    if (c(it != want.end(), "received unexpected message id '" + d.message_id + "'"))
      c(d.body == it->second, "the message first sent as '" + it->second + "' arrived with body '" + d.body + "'");
    c.ok(q.ack(d), "ack");
  }
  expect_empty(q, c, "after acking every message");
}

void send_batch_all_or_nothing(queue_adapter& q, checker& c) {
  const capabilities caps = q.caps();
  if (!caps.atomic_send_batch || caps.max_message_bytes >= (std::size_t{64} << 20)) return;
  // The last message is too large, so the batch fails; the ones before it must not be stored.
  auto out = q.send_batch(
      {msg("ok", 0ms, caps.dedup ? "job-7" : ""), msg("ok too"), msg(std::string(caps.max_message_bytes + 1, 'x'))});
  if (out) {
    std::size_t stored = 0;
    for (const auto& e : *out)
      if (e) ++stored;
    c.fail("an atomic send_batch with a message over max_message_bytes succeeded for " + std::to_string(stored) +
           " of its 3 messages; want a failure of the whole call");
  }
  expect_empty(q, c, "after a failed atomic send_batch");
  if (!caps.dedup) return;
  send_result s;
  if (send1(q, c, msg("ok", 0ms, "job-7"), s))
    c(!s.duplicate, "the dedup key of a message in a failed batch was remembered");
  delivery d;
  if (recv1(q, c, d, 5000ms)) c.ok(q.ack(d), "ack");
  expect_empty(q, c, "at the end");
}

}  // namespace

std::vector<test_case> batch_cases() {
  const std::string clause = "batches";
  return {
      make_case("batch_receive", clause, "receive returns up to max_messages distinct deliveries", batch_receive),
      make_case("send_batch", clause,
                "send_batch answers one result per message: distinct ids, every message receivable", send_batch),
      make_case("send_batch_empty", clause, "send_batch of an empty batch succeeds and stores nothing",
                send_batch_empty),
      make_case("send_batch_dedup", clause,
                "send_batch honours dedup keys against earlier sends, within a batch and across batches",
                send_batch_dedup),
      make_case("send_batch_all_or_nothing", clause,
                "a send_batch that fails stores none of its messages (backends with atomic_send_batch)",
                send_batch_all_or_nothing),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
