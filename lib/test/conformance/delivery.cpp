// Delivery and long poll: what a send hands to a receive, and how long a receive waits.
#include <map>
#include <thread>

#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void send_receive_ack(queue_adapter& q, checker& c) {
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

void receive_empty_returns_at_once(queue_adapter& q, checker& c) {
  auto t0 = steady::now();
  auto got = recv(q, 1, 0ms, 1000ms);
  auto ms = ms_since(t0);
  if (c.ok(got, "receive with wait 0 on an empty queue"))
    c(got->empty(), "receive on an empty queue returned " + std::to_string(got->size()) + " deliveries");
  c(ms < 250, "receive with wait 0 on an empty queue took " + std::to_string(ms) + " ms, want < 250");
}

void long_poll_wakes_on_send(queue_adapter& q, checker& c) {
  result<send_result> sent = send_result{};
  auto t0 = steady::now();
  result<std::vector<delivery>> got = std::vector<delivery>{};
  {
    std::jthread sender([&] {
      std::this_thread::sleep_for(200ms);
      sent = q.send(msg("late"));
    });
    got = recv(q, 1, 5000ms, 5000ms);
  }
  auto ms = ms_since(t0);
  if (!c.ok(sent, "send from another thread")) return;
  if (!c.ok(got, "long-poll receive")) return;
  if (!c(got->size() == 1, "long-poll receive (wait 5000 ms) returned " + std::to_string(got->size()) +
                               " deliveries after " + std::to_string(ms) + " ms, want 1 soon after the send at 200 ms"))
    return;
  const auto& d = got->front();
  c(d.message_id == sent->message_id && d.body == "late", "long poll delivered a different message");
  c(ms < 1500, "long poll returned " + std::to_string(ms) + " ms after it started; the message was sent at 200 ms");
  c.ok(q.ack(d), "ack");
}

void long_poll_times_out(queue_adapter& q, checker& c) {
  auto t0 = steady::now();
  auto got = recv(q, 1, 400ms, 1000ms);
  auto ms = ms_since(t0);
  if (c.ok(got, "long-poll receive on an empty queue"))
    c(got->empty(), "long poll on an empty queue returned " + std::to_string(got->size()) + " deliveries");
  c(ms >= 380, "long poll with wait 400 ms on an empty queue returned after " + std::to_string(ms) + " ms");
  c(ms < 1400, "long poll with wait 400 ms on an empty queue took " + std::to_string(ms) + " ms");
}

void long_poll_cancel(queue_adapter& q, checker& c) {
  std::atomic<bool> cancel{false};
  result<std::vector<delivery>> got = std::vector<delivery>{};
  auto t0 = steady::now();
  {
    std::jthread canceller([&] {
      std::this_thread::sleep_for(200ms);
      cancel = true;
    });
    got = recv(q, 1, 10'000ms, 1000ms, &cancel);
  }
  auto ms = ms_since(t0);
  if (c.ok(got, "long poll cancelled from another thread (cancellation is not an error)"))
    c(got->empty(), "cancelled long poll returned " + std::to_string(got->size()) + " deliveries");
  c(ms < 1200, "long poll (wait 10 s) cancelled at 200 ms returned only after " + std::to_string(ms) + " ms");

  // Already cancelled: returns at once.
  t0 = steady::now();
  got = recv(q, 1, 10'000ms, 1000ms, &cancel);
  ms = ms_since(t0);
  if (c.ok(got, "long poll with the cancel flag already set"))
    c(got->empty(), "long poll with the cancel flag set on an empty queue returned deliveries");
  c(ms < 500, "long poll (wait 10 s) with the cancel flag already set took " + std::to_string(ms) + " ms");
}

void binary_bodies(queue_adapter& q, checker& c) {
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
  c(got.size() == bodies.size(),
    std::to_string(got.size()) + " of " + std::to_string(bodies.size()) + " bodies received");
  delivery first{};
  for (const auto& d : got) {
    auto it = index.find(d.message_id);
    if (!c(it != index.end(), "unknown message id '" + d.message_id + "'")) continue;
    const auto& want = bodies[it->second];
    c(d.body == want, "body #" + std::to_string(it->second) + " did not round-trip: " + first_difference(d.body, want));
    if (it->second == 0 && q.dead_letters())
      first = d;
    else
      c.ok(q.ack(d), "ack");
  }
  if (first.message_id.empty()) return;
  if (!c.ok(dead_letter(q, first, "binary", ""), "dead_letter of the binary body")) return;
  auto dead = list_all(q, c);
  if (c(dead.size() == 1, "list_dead has " + std::to_string(dead.size()) + " records"))
    c(dead[0].body == bodies[0],
      "binary body did not round-trip through the dead-letter store: " + first_difference(dead[0].body, bodies[0]));
}

}  // namespace

std::vector<test_case> delivery_cases() {
  const std::string clause = "delivery";
  return {
      make_case("send_receive_ack", clause, "send, receive (fields and timestamps), ack removes", send_receive_ack),
      make_case("receive_empty_returns_at_once", clause,
                "receive with wait 0 on an empty queue returns nothing promptly", receive_empty_returns_at_once),
      make_case("long_poll_wakes_on_send", clause, "a long poll returns early when another thread sends",
                long_poll_wakes_on_send),
      make_case("long_poll_times_out", clause, "a long poll on an empty queue returns nothing after `wait`",
                long_poll_times_out),
      make_case("long_poll_cancel", clause, "a long poll returns early, without error, when *cancel becomes true",
                long_poll_cancel),
      make_case("binary_bodies", clause,
                "bodies with every byte value, NULs and ~1 MiB round-trip exactly (and through the dead-letter store)",
                binary_bodies),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
