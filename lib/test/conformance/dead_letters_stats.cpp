// Dead letters and stats: the dead-letter store (where the backend has one) keeps what was
// dead-lettered, pages through it and redrives it; stats (where declared) count every state.
#include <set>
#include <thread>

#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void dead_letter_and_redrive(queue_adapter& q, checker& c) {
  auto* store = q.dead_letters();
  if (!store) return;
  const std::string err = R"({"code":"input_not_media","category":"input","message":"no known container format"})";
  send_result s;
  if (!send1(q, c, msg("doomed"), s)) return;
  delivery d1, d2;
  if (!recv1(q, c, d1, 5000ms)) return;
  if (!c.ok(q.nack(d1, 0ms), "nack(0)")) return;
  if (!recv1(q, c, d2, 5000ms)) return;
  auto before = clock::now();
  if (!c.ok(store->dead_letter(d2, "max attempts reached", err), "dead_letter")) return;
  auto after = clock::now();
  expect_nothing(q, c, "after dead_letter");
  expect_stats(q, c, "after dead_letter", 0, 0, 0, 1);

  auto dead = list_all(q, c);
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
    c.is(store->dead_letter(d2, "again", ""), errc::lease_lost, "second dead_letter of the same delivery");
    dead = list_all(q, c);
    c(dead.size() == 1,
      "list_dead after a rejected second dead_letter has " + std::to_string(dead.size()) + " records");
  }

  auto moved = store->redrive("no-such-message-id");
  if (c.ok(moved, "redrive of an unknown id"))
    c(*moved == 0, "redrive of an unknown id moved " + std::to_string(*moved));
  expect_stats(q, c, "after redrive of an unknown id", 0, 0, 0, 1);
  moved = store->redrive(s.message_id);
  if (!c.ok(moved, "redrive by id")) return;
  c(*moved == 1, "redrive by id moved " + std::to_string(*moved) + ", want 1");
  expect_stats(q, c, "after redrive by id", 1, 0, 0, 0);
  dead = list_all(q, c);
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
  for (const auto& d : both) c.ok(store->dead_letter(d, "bad", ""), "dead_letter");
  dead = list_all(q, c);
  c(dead.size() == 2, "list_dead has " + std::to_string(dead.size()) + " records, want 2");
  for (const auto& r : dead)
    c(r.last_error_json.empty(), "empty last_error_json came back as '" + r.last_error_json + "'");
  expect_stats(q, c, "after dead-lettering two", 0, 0, 0, 2);
  moved = store->redrive("");
  if (!c.ok(moved, "redrive all")) return;
  c(*moved == 2, "redrive all moved " + std::to_string(*moved) + ", want 2");
  expect_stats(q, c, "after redrive all", 2, 0, 0, 0);
  auto again = drain(q, c, 5000ms);
  c(again.size() == 2, "after redrive all, " + std::to_string(again.size()) + " messages were receivable, want 2");
  for (const auto& d : again) {
    c(d.receive_count == 1, "delivery after redrive all has receive_count " + std::to_string(d.receive_count));
    c.ok(q.ack(d), "ack");
  }
  moved = store->redrive("");
  if (c.ok(moved, "redrive all with nothing dead"))
    c(*moved == 0, "redrive all with nothing dead moved " + std::to_string(*moved));
  expect_empty(q, c, "at the end");
}

// list_dead pages: never more than the limit, in dead-letter order, every record once; a page
// picks up where the last ended although records were redriven or added in between.
void dead_letter_paging(queue_adapter& q, checker& c) {
  auto* store = q.dead_letters();
  if (!store) return;
  c.is(store->list_dead("", 0), errc::invalid_argument, "list_dead with a limit of 0");
  auto empty = store->list_dead("", 10);
  if (c.ok(empty, "list_dead of an empty store"))
    c(empty->records.empty() && empty->next.empty(), "list_dead of an empty store gave records or a next position");

  std::vector<std::string> order;  // message ids in the order they were dead-lettered
  for (int i = 0; i < 5; ++i) {
    send_result s;
    if (!send1(q, c, msg("dead " + std::to_string(i)), s)) return;
    delivery d;
    if (!recv1(q, c, d, 5000ms)) return;
    if (!c.ok(store->dead_letter(d, "reason " + std::to_string(i), ""), "dead_letter")) return;
    order.push_back(d.message_id);
  }
  auto all = list_all(q, c, 2);
  std::vector<std::string> listed;
  for (const auto& r : all) listed.push_back(r.message_id);
  c(listed == order, "list_dead in pages of 2 gave " + std::to_string(listed.size()) +
                         " records, not the 5 dead-lettered, in their order");

  // Read the first page, then redrive a record of the second and dead-letter one more: the next
  // pages hold the rest, without the redriven one, and the new one at the end.
  auto first = store->list_dead("", 2);
  if (!c.ok(first, "list_dead, first page") || !c(!first->next.empty(), "a first page of 2 of 5 has no next")) return;
  c(first->records.size() <= 2, "a page with limit 2 has " + std::to_string(first->records.size()) + " records");
  const std::size_t seen = first->records.size();
  if (!c(seen >= 1 && seen < 4, "a first page of " + std::to_string(seen) + " records")) return;
  auto moved = store->redrive(order[seen]);
  if (!c.ok(moved, "redrive of a record on a later page") || !c(*moved == 1, "redrive moved " + std::to_string(*moved)))
    return;
  delivery back;
  if (!recv1(q, c, back, 5000ms)) return;
  if (!c.ok(store->dead_letter(back, "dead again", ""), "dead_letter of the redriven message")) return;
  std::vector<std::string> rest;
  std::string after = first->next;
  for (int pages = 0; pages < 100 && !after.empty(); ++pages) {
    auto page = store->list_dead(after, 2);
    if (!c.ok(page, "list_dead after '" + after + "'")) return;
    for (const auto& r : page->records) rest.push_back(r.message_id);
    after = page->next;
  }
  std::vector<std::string> want(order.begin() + static_cast<std::ptrdiff_t>(seen) + 1, order.end());
  want.push_back(order[seen]);  // dead-lettered again: now the newest
  c(rest == want, "after a redrive and a new dead letter between pages, the following pages gave " +
                      std::to_string(rest.size()) + " records, want the " + std::to_string(want.size()) +
                      " after the first page (without the redriven one) and then the newest");
  auto moved_all = store->redrive("");
  if (c.ok(moved_all, "redrive all")) c(*moved_all == 5, "redrive all moved " + std::to_string(*moved_all));
  for (const auto& d : drain(q, c, 5000ms)) c.ok(q.ack(d), "ack");
  expect_empty(q, c, "at the end");
}

