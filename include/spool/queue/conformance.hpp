#pragma once
// The queue conformance suite: one set of checks every queue backend runs, built-in or an
// integrator's own. Each case takes a fresh, empty queue, exercises one clause of the contract in
// spool/queue/adapter.hpp and appends a `failure` for every check that does not hold. Cases skip what
// the backend's caps() says it cannot do (fencing, dedup, delays, atomic batches), and expect what it
// says it does (release counts or not, by caps().uncounted_release). The suite is
// header-only and does not depend on a test framework; it uses real time (leases of a few hundred
// milliseconds), so every case takes well under two seconds.
//
// Use from any test framework, e.g. Catch2:
//
//   #include <spool/queue/conformance.hpp>
//
//   TEST_CASE("MyQueue::Conformance") {
//     namespace conf = spool::queue::conformance;
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
#include <spool/error.hpp>
#include <spool/queue/adapter.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <source_location>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spool::queue::conformance {

/// One check that did not hold: the case's name and what was wrong.
struct failure {
  std::string test;
  std::string what;
};

/// One case of the suite. `run` must be given a fresh, empty queue; it appends failures to its second
/// argument and does not throw on its own (run_case turns a backend's exception into a failure).
struct test_case {
  std::string name;     ///< snake_case, stable
  std::string summary;  ///< what it checks, one line
  std::function<void(queue_adapter&, std::vector<failure>&)> run;
};

namespace detail {

using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

/// Slack for comparisons of wall-clock timestamps a backend reports (it may store milliseconds).
inline constexpr milliseconds timestamp_slack{50};

inline std::string describe(const error_code& ec) {
  if (!ec) return "success";
  std::ostringstream s;
  s << ec.category().name() << ':' << ec.value() << " (" << ec.message() << ')';
  return s.str();
}

inline long long ms_since(steady::time_point t) {
  return std::chrono::duration_cast<milliseconds>(steady::now() - t).count();
}

inline long long ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

/// Records failures for one case.
class checker {
 public:
  checker(std::string test, std::vector<failure>& out) : test_(std::move(test)), out_(out) {}

  /// Records `what` unless `ok`; returns `ok`.
  bool operator()(bool ok, const std::string& what, std::source_location where = std::source_location::current()) {
    if (!ok) fail(what, where);
    return ok;
  }
  /// Expects success.
  bool ok(const error_code& ec, const std::string& what, std::source_location where = std::source_location::current()) {
    if (ec) fail(what + " failed: " + describe(ec), where);
    return !ec;
  }
  /// Expects exactly `want`.
  bool is(const error_code& ec, errc want, const std::string& what,
          std::source_location where = std::source_location::current()) {
    bool good = ec == make_error_code(want);
    if (!good) fail(what + ": got " + describe(ec) + ", want " + describe(make_error_code(want)), where);
    return good;
  }
  void fail(const std::string& what, std::source_location where = std::source_location::current()) {
    out_.push_back({test_, what + " [conformance.hpp:" + std::to_string(where.line()) + "]"});
  }
  const std::string& test() const { return test_; }

