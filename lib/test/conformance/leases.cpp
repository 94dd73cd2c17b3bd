// Leases, nack and fencing: a leased message stays hidden until its lease ends, is nacked or is
// extended; a stale receipt changes nothing.
#include <thread>

#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void lease_hides_message(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("leased"), s)) return;
  delivery d;
  if (!recv1(q, c, d, 5000ms)) return;
  expect_nothing(q, c, "while the only message is leased");
  auto got = recv(q, 1, 300ms, 5000ms);
  if (c.ok(got, "long poll while the only message is leased"))
    c(got->empty(), "a long poll (300 ms) returned a leased message");
  expect_stats(q, c, "while leased", 0, 1, 0, 0);
  c.ok(q.ack(d), "ack");
  expect_empty(q, c, "after ack");
}

void lease_expiry_redelivers(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("crashy"), s)) return;
  delivery d1;
  if (!recv1(q, c, d1, 300ms)) return;
  auto t1 = steady::now();
  expect_nothing(q, c, "right after the first receive (lease 300 ms)");
  delivery d2;
  if (!recv1(q, c, d2, 5000ms, 3000ms)) return;
  auto ms = ms_since(t1);
  c(ms >= 250, "the message was delivered again " + std::to_string(ms) + " ms into a 300 ms lease");
  c(d2.message_id == s.message_id, "redelivery has a different message_id");
  c(d2.body == "crashy", "redelivery has a different body");
  c(d2.receive_count == 2, "redelivery after lease expiry has receive_count " + std::to_string(d2.receive_count) +
                               ", want 2 (crashed deliveries count)");
  c(d2.receipt != d1.receipt, "redelivery reuses the first delivery's receipt '" + d1.receipt + "'");
  c(d2.first_received_at >= d1.first_received_at - timestamp_slack &&
        d2.first_received_at <= d1.first_received_at + timestamp_slack,
    "first_received_at changed on redelivery by " +
        std::to_string(ms_between(d1.first_received_at, d2.first_received_at)) + " ms");
  if (q.caps().fencing) {
    c.is(q.ack(d1), errc::lease_lost, "ack with the stale receipt");
    c.is(q.nack(d1, 0ms), errc::lease_lost, "nack with the stale receipt");
    c.is(q.extend(d1, 60'000ms), errc::lease_lost, "extend with the stale receipt");
    if (q.dead_letters()) c.is(dead_letter(q, d1, "stale", ""), errc::lease_lost, "dead_letter with the stale receipt");
    delivery bogus = d2;
    bogus.receipt = d2.receipt + "-not-a-receipt";
    c.is(q.ack(bogus), errc::lease_lost, "ack with a receipt that was never issued");
    expect_nothing(q, c, "after stale ack/nack/extend (the newer delivery must still be leased)");
    expect_stats(q, c, "after stale ack/nack/extend", 0, 1, 0, 0);
    c(list_all(q, c).empty(), "dead_letter with a stale receipt created a dead-letter record");
  }
  c.ok(q.ack(d2), "ack of the current delivery after stale calls");
  expect_empty(q, c, "after ack");
}

void double_ack_is_lease_lost(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("once"), s)) return;
  delivery d;
  if (!recv1(q, c, d, 5000ms)) return;
  if (!c.ok(q.ack(d), "first ack")) return;
  if (q.caps().fencing) {
    c.is(q.ack(d), errc::lease_lost, "second ack of the same delivery");
    c.is(q.nack(d, 0ms), errc::lease_lost, "nack after ack");
    c.is(q.extend(d, 5000ms), errc::lease_lost, "extend after ack");
    if (q.dead_letters()) c.is(dead_letter(q, d, "late", ""), errc::lease_lost, "dead_letter after ack");
    c(list_all(q, c).empty(), "dead_letter after ack created a dead-letter record");
  }
  expect_empty(q, c, "after ack (and the rejected calls)");
}

void nack_zero_redelivers_at_once(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("again"), s)) return;
  delivery d1;
  if (!recv1(q, c, d1, 5000ms)) return;
  if (!c.ok(q.nack(d1, 0ms), "nack(0)")) return;
  delivery d2;
  if (!recv1(q, c, d2, 5000ms)) return;  // wait 0: visible at once
  c(d2.message_id == s.message_id, "receive after nack(0) returned a different message");
  c(d2.receive_count == 2, "delivery after nack(0) has receive_count " + std::to_string(d2.receive_count) + ", want 2");
  c(d2.receipt != d1.receipt, "delivery after nack(0) reuses the old receipt");
  if (q.caps().fencing) c.is(q.ack(d1), errc::lease_lost, "ack with the receipt that was nacked");
  c.ok(q.ack(d2), "ack of the new delivery");
  expect_empty(q, c, "after ack");
}