void stats_lifecycle(queue_adapter& q, checker& c) {
  if (!q.caps().stats || q.caps().max_delay < 1000ms) return;
  auto* store = q.dead_letters();
  expect_empty(q, c, "of a fresh queue");
  auto t0 = steady::now();
  send_result a, b, later;
  if (!send1(q, c, msg("a"), a) || !send1(q, c, msg("b"), b) || !send1(q, c, msg("c", 1000ms), later)) return;
  expect_stats(q, c, "after two sends and one delayed send", 2, 0, 1, 0);
  std::this_thread::sleep_for(250ms);
  auto st = q.stats();
  if (c.ok(st, "stats")) {
    double age_max = static_cast<double>(ms_since(t0)) / 1000.0 + 0.05;
    c(st->oldest_age_s >= 0.2 && st->oldest_age_s <= age_max, "oldest_age_s is " + std::to_string(st->oldest_age_s) +
                                                                  " 250 ms after the first send, want 0.2 .. " +
                                                                  std::to_string(age_max));
  }
  delivery da, db;
  if (!recv1(q, c, da, 5000ms)) return;
  expect_stats(q, c, "with one leased", 1, 1, 1, 0);
  if (!recv1(q, c, db, 5000ms)) return;
  expect_stats(q, c, "with two leased", 0, 2, 1, 0);
  if (!c.ok(q.nack(db, 1000ms), "nack(1000 ms)")) return;
  expect_stats(q, c, "after nack with delay", 0, 1, 2, 0);
  // Without a dead-letter store the message is acknowledged instead: the counts are the same but dead.
  if (!c.ok(store ? store->dead_letter(da, "test", "") : q.ack(da), store ? "dead_letter" : "ack")) return;
  expect_stats(q, c, "after dead_letter", 0, 0, 2, 1);
  st = q.stats();
  if (c.ok(st, "stats"))
    c(st->oldest_age_s >= 0.2,
      "oldest_age_s is " + std::to_string(st->oldest_age_s) + " with two delayed messages sent over 250 ms ago");
  // Both delayed messages come back within about a second.
  std::vector<delivery> rest;
  auto deadline = steady::now() + 3000ms;
  while (rest.size() < 2 && steady::now() < deadline) {
    auto got = recv(q, 2, 500ms, 5000ms);
    if (!c.ok(got, "receive of the delayed messages")) return;
    rest.insert(rest.end(), got->begin(), got->end());
  }
  if (!c(rest.size() == 2, std::to_string(rest.size()) + " of 2 delayed messages came back within 3 s")) return;
  expect_stats(q, c, "with the delayed ones leased", 0, 2, 0, 1);
  for (const auto& d : rest) c.ok(q.ack(d), "ack");
  queue_stats s;
  if (expect_stats(q, c, "with only a dead message left", 0, 0, 0, 1, &s))
    c(s.oldest_age_s == 0, "oldest_age_s is " + std::to_string(s.oldest_age_s) +
                               " with only a dead-lettered message left (dead messages do not count)");
  if (!store) return;
  auto moved = store->redrive("");
  c.ok(moved, "redrive all");
  expect_stats(q, c, "after redrive", 1, 0, 0, 0);
  delivery dr;
  if (!recv1(q, c, dr, 5000ms)) return;
  c.ok(q.ack(dr), "ack");
  expect_empty(q, c, "at the end");
}

}  // namespace

std::vector<test_case> dead_letter_and_stats_cases() {
  const std::string clause = "dead letters and stats";
  return {
      make_case("dead_letter_and_redrive", clause, "dead_letter, list_dead, redrive by id and all, unknown id moves 0",
                dead_letter_and_redrive),
      make_case("dead_letter_paging", clause,
                "list_dead pages in dead-letter order, at most `limit` at a time, across redrives and new records",
                dead_letter_paging),
      make_case("stats_lifecycle", clause, "stats counters and oldest_age_s through a message's lifecycle",
                stats_lifecycle),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
