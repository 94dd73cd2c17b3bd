#include "backend_checks.hpp"

#include <spool/queue/registry.hpp>

#include <thread>

#include "pg_uri.hpp"

namespace pgq {
namespace {

namespace q = spool::queue;
using namespace std::chrono_literals;
using failures = std::vector<spool::test::conformance::failure>;
using steady = std::chrono::steady_clock;

struct check {
  std::string name;
  failures& out;
  bool operator()(bool ok, const std::string& what) {
    if (!ok) out.push_back({name, what});
    return ok;
  }
};

q::outgoing_message message(std::string body) {
  q::outgoing_message m;
  m.body = std::move(body);
  return m;
}

std::shared_ptr<q::queue_adapter> open_or_fail(check& c, const std::string& uri) {
  auto opened = q::open_queue(uri);
  if (!c(bool(opened), "open_queue(" + uri + "): " + (opened ? "" : opened.error().what()))) return nullptr;
  return *opened;
}

long long ms_from(q::clock::time_point a, q::clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

// Three leases renewed in one call, one of them stale: it fails alone, the others outlive their
// original lease.
void extend_batch_renews_each(const std::string& uri, failures& out) {
  check c{"extend_batch_renews_each", out};
  auto queue = open_or_fail(c, uri);
  if (!queue) return;
  for (int i = 0; i < 3; ++i)
    if (!c(bool(queue->send(message("job " + std::to_string(i)))), "send")) return;
  q::receive_options o;
  o.max_messages = 3;
  o.lease = 300ms;
  auto held = queue->receive(o);
  if (!c(held && held->size() == 3, "receive of 3 did not give 3 deliveries")) return;
  auto stale = (*held)[2];
  if (!c(!queue->nack(stale, 0ms), "nack")) return;  // its receipt is no longer current
  const auto before = q::clock::now();
  auto renewed = queue->extend_batch(*held, 2000ms);
  const auto after = q::clock::now();
  if (!c(renewed.size() == 3, "extend_batch of 3 answered " + std::to_string(renewed.size()))) return;
  for (int i = 0; i < 2; ++i) {
    if (!c(bool(renewed[i]),
           "extend_batch of a current delivery failed: " + (renewed[i] ? std::string() : renewed[i].error().what())))
      continue;
    c(*renewed[i] >= before + 1950ms && *renewed[i] <= after + 2050ms,
      "extend_batch(2000 ms) gave an expiry " + std::to_string(ms_from(before, *renewed[i])) + " ms ahead");
  }
  c(!renewed[2] && renewed[2].error().code == spool::errc::lease_lost,
    "extend_batch with a nacked receipt did not fail with lease_lost");
  std::this_thread::sleep_for(500ms);  // past the original 300 ms lease
  o.lease = 5000ms;
  auto again = queue->receive(o);  // only the nacked one is visible
  if (c(again && again->size() == 1, "after extend_batch, a receive past the original lease got " +
                                         std::to_string(again ? again->size() : 0) + " deliveries, want 1"))
    c((*again)[0].message_id == stale.message_id, "the message received was one whose lease was extended");
  for (const auto& d : *held)
    if (d.message_id != stale.message_id) c(!queue->ack(d), "ack of an extended delivery");
  if (again)
    for (const auto& d : *again) c(!queue->ack(d), "ack");
}

// Two queues in one database: a message sent to one is invisible to the other.
void queues_are_separate(const std::string& uri_a, const std::string& uri_b, failures& out) {
  check c{"queues_are_separate", out};
  auto a = open_or_fail(c, uri_a), b = open_or_fail(c, uri_b);
  if (!a || !b) return;
  if (!c(bool(a->send(message("for a"))), "send to a")) return;
  auto from_b = b->receive({});
  c(from_b && from_b->empty(), "queue b received a message sent to queue a");
  auto stats_b = b->stats();
  c(stats_b && stats_b->visible == 0, "queue b counts a message sent to queue a");
  auto from_a = a->receive({});
  if (c(from_a && from_a->size() == 1 && (*from_a)[0].body == "for a", "queue a did not receive its own message"))
    c(!a->ack((*from_a)[0]), "ack");
}

// Two adapters on one queue, as two processes would have: a long poll through one wakes on a send
// through the other (NOTIFY between their connections), and each sees the other's leases.
void adapters_share_a_queue(const std::string& uri, failures& out) {
  check c{"adapters_share_a_queue", out};
  auto receiver = open_or_fail(c, uri), sender = open_or_fail(c, uri);
  if (!receiver || !sender) return;
  q::receive_options o;
  o.wait = 5000ms;
  spool::result<std::vector<q::delivery>> got = std::vector<q::delivery>{};
  const auto t0 = steady::now();
  {
    std::jthread poll([&] { got = receiver->receive(o); });
    std::this_thread::sleep_for(300ms);
    c(bool(sender->send(message("from the other adapter"))), "send through the second adapter");
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t0).count();
  if (!c(got && got->size() == 1, "a long poll did not receive a message sent through another adapter")) return;
  c(ms < 1300, "a long poll woke " + std::to_string(ms) + " ms after it began; the send was at 300 ms");
  auto none = sender->receive({});
  c(none && none->empty(), "the second adapter received a message the first holds");
  c(!sender->ack((*got)[0]), "ack through the other adapter (the receipt is the queue's, not the adapter's)");
}

// URIs: parameters libpq does not know, bad queue names and pool sizes are refused with the reason;
// a server that does not answer is a network error.
void uris_refused(const std::string& uri, failures& out) {
  check c{"uris_refused", out};
  const std::string more = uri.find('?') == std::string::npos ? "?" : "&";
  for (const std::string& bad :
       {with_queue(uri, ""), uri + more + "no_such_option=1&queue=x", uri + more + "queue=x&pool=0"}) {
    auto r = q::open_queue(bad);
    c(!r && r.error().code == spool::errc::invalid_argument && !r.error().message.empty(),
      "open_queue(" + bad + ") did not fail with invalid_argument and a reason");
  }
  auto down = q::open_queue("postgresql://spool@127.0.0.1:1/postgres?connect_timeout=2&queue=x");
  c(!down && down.error().code == spool::errc::network,
    "opening a server that is not there did not fail with errc::network" +
        (down ? std::string() : ": " + down.error().what()));
}

}  // namespace

failures run_backend_checks(const std::string& uri, const std::string& prefix) {
  failures out;
  extend_batch_renews_each(with_queue(uri, prefix + "extend-batch"), out);
  queues_are_separate(with_queue(uri, prefix + "separate-a"), with_queue(uri, prefix + "separate-b"), out);
  adapters_share_a_queue(with_queue(uri, prefix + "shared"), out);
  uris_refused(uri, out);
  return out;
}

}  // namespace pgq
