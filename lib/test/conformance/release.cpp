// Release: a delivery given back for a shutdown is visible at once and, where caps() says so, not
// counted; failures and crashes still count.
#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void release_gives_back(queue_adapter& q, checker& c) {
  const bool uncounted = q.caps().uncounted_release;
  send_result s;
  if (!send1(q, c, msg("interrupted"), s)) return;
  delivery d1;
  if (!recv1(q, c, d1, 60'000ms)) return;
  if (!c.ok(q.release(d1), "release")) return;
  // Visible again at once, although the lease had a minute to run.
  delivery d2;
  if (!recv1(q, c, d2, 60'000ms)) return;
  c(d2.message_id == s.message_id, "receive after release returned a different message");
  c(d2.receipt != d1.receipt, "delivery after release reuses the released receipt");
  const int want = uncounted ? 1 : 2;
  c(d2.receive_count == want, "delivery after release has receive_count " + std::to_string(d2.receive_count) +
                                  ", want " + std::to_string(want) +
                                  (uncounted ? " (caps().uncounted_release: a release does not count)"
                                             : " (without caps().uncounted_release a release counts)"));
  c(d2.first_received_at >= d1.first_received_at - timestamp_slack &&
        d2.first_received_at <= d1.first_received_at + timestamp_slack,
    "first_received_at changed after a release by " +
        std::to_string(ms_between(d1.first_received_at, d2.first_received_at)) + " ms");
  if (q.caps().fencing) c.is(q.release(d1), errc::lease_lost, "release with the receipt already released");
  // Failures still count: a nack after the release is the next attempt.
  if (!c.ok(q.nack(d2, 0ms), "nack after release")) return;
  delivery d3;
  if (!recv1(q, c, d3, 60'000ms)) return;
  c(d3.receive_count == want + 1, "delivery after release then nack has receive_count " +
                                      std::to_string(d3.receive_count) + ", want " + std::to_string(want + 1));
  // So does a crash: a lease that runs out is counted whatever was released before.
  if (!c.ok(q.release(d3), "second release")) return;
  delivery d4;
  if (!recv1(q, c, d4, 200ms)) return;
  delivery d5;
  if (!recv1(q, c, d5, 60'000ms, 3000ms)) return;
  const int after_release = uncounted ? want + 1 : want + 2;
  c(d4.receive_count == after_release, "delivery after a second release has receive_count " +
                                           std::to_string(d4.receive_count) + ", want " +
                                           std::to_string(after_release));
  c(d5.receive_count == after_release + 1, "redelivery after an expired lease has receive_count " +
                                               std::to_string(d5.receive_count) + ", want " +
                                               std::to_string(after_release + 1) + " (crashed deliveries count)");
  c.ok(q.ack(d5), "ack");
  expect_empty(q, c, "after ack");
}

}  // namespace

std::vector<test_case> release_cases() {
  return {
      make_case("release_gives_back", "release",
                "release makes the message visible at once; it does not count where caps().uncounted_release says "
                "so, nacks and expired leases still do",
                release_gives_back),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
