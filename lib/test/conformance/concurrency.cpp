// Concurrency: senders and receivers on many threads at once; every message is handed out, and
// acknowledged, exactly once.
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "test/conformance/check.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {
namespace {

void concurrent_receivers(queue_adapter& q, checker& c) {
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
        while (acked_total.load() < total && steady::now() < deadline) {
          auto got = recv(q, batch, 100ms, lease);
          if (!got) {
            std::lock_guard lock(mu);
            problems.push_back("receive failed: " + describe(got.error()));
            return;
          }
          for (const auto& d : *got) {
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
          auto s = q.send(msg("job " + std::to_string(t) + "/" + std::to_string(i)));
          std::lock_guard lock(mu);
          if (!s) {
            problems.push_back("send failed: " + describe(s.error()));
            acked_total = total;  // stop the receivers: the count can no longer be reached
            return;
          }
          if (!sent_ids.insert(s->message_id).second)
            problems.push_back("send returned a repeated id " + s->message_id);
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
  c(once == total, std::to_string(once) + " of " + std::to_string(total) + " messages acked exactly once by " +
                       std::to_string(receivers) + " concurrent receivers");
  expect_empty(q, c, "after the concurrent run");
}

}  // namespace

std::vector<test_case> concurrency_cases() {
  return {
      make_case("concurrent_receivers", "concurrency",
                "concurrent senders and receivers: every message acked exactly once", concurrent_receivers),
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