void nack_delay(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("later"), s)) return;
  delivery d1;
  if (!recv1(q, c, d1, 5000ms)) return;
  auto t0 = steady::now();
  if (!c.ok(q.nack(d1, 600ms), "nack(600 ms)")) return;
  expect_nothing(q, c, "right after nack(600 ms)");
  expect_stats(q, c, "right after nack(600 ms)", 0, 0, 1, 0);
  delivery d2;
  if (!recv1(q, c, d2, 5000ms, 3000ms)) return;
  auto ms = ms_since(t0);
  c(ms >= 550, "a message nacked with delay 600 ms was delivered again after " + std::to_string(ms) + " ms");
  c(ms < 2000, "a message nacked with delay 600 ms took " + std::to_string(ms) + " ms to come back");
  c(d2.receive_count == 2, "delivery after nack(delay) has receive_count " + std::to_string(d2.receive_count));
  c.ok(q.ack(d2), "ack");
  expect_empty(q, c, "after ack");
}

void send_delay(queue_adapter& q, checker& c) {
  if (q.caps().max_delay < 600ms) return;
  auto t0 = steady::now();
  send_result s;
  if (!send1(q, c, msg("delayed", 600ms), s)) return;
  expect_nothing(q, c, "right after a send with delay 600 ms");
  expect_stats(q, c, "right after a send with delay 600 ms", 0, 0, 1, 0);
  delivery d;
  if (!recv1(q, c, d, 5000ms, 3000ms)) return;
  auto ms = ms_since(t0);
  c(ms >= 550, "a message sent with delay 600 ms was delivered after " + std::to_string(ms) + " ms");
  c(ms < 2000, "a message sent with delay 600 ms took " + std::to_string(ms) + " ms to be delivered");
  c(d.receive_count == 1, "first delivery of a delayed message has receive_count " + std::to_string(d.receive_count));
  c.ok(q.ack(d), "ack");
  expect_empty(q, c, "after ack");
}

void extend_keeps_invisible(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("slow job"), s)) return;
  delivery d;
  if (!recv1(q, c, d, 400ms)) return;
  auto before = clock::now();
  auto exp = q.extend(d, 2000ms);
  if (!c.ok(exp, "extend(2000 ms)")) return;
  auto after = clock::now();
  c(*exp >= before + 2000ms - timestamp_slack && *exp <= after + 2000ms + timestamp_slack,
    "extend(2000 ms) reported an expiry " + std::to_string(ms_between(before, *exp)) + " ms ahead");
  c(*exp > d.lease_expires_at, "extend did not move the expiry beyond the original lease");
  std::this_thread::sleep_for(700ms);  // past the original 400 ms lease
  expect_nothing(q, c, "700 ms into an extended lease (original lease 400 ms, extended to 2000 ms)");
  expect_stats(q, c, "during an extended lease", 0, 1, 0, 0);
  c.ok(q.ack(d), "ack with the receipt after extend (extend keeps the receipt current)");
  expect_empty(q, c, "after ack");
}

}  // namespace

std::vector<test_case> lease_cases() {
  const std::string clause = "leases";
  return {
      make_case("lease_hides_message", clause, "a leased message is invisible to other receives", lease_hides_message),
      make_case("lease_expiry_redelivers", clause,
                "an expired lease redelivers with receive_count 2 and a new receipt; stale receipts are lease_lost",
                lease_expiry_redelivers),
      make_case("double_ack_is_lease_lost", clause, "ack, nack, extend, dead_letter after ack are lease_lost",
                double_ack_is_lease_lost),
      make_case("nack_zero_redelivers_at_once", clause, "nack(0) makes the message visible at once",
                nack_zero_redelivers_at_once),
      make_case("nack_delay", clause,
                "nack(delay) keeps the message invisible (and counted as delayed) until the delay passes", nack_delay),
      make_case("send_delay", clause, "send with a delay keeps the message invisible until the delay passes",
                send_delay),
      make_case("extend_keeps_invisible", clause, "extend keeps the message leased beyond the original lease",
                extend_keeps_invisible),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