 private:
  std::string test_;
  std::vector<failure>& out_;
};

inline outgoing_message msg(std::string body, milliseconds delay = 0ms, std::string dedup_key = {}) {
  outgoing_message m;
  m.body = std::move(body);
  m.delay = delay;
  m.dedup_key = std::move(dedup_key);
  return m;
}

/// Clears `out` and receives into it.
inline error_code recv(queue_adapter& q, std::vector<delivery>& out, std::size_t max, milliseconds wait,
                       milliseconds lease, const std::atomic<bool>* cancel = nullptr) {
  out.clear();
  receive_options o;
  o.max_messages = max;
  o.wait = wait;
  o.lease = lease;
  return q.receive(o, out, cancel);
}

/// Receives until the queue returns nothing (wait 0), at most `limit` deliveries.
inline std::vector<delivery> drain(queue_adapter& q, checker& c, milliseconds lease, std::size_t limit = 1000) {
  std::vector<delivery> all, got;
  std::size_t batch = std::max<std::size_t>(1, std::min<std::size_t>(10, q.caps().max_batch));
  while (all.size() < limit) {
    if (!c.ok(recv(q, got, batch, 0ms, lease), "receive (drain)")) break;
    if (got.empty()) break;
    all.insert(all.end(), got.begin(), got.end());
  }
  return all;
}

/// Expects the queue to hand out nothing right now.
inline bool expect_nothing(queue_adapter& q, checker& c, const std::string& when,
                           std::source_location where = std::source_location::current()) {
  std::vector<delivery> got;
  auto ec = recv(q, got, 10, 0ms, 5000ms);
  if (ec) {
    c.fail("receive " + when + " failed: " + describe(ec), where);
    return false;
  }
  if (!got.empty()) {
    c.fail("receive " + when + " returned " + std::to_string(got.size()) + " deliveries (first id " +
               got[0].message_id + ", receive_count " + std::to_string(got[0].receive_count) + "), want none",
           where);
    return false;
  }
  return true;
}

/// Expects the counters of stats(); returns them in `s`.
inline bool expect_stats(queue_adapter& q, checker& c, const std::string& when, std::int64_t visible,
                         std::int64_t in_flight, std::int64_t delayed, std::int64_t dead, queue_stats* s_out = nullptr,
                         std::source_location where = std::source_location::current()) {
  queue_stats s;
  auto ec = q.stats(s);
  if (ec) {
    c.fail("stats " + when + " failed: " + describe(ec), where);
    return false;
  }
  if (s_out) *s_out = s;
  if (s.visible == visible && s.in_flight == in_flight && s.delayed == delayed && s.dead == dead) return true;
  std::ostringstream m;
  m << "stats " << when << ": visible/in_flight/delayed/dead = " << s.visible << '/' << s.in_flight << '/'
    << s.delayed << '/' << s.dead << ", want " << visible << '/' << in_flight << '/' << delayed << '/' << dead;
  c.fail(m.str(), where);
  return false;
}

/// Expects the queue to be empty: nothing receivable, every counter zero, oldest_age_s zero.
inline void expect_empty(queue_adapter& q, checker& c, const std::string& when,
                         std::source_location where = std::source_location::current()) {
  expect_nothing(q, c, when, where);
  queue_stats s;
  if (expect_stats(q, c, when, 0, 0, 0, 0, &s, where) && s.oldest_age_s != 0)
    c.fail("stats " + when + ": oldest_age_s = " + std::to_string(s.oldest_age_s) + ", want 0", where);
}

/// Sends one message; false (and a failure) if that fails.
inline bool send1(queue_adapter& q, checker& c, const outgoing_message& m, send_result& r,
                  std::source_location where = std::source_location::current()) {
  r = {};
  auto ec = q.send(m, r);
  if (ec) {
    c.fail("send failed: " + describe(ec), where);
    return false;
  }
  if (r.message_id.empty()) {
    c.fail("send returned an empty message_id", where);
    return false;
  }
  return true;
}

/// Sends a batch into a fresh `r`; false (and a failure) if that fails or does not give one result
/// (with an id) per message.
inline bool send_n(queue_adapter& q, checker& c, const std::vector<outgoing_message>& msgs, std::vector<send_result>& r,
                   std::source_location where = std::source_location::current()) {
  r.clear();
  auto ec = q.send_batch(msgs, r);
  if (ec) {
    c.fail("send_batch of " + std::to_string(msgs.size()) + " failed: " + describe(ec), where);
    return false;
  }
  if (r.size() != msgs.size()) {
    c.fail("send_batch of " + std::to_string(msgs.size()) + " gave " + std::to_string(r.size()) + " results", where);
    return false;
  }
  for (const auto& x : r) {
    if (x.message_id.empty()) {
      c.fail("send_batch returned an empty message_id", where);
      return false;
    }
  }
  return true;
}

/// Receives exactly one delivery (waiting up to `wait`); false (and a failure) otherwise.
inline bool recv1(queue_adapter& q, checker& c, delivery& d, milliseconds lease, milliseconds wait = 0ms,
                  std::source_location where = std::source_location::current()) {
  std::vector<delivery> got;
  auto ec = recv(q, got, 1, wait, lease);
  if (ec) {
    c.fail("receive failed: " + describe(ec), where);
    return false;
  }
  if (got.size() != 1) {
    c.fail("receive (wait " + std::to_string(wait.count()) + " ms) returned " + std::to_string(got.size()) +
               " deliveries, want 1",
           where);
    return false;
  }
  d = got[0];
  return true;
}

inline std::string first_difference(const std::string& got, const std::string& want) {
  std::size_t n = std::min(got.size(), want.size()), i = 0;
  while (i < n && got[i] == want[i]) ++i;
  std::ostringstream s;
  s << "size " << got.size() << " (want " << want.size() << "), first difference at byte " << i;
  return s.str();
}

// ---- the cases ----

inline void send_receive_ack(queue_adapter& q, checker& c) {
  auto before_send = clock::now();
  send_result s;
  if (!send1(q, c, msg("hello"), s)) return;
  c(!s.duplicate, "the first send of a message reported duplicate = true");
  auto before = clock::now();
  delivery d;
  if (!recv1(q, c, d, 5000ms)) return;
  auto after = clock::now();
  c(d.message_id == s.message_id, "delivery message_id '" + d.message_id + "' != sent id '" + s.message_id + "'");
  c(d.body == "hello", "delivery body '" + d.body + "', want 'hello'");
  c(!d.receipt.empty(), "delivery has an empty receipt");
  c(d.receive_count == 1, "first delivery has receive_count " + std::to_string(d.receive_count) + ", want 1");
  c(d.sent_at >= before_send - timestamp_slack && d.sent_at <= before + timestamp_slack,
    "sent_at is not the time of send (off by " + std::to_string(ms_between(before_send, d.sent_at)) + " ms)");
  c(d.first_received_at >= before - timestamp_slack && d.first_received_at <= after + timestamp_slack,
    "first_received_at is not the time of the first receive (off by " +
        std::to_string(ms_between(before, d.first_received_at)) + " ms)");
  c(d.lease_expires_at >= before + 5000ms - timestamp_slack && d.lease_expires_at <= after + 5000ms + timestamp_slack,
    "lease_expires_at is not receive time + lease (5000 ms): it is " +
        std::to_string(ms_between(before, d.lease_expires_at)) + " ms after the receive");
  expect_stats(q, c, "while leased", 0, 1, 0, 0);
  if (!c.ok(q.ack(d), "ack")) return;
  expect_empty(q, c, "after ack");
}

inline void receive_empty_returns_at_once(queue_adapter& q, checker& c) {
  std::vector<delivery> got;
  auto t0 = steady::now();
  auto ec = recv(q, got, 1, 0ms, 1000ms);
  auto ms = ms_since(t0);
  c.ok(ec, "receive with wait 0 on an empty queue");
  c(got.empty(), "receive on an empty queue returned " + std::to_string(got.size()) + " deliveries");
  c(ms < 250, "receive with wait 0 on an empty queue took " + std::to_string(ms) + " ms, want < 250");
}

inline void long_poll_wakes_on_send(queue_adapter& q, checker& c) {
  error_code send_ec;
  send_result s;
  auto t0 = steady::now();
  std::vector<delivery> got;
  error_code ec;
  {
    std::jthread sender([&] {
      std::this_thread::sleep_for(200ms);
      send_ec = q.send(msg("late"), s);
    });
    ec = recv(q, got, 1, 5000ms, 5000ms);
  }
  auto ms = ms_since(t0);
  if (!c.ok(send_ec, "send from another thread")) return;
  c.ok(ec, "long-poll receive");
  if (!c(got.size() == 1, "long-poll receive (wait 5000 ms) returned " + std::to_string(got.size()) +
                              " deliveries after " + std::to_string(ms) + " ms, want 1 soon after the send at 200 ms"))
    return;
  c(got[0].message_id == s.message_id && got[0].body == "late", "long poll delivered a different message");
  c(ms < 1500, "long poll returned " + std::to_string(ms) + " ms after it started; the message was sent at 200 ms");
  c.ok(q.ack(got[0]), "ack");
}

inline void long_poll_times_out(queue_adapter& q, checker& c) {
  std::vector<delivery> got;
  auto t0 = steady::now();
  auto ec = recv(q, got, 1, 400ms, 1000ms);
  auto ms = ms_since(t0);
  c.ok(ec, "long-poll receive on an empty queue");
  c(got.empty(), "long poll on an empty queue returned " + std::to_string(got.size()) + " deliveries");
  c(ms >= 380, "long poll with wait 400 ms on an empty queue returned after " + std::to_string(ms) + " ms");
  c(ms < 1400, "long poll with wait 400 ms on an empty queue took " + std::to_string(ms) + " ms");
}

inline void long_poll_cancel(queue_adapter& q, checker& c) {
  std::atomic<bool> cancel{false};
  std::vector<delivery> got;
  error_code ec;
  auto t0 = steady::now();
  {
    std::jthread canceller([&] {
      std::this_thread::sleep_for(200ms);
      cancel = true;
    });
    ec = recv(q, got, 1, 10'000ms, 1000ms, &cancel);
  }
  auto ms = ms_since(t0);
  c.ok(ec, "long poll cancelled from another thread (cancellation is not an error)");
  c(got.empty(), "cancelled long poll returned " + std::to_string(got.size()) + " deliveries");
  c(ms < 1200, "long poll (wait 10 s) cancelled at 200 ms returned only after " + std::to_string(ms) + " ms");

  // Already cancelled: returns at once.
  t0 = steady::now();
  ec = recv(q, got, 1, 10'000ms, 1000ms, &cancel);
  ms = ms_since(t0);
  c.ok(ec, "long poll with the cancel flag already set");
  c(got.empty(), "long poll with the cancel flag set on an empty queue returned deliveries");
  c(ms < 500, "long poll (wait 10 s) with the cancel flag already set took " + std::to_string(ms) + " ms");
}

inline void lease_hides_message(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("leased"), s)) return;
  delivery d;
  if (!recv1(q, c, d, 5000ms)) return;
  expect_nothing(q, c, "while the only message is leased");
  std::vector<delivery> got;
  c.ok(recv(q, got, 1, 300ms, 5000ms), "long poll while the only message is leased");
  c(got.empty(), "a long poll (300 ms) returned a leased message");
  expect_stats(q, c, "while leased", 0, 1, 0, 0);
  c.ok(q.ack(d), "ack");
  expect_empty(q, c, "after ack");
}

inline void lease_expiry_redelivers(queue_adapter& q, checker& c) {
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
    "first_received_at changed on redelivery by " + std::to_string(ms_between(d1.first_received_at, d2.first_received_at)) +
        " ms");
  if (q.caps().fencing) {
    clock::time_point exp{};
    c.is(q.ack(d1), errc::lease_lost, "ack with the stale receipt");
    c.is(q.nack(d1, 0ms), errc::lease_lost, "nack with the stale receipt");
    c.is(q.extend(d1, 60'000ms, exp), errc::lease_lost, "extend with the stale receipt");
    c.is(q.dead_letter(d1, "stale", ""), errc::lease_lost, "dead_letter with the stale receipt");
    delivery bogus = d2;
    bogus.receipt = d2.receipt + "-not-a-receipt";
    c.is(q.ack(bogus), errc::lease_lost, "ack with a receipt that was never issued");
    expect_nothing(q, c, "after stale ack/nack/extend (the newer delivery must still be leased)");
    expect_stats(q, c, "after stale ack/nack/extend", 0, 1, 0, 0);
    std::vector<dead_letter_record> dead;
    c.ok(q.list_dead(dead), "list_dead");
    c(dead.empty(), "dead_letter with a stale receipt created a dead-letter record");
  }
  c.ok(q.ack(d2), "ack of the current delivery after stale calls");
  expect_empty(q, c, "after ack");
}

inline void double_ack_is_lease_lost(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("once"), s)) return;
  delivery d;
  if (!recv1(q, c, d, 5000ms)) return;
  if (!c.ok(q.ack(d), "first ack")) return;
  if (q.caps().fencing) {
    clock::time_point exp{};
    c.is(q.ack(d), errc::lease_lost, "second ack of the same delivery");
    c.is(q.nack(d, 0ms), errc::lease_lost, "nack after ack");
    c.is(q.extend(d, 5000ms, exp), errc::lease_lost, "extend after ack");
    c.is(q.dead_letter(d, "late", ""), errc::lease_lost, "dead_letter after ack");
    std::vector<dead_letter_record> dead;
    c.ok(q.list_dead(dead), "list_dead");
    c(dead.empty(), "dead_letter after ack created a dead-letter record");
  }
  expect_empty(q, c, "after ack (and the rejected calls)");
}

inline void nack_zero_redelivers_at_once(queue_adapter& q, checker& c) {
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

inline void nack_delay(queue_adapter& q, checker& c) {
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

inline void release_gives_back(queue_adapter& q, checker& c) {
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
    "first_received_at changed after a release by " + std::to_string(ms_between(d1.first_received_at, d2.first_received_at)) +
        " ms");
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
                                           std::to_string(d4.receive_count) + ", want " + std::to_string(after_release));
  c(d5.receive_count == after_release + 1, "redelivery after an expired lease has receive_count " +
                                               std::to_string(d5.receive_count) + ", want " +
                                               std::to_string(after_release + 1) + " (crashed deliveries count)");
  c.ok(q.ack(d5), "ack");
  expect_empty(q, c, "after ack");
}

inline void send_delay(queue_adapter& q, checker& c) {
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

inline void extend_keeps_invisible(queue_adapter& q, checker& c) {
  send_result s;
  if (!send1(q, c, msg("slow job"), s)) return;
  delivery d;
  if (!recv1(q, c, d, 400ms)) return;
  clock::time_point exp{};
  auto before = clock::now();
  if (!c.ok(q.extend(d, 2000ms, exp), "extend(2000 ms)")) return;
  auto after = clock::now();
  c(exp >= before + 2000ms - timestamp_slack && exp <= after + 2000ms + timestamp_slack,
    "extend(2000 ms) reported an expiry " + std::to_string(ms_between(before, exp)) + " ms ahead");
  c(exp > d.lease_expires_at, "extend did not move the expiry beyond the original lease");
  std::this_thread::sleep_for(700ms);  // past the original 400 ms lease
  expect_nothing(q, c, "700 ms into an extended lease (original lease 400 ms, extended to 2000 ms)");
  expect_stats(q, c, "during an extended lease", 0, 1, 0, 0);
  c.ok(q.ack(d), "ack with the receipt after extend (extend keeps the receipt current)");
  expect_empty(q, c, "after ack");
}

inline void batch_receive(queue_adapter& q, checker& c) {
  const std::size_t k = std::min<std::size_t>(3, q.caps().max_batch), n = k + 2;
  std::map<std::string, std::string> sent;  // id -> body
  for (std::size_t i = 0; i < n; ++i) {
    send_result s;
    if (!send1(q, c, msg("batch-" + std::to_string(i)), s)) return;
    sent[s.message_id] = "batch-" + std::to_string(i);
  }
  c(sent.size() == n, "sends returned repeated message ids");
  expect_stats(q, c, "after " + std::to_string(n) + " sends", static_cast<std::int64_t>(n), 0, 0, 0);

  // receive appends: what is in `out` already stays.
  std::vector<delivery> out(1);
  out[0].message_id = "sentinel";
  receive_options o;
  o.max_messages = k;
  o.lease = 5000ms;
  if (!c.ok(q.receive(o, out), "receive of a batch")) return;
  c(!out.empty() && out[0].message_id == "sentinel", "receive did not append: it changed what `out` held before");
  c(out.size() == 1 + k, "receive with max_messages " + std::to_string(k) + " and " + std::to_string(n) +
                             " visible messages returned " + std::to_string(out.size() - 1));
  std::vector<delivery> all(out.begin() + (out.empty() ? 0 : 1), out.end());
  std::vector<delivery> got;
  if (!c.ok(recv(q, got, std::min<std::size_t>(10, q.caps().max_batch), 0ms, 5000ms), "receive of the rest")) return;
  c(got.size() == n - k, "receive with max_messages 10 and " + std::to_string(n - k) + " visible messages returned " +
                             std::to_string(got.size()));
  all.insert(all.end(), got.begin(), got.end());
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

inline void dedup_key(queue_adapter& q, checker& c) {
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

inline void dedup_after_ack(queue_adapter& q, checker& c) {
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

inline void limits_refused(queue_adapter& q, checker& c) {
  const auto caps = q.caps();
  send_result r;
  c.is(q.send(msg("too late", caps.max_delay + 1ms), r), errc::invalid_argument,
       "a send delayed beyond caps().max_delay");
  if (caps.max_message_bytes < (std::size_t{64} << 20))
    c.is(q.send(msg(std::string(caps.max_message_bytes + 1, 'x')), r), errc::invalid_argument,
         "a body over caps().max_message_bytes");
  expect_empty(q, c, "after refused sends");
  if (!send1(q, c, msg("job"), r)) return;
  std::vector<delivery> got;
  receive_options too_long;
  too_long.lease = caps.max_lease + 1ms;
  c.is(q.receive(too_long, got), errc::invalid_argument, "a receive asking for a lease over caps().max_lease");
  c(got.empty(), "a refused receive returned deliveries");
  auto all = drain(q, c, 5000ms);
  if (all.size() != 1) return;
  clock::time_point t{};
  c.is(q.extend(all[0], caps.max_lease + 1ms, t), errc::invalid_argument, "an extend over caps().max_lease");
  c.is(q.nack(all[0], caps.max_delay + 1ms), errc::invalid_argument, "a nack delayed beyond caps().max_delay");
  // Refusals changed nothing: the lease is still current.
  c.ok(q.ack(all[0]), "ack after refused extend and nack");
}

inline void send_batch(queue_adapter& q, checker& c) {
  std::vector<outgoing_message> first, second;
  for (int i = 0; i < 5; ++i) first.push_back(msg("batch-a" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) second.push_back(msg("batch-b" + std::to_string(i)));

  // send_batch appends: what is in `out` already stays.
  std::vector<send_result> out(1);
  out[0].message_id = "sentinel";
  if (!c.ok(q.send_batch(first, out), "send_batch of 5")) return;
  c(!out.empty() && out[0].message_id == "sentinel", "send_batch did not append: it changed what `out` held before");
  if (!c(out.size() == 1 + first.size(), "send_batch of 5 appended " + std::to_string(out.size() - 1) + " results"))
    return;
  out.erase(out.begin());
  std::vector<send_result> more;
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

inline void send_batch_empty(queue_adapter& q, checker& c) {
  std::vector<send_result> out(1);
  out[0].message_id = "sentinel";
  c.ok(q.send_batch({}, out), "send_batch of an empty batch");
  c(out.size() == 1 && out[0].message_id == "sentinel", "send_batch of an empty batch changed `out`");
  expect_empty(q, c, "after an empty batch");
}

inline void send_batch_dedup(queue_adapter& q, checker& c) {
  if (!q.caps().dedup) return;
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

inline void send_batch_all_or_nothing(queue_adapter& q, checker& c) {
  const capabilities caps = q.caps();
  if (!caps.atomic_send_batch || caps.max_message_bytes >= (std::size_t{64} << 20)) return;
  // The last message is too large, so the batch fails; the ones before it must not be stored.
  std::vector<send_result> out;
  auto ec = q.send_batch(
      {msg("ok", 0ms, caps.dedup ? "job-7" : ""), msg("ok too"), msg(std::string(caps.max_message_bytes + 1, 'x'))},
      out);
  c(static_cast<bool>(ec), "send_batch with a message over max_message_bytes succeeded");
  c(out.empty(), "a failed atomic send_batch appended " + std::to_string(out.size()) + " results");
  expect_empty(q, c, "after a failed atomic send_batch");
  if (!caps.dedup) return;
  send_result s;
  if (send1(q, c, msg("ok", 0ms, "job-7"), s))
    c(!s.duplicate, "the dedup key of a message in a failed batch was remembered");
  delivery d;
  if (recv1(q, c, d, 5000ms)) c.ok(q.ack(d), "ack");
  expect_empty(q, c, "at the end");
}

inline void dead_letter_and_redrive(queue_adapter& q, checker& c) {
  const std::string err = R"({"code":"input_not_media","category":"input","message":"no known container format"})";
  send_result s;
  if (!send1(q, c, msg("doomed"), s)) return;
  delivery d1, d2;
  if (!recv1(q, c, d1, 5000ms)) return;
  if (!c.ok(q.nack(d1, 0ms), "nack(0)")) return;
  if (!recv1(q, c, d2, 5000ms)) return;
  auto before = clock::now();
  if (!c.ok(q.dead_letter(d2, "max attempts reached", err), "dead_letter")) return;
  auto after = clock::now();
  expect_nothing(q, c, "after dead_letter");
  expect_stats(q, c, "after dead_letter", 0, 0, 0, 1);

  std::vector<dead_letter_record> dead;
  if (!c.ok(q.list_dead(dead), "list_dead")) return;
  if (c(dead.size() == 1, "list_dead returned " + std::to_string(dead.size()) + " records, want 1")) {
    const auto& r = dead[0];
    c(r.message_id == s.message_id, "dead-letter record has message_id '" + r.message_id + "'");
    c(r.body == "doomed", "dead-letter record has body '" + r.body + "'");
    c(r.reason == "max attempts reached", "dead-letter record has reason '" + r.reason + "'");
    c(r.last_error_json == err, "dead-letter record has last_error_json '" + r.last_error_json + "'");
    c(r.receive_count == 2, "dead-letter record has receive_count " + std::to_string(r.receive_count) + ", want 2");
    c(r.sent_at >= d1.sent_at - timestamp_slack && r.sent_at <= d1.sent_at + timestamp_slack,
      "dead-letter record's sent_at differs from the delivery's by " +
          std::to_string(ms_between(d1.sent_at, r.sent_at)) + " ms");
    c(r.dead_at >= before - timestamp_slack && r.dead_at <= after + timestamp_slack,
      "dead-letter record's dead_at is not the time of dead_letter");
  }
  if (q.caps().fencing) {
    c.is(q.ack(d2), errc::lease_lost, "ack of a dead-lettered delivery");
    c.is(q.dead_letter(d2, "again", ""), errc::lease_lost, "second dead_letter of the same delivery");
    dead.clear();
    c.ok(q.list_dead(dead), "list_dead");
    c(dead.size() == 1, "list_dead after a rejected second dead_letter has " + std::to_string(dead.size()) + " records");
  }

  std::size_t moved = 99;
  c.ok(q.redrive("no-such-message-id", moved), "redrive of an unknown id");
  c(moved == 0, "redrive of an unknown id moved " + std::to_string(moved));
  expect_stats(q, c, "after redrive of an unknown id", 0, 0, 0, 1);
  moved = 99;
  if (!c.ok(q.redrive(s.message_id, moved), "redrive by id")) return;
  c(moved == 1, "redrive by id moved " + std::to_string(moved) + ", want 1");
  expect_stats(q, c, "after redrive by id", 1, 0, 0, 0);
  dead.clear();
  c.ok(q.list_dead(dead), "list_dead after redrive");
  c(dead.empty(), "list_dead after redrive by id still has " + std::to_string(dead.size()) + " records");
  delivery d3;
  if (!recv1(q, c, d3, 5000ms)) return;
  c(d3.message_id == s.message_id, "redriven message has a different id");
  c(d3.body == "doomed", "redriven message has body '" + d3.body + "'");
  c(d3.receive_count == 1, "first delivery after redrive has receive_count " + std::to_string(d3.receive_count) +
                               ", want 1 (redrive restarts the count)");
  c(d3.receipt != d2.receipt && d3.receipt != d1.receipt, "delivery after redrive reuses an old receipt");
  c.ok(q.ack(d3), "ack after redrive");
  expect_empty(q, c, "after acking the redriven message");

  // redrive all (empty id)
  send_result x, y;
  if (!send1(q, c, msg("x"), x) || !send1(q, c, msg("y"), y)) return;
  auto both = drain(q, c, 5000ms);
  if (!c(both.size() == 2, "received " + std::to_string(both.size()) + " of 2 messages")) return;
  for (const auto& d : both) c.ok(q.dead_letter(d, "bad", ""), "dead_letter");
  dead.clear();
  c.ok(q.list_dead(dead), "list_dead");
  c(dead.size() == 2, "list_dead has " + std::to_string(dead.size()) + " records, want 2");
  for (const auto& r : dead) c(r.last_error_json.empty(), "empty last_error_json came back as '" + r.last_error_json + "'");
  expect_stats(q, c, "after dead-lettering two", 0, 0, 0, 2);
  moved = 99;
  if (!c.ok(q.redrive("", moved), "redrive all")) return;
  c(moved == 2, "redrive all moved " + std::to_string(moved) + ", want 2");
  expect_stats(q, c, "after redrive all", 2, 0, 0, 0);
  auto again = drain(q, c, 5000ms);
  c(again.size() == 2, "after redrive all, " + std::to_string(again.size()) + " messages were receivable, want 2");
  for (const auto& d : again) {
    c(d.receive_count == 1, "delivery after redrive all has receive_count " + std::to_string(d.receive_count));
    c.ok(q.ack(d), "ack");
  }
  moved = 99;
  c.ok(q.redrive("", moved), "redrive all with nothing dead");
  c(moved == 0, "redrive all with nothing dead moved " + std::to_string(moved));
  expect_empty(q, c, "at the end");
}

inline void stats_lifecycle(queue_adapter& q, checker& c) {
  if (q.caps().max_delay < 1000ms) return;
  expect_empty(q, c, "of a fresh queue");
  auto t0 = steady::now();
  send_result a, b, later;
  if (!send1(q, c, msg("a"), a) || !send1(q, c, msg("b"), b) || !send1(q, c, msg("c", 1000ms), later)) return;
  expect_stats(q, c, "after two sends and one delayed send", 2, 0, 1, 0);
  std::this_thread::sleep_for(250ms);
  queue_stats st;
  if (c.ok(q.stats(st), "stats")) {
    double age_max = static_cast<double>(ms_since(t0)) / 1000.0 + 0.05;
    c(st.oldest_age_s >= 0.2 && st.oldest_age_s <= age_max,
      "oldest_age_s is " + std::to_string(st.oldest_age_s) + " 250 ms after the first send, want 0.2 .. " +
          std::to_string(age_max));
  }
  delivery da, db;
  if (!recv1(q, c, da, 5000ms)) return;
  expect_stats(q, c, "with one leased", 1, 1, 1, 0);
  if (!recv1(q, c, db, 5000ms)) return;
  expect_stats(q, c, "with two leased", 0, 2, 1, 0);
  if (!c.ok(q.nack(db, 1000ms), "nack(1000 ms)")) return;
  expect_stats(q, c, "after nack with delay", 0, 1, 2, 0);
  if (!c.ok(q.dead_letter(da, "test", ""), "dead_letter")) return;
  expect_stats(q, c, "after dead_letter", 0, 0, 2, 1);
  if (c.ok(q.stats(st), "stats")) {
    c(st.oldest_age_s >= 0.2, "oldest_age_s is " + std::to_string(st.oldest_age_s) +
                                  " with two delayed messages sent over 250 ms ago");
  }
  // Both delayed messages come back within about a second.
  std::vector<delivery> rest;
  auto deadline = steady::now() + 3000ms;
  while (rest.size() < 2 && steady::now() < deadline) {
    std::vector<delivery> got;
    if (!c.ok(recv(q, got, 2, 500ms, 5000ms), "receive of the delayed messages")) return;
    rest.insert(rest.end(), got.begin(), got.end());
  }
  if (!c(rest.size() == 2, std::to_string(rest.size()) + " of 2 delayed messages came back within 3 s")) return;
  expect_stats(q, c, "with the delayed ones leased", 0, 2, 0, 1);
  for (const auto& d : rest) c.ok(q.ack(d), "ack");
  if (expect_stats(q, c, "with only a dead message left", 0, 0, 0, 1, &st))
    c(st.oldest_age_s == 0, "oldest_age_s is " + std::to_string(st.oldest_age_s) +
                                " with only a dead-lettered message left (dead messages do not count)");
  std::size_t moved = 0;
  c.ok(q.redrive("", moved), "redrive all");
  expect_stats(q, c, "after redrive", 1, 0, 0, 0);
  delivery dr;
  if (!recv1(q, c, dr, 5000ms)) return;
  c.ok(q.ack(dr), "ack");
  expect_empty(q, c, "at the end");
}

inline void binary_bodies(queue_adapter& q, checker& c) {
  std::vector<std::string> bodies;
  std::string all_bytes;
  for (int round = 0; round < 2; ++round)
    for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  bodies.push_back(all_bytes);
  bodies.push_back(std::string(1, '\0'));
  bodies.push_back(std::string("\0\0ab\0c\0", 7));
  bodies.push_back("\xff\xfe\xc3\x28 not UTF-8 \xed\xa0\x80");
  const std::size_t big = std::min<std::size_t>(q.caps().max_message_bytes, std::size_t{1} << 20) - 1024;
  std::string large(big, '\0');
  std::uint32_t x = 2463534242u;
  for (std::size_t i = 0; i < big; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    large[i] = (i % 4096 < 64) ? '\0' : static_cast<char>(x & 0xff);  // runs of NULs and random bytes
  }
  bodies.push_back(std::move(large));

  std::map<std::string, std::size_t> index;  // id -> body index
  for (std::size_t i = 0; i < bodies.size(); ++i) {
    send_result s;
    if (!send1(q, c, msg(bodies[i]), s)) return;
    index[s.message_id] = i;
  }
  auto got = drain(q, c, 10'000ms);
  c(got.size() == bodies.size(), std::to_string(got.size()) + " of " + std::to_string(bodies.size()) + " bodies received");
  delivery first{};
  for (const auto& d : got) {
    auto it = index.find(d.message_id);
    if (!c(it != index.end(), "unknown message id '" + d.message_id + "'")) continue;
    const auto& want = bodies[it->second];
    c(d.body == want, "body #" + std::to_string(it->second) + " did not round-trip: " + first_difference(d.body, want));
    if (it->second == 0)
      first = d;
    else
      c.ok(q.ack(d), "ack");
  }
  if (first.message_id.empty()) return;
  if (!c.ok(q.dead_letter(first, "binary", ""), "dead_letter of the binary body")) return;
  std::vector<dead_letter_record> dead;
  if (c.ok(q.list_dead(dead), "list_dead") && c(dead.size() == 1, "list_dead has " + std::to_string(dead.size()) + " records"))
    c(dead[0].body == bodies[0], "binary body did not round-trip through the dead-letter store: " +
                                     first_difference(dead[0].body, bodies[0]));
}

inline void concurrent_receivers(queue_adapter& q, checker& c) {
  constexpr int senders = 2, receivers = 4, per_sender = 60, total = senders * per_sender;
  const milliseconds lease = std::min<milliseconds>(q.caps().max_lease, 60'000ms);
  const std::size_t batch = std::min<std::size_t>(4, q.caps().max_batch);
  std::mutex mu;
  std::set<std::string> sent_ids;
  std::map<std::string, int> acked;   // id -> successful acks
  std::vector<std::string> problems;  // from the threads
  std::atomic<int> acked_total{0};
  auto deadline = steady::now() + 15'000ms;
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < receivers; ++t)
      threads.emplace_back([&] {
        std::vector<delivery> got;
        while (acked_total.load() < total && steady::now() < deadline) {
          auto ec = recv(q, got, batch, 100ms, lease);
          if (ec) {
            std::lock_guard lock(mu);
            problems.push_back("receive failed: " + describe(ec));
            return;
          }
          for (const auto& d : got) {
            auto aec = q.ack(d);
            std::lock_guard lock(mu);
            if (d.receive_count != 1)
              problems.push_back("message " + d.message_id + " delivered with receive_count " +
                                 std::to_string(d.receive_count) + " although no lease expired");
            if (aec) {
              problems.push_back("ack of " + d.message_id + " failed: " + describe(aec));
            } else {
              ++acked[d.message_id];
              ++acked_total;
            }
          }
        }
      });
    for (int t = 0; t < senders; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < per_sender; ++i) {
          send_result s;
          auto ec = q.send(msg("job " + std::to_string(t) + "/" + std::to_string(i)), s);
          std::lock_guard lock(mu);
          if (ec) {
            problems.push_back("send failed: " + describe(ec));
            acked_total = total;  // stop the receivers: the count can no longer be reached
            return;
          }
          if (!sent_ids.insert(s.message_id).second) problems.push_back("send returned a repeated id " + s.message_id);
        }
      });
  }
  for (std::size_t i = 0; i < problems.size() && i < 10; ++i) c.fail(problems[i]);
  if (problems.size() > 10) c.fail(std::to_string(problems.size() - 10) + " more problems like these");
  int once = 0;
  for (const auto& [id, n] : acked) {
    if (!sent_ids.count(id)) c.fail("acked an id that was never sent: " + id);
    if (n == 1)
      ++once;
    else
      c.fail("message " + id + " was acked " + std::to_string(n) + " times");
  }
  c(once == total, std::to_string(once) + " of " + std::to_string(total) +
                       " messages acked exactly once by " + std::to_string(receivers) + " concurrent receivers");
  expect_empty(q, c, "after the concurrent run");
}

}  // namespace detail

/// Every case, in a fixed order. Each must be given a fresh, empty queue.
inline std::vector<test_case> cases() {
  using fn = void (*)(queue_adapter&, detail::checker&);
  auto make = [](std::string name, std::string summary, fn f) {
    test_case t;
    t.name = name;
    t.summary = std::move(summary);
    t.run = [name, f](queue_adapter& q, std::vector<failure>& out) {
      detail::checker c(name, out);
      f(q, c);
    };
    return t;
  };
  return {
      make("send_receive_ack", "send, receive (fields and timestamps), ack removes", detail::send_receive_ack),
      make("receive_empty_returns_at_once", "receive with wait 0 on an empty queue returns nothing promptly",
           detail::receive_empty_returns_at_once),
      make("long_poll_wakes_on_send", "a long poll returns early when another thread sends",
           detail::long_poll_wakes_on_send),
      make("long_poll_times_out", "a long poll on an empty queue returns nothing after `wait`",
           detail::long_poll_times_out),
      make("long_poll_cancel", "a long poll returns early, without error, when *cancel becomes true",
           detail::long_poll_cancel),
      make("lease_hides_message", "a leased message is invisible to other receives", detail::lease_hides_message),
      make("lease_expiry_redelivers",
           "an expired lease redelivers with receive_count 2 and a new receipt; stale receipts are lease_lost",
           detail::lease_expiry_redelivers),
      make("double_ack_is_lease_lost", "ack, nack, extend, dead_letter after ack are lease_lost",
           detail::double_ack_is_lease_lost),
      make("nack_zero_redelivers_at_once", "nack(0) makes the message visible at once",
           detail::nack_zero_redelivers_at_once),
      make("nack_delay", "nack(delay) keeps the message invisible (and counted as delayed) until the delay passes",
           detail::nack_delay),
      make("release_gives_back",
           "release makes the message visible at once; it does not count where caps().uncounted_release says so, "
           "nacks and expired leases still do",
           detail::release_gives_back),
      make("send_delay", "send with a delay keeps the message invisible until the delay passes", detail::send_delay),
      make("extend_keeps_invisible", "extend keeps the message leased beyond the original lease",
           detail::extend_keeps_invisible),
      make("batch_receive", "receive appends up to max_messages distinct deliveries", detail::batch_receive),
      make("dedup_key", "a repeated dedup_key returns the first id with duplicate = true and one delivery",
           detail::dedup_key),
      make("limits_refused", "delays, bodies and leases beyond caps() are invalid_argument and change nothing",
           detail::limits_refused),
      make("dedup_after_ack", "a key is still honoured for caps().dedup_window after its message was acknowledged",
           detail::dedup_after_ack),
      make("send_batch", "send_batch appends one result per message: distinct ids, every message receivable",
           detail::send_batch),
      make("send_batch_empty", "send_batch of an empty batch succeeds and stores nothing", detail::send_batch_empty),
      make("send_batch_dedup", "send_batch honours dedup keys against earlier sends, within a batch and across batches",
           detail::send_batch_dedup),
      make("send_batch_all_or_nothing",
           "a send_batch that fails stores none of its messages (backends with atomic_send_batch)",
           detail::send_batch_all_or_nothing),
      make("dead_letter_and_redrive", "dead_letter, list_dead, redrive by id and all, unknown id moves 0",
           detail::dead_letter_and_redrive),
      make("stats_lifecycle", "stats counters and oldest_age_s through a message's lifecycle",
           detail::stats_lifecycle),
      make("binary_bodies", "bodies with every byte value, NULs and ~1 MiB round-trip exactly",
           detail::binary_bodies),
      make("concurrent_receivers", "concurrent senders and receivers: every message acked exactly once",
           detail::concurrent_receivers),
  };
}

/// Runs one case on `q` (which must be fresh and empty); an exception becomes a failure.
inline std::vector<failure> run_case(const test_case& t, queue_adapter& q) {
  std::vector<failure> out;
  try {
    t.run(q, out);
  } catch (const std::exception& e) {
    out.push_back({t.name, std::string("threw: ") + e.what()});
  } catch (...) {
    out.push_back({t.name, "threw a non-standard exception"});
  }
  return out;
}

/// Runs every case on fresh queues from `make` (called once per case) and returns the failures.
inline std::vector<failure> run_all(const std::function<std::shared_ptr<queue_adapter>()>& make) {
  std::vector<failure> out;
  for (const auto& t : cases()) {
    std::shared_ptr<queue_adapter> q;
    try {
      q = make();
    } catch (const std::exception& e) {
      out.push_back({t.name, std::string("making a fresh queue threw: ") + e.what()});
      continue;
    }
    if (!q) {
      out.push_back({t.name, "making a fresh queue returned null"});
      continue;
    }
    auto f = run_case(t, *q);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

/// The failures, one per line ("case: what").
inline std::string to_string(const std::vector<failure>& failures) {
  std::string s;
  for (const auto& f : failures) s += f.test + ": " + f.what + "\n";
  return s;
}

}  // namespace spool::queue::conformance
