#include "tiny_queue.hpp"

#include <algorithm>

namespace tiny {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

q::capabilities tiny_queue::caps() const noexcept {
  q::capabilities c;
  c.max_batch = 10;
  c.max_message_bytes = 256 * 1024;
  c.max_delay = 15min;
  c.max_lease = 1h;
  c.fencing = true;  // every ack, nack and extend checks the receipt
  c.dedup = false;   // a dedup_key is ignored: the suite skips its dedup cases
  c.stats = true;    // the one optional operation tiny:// has
  return c;
}

spool::error tiny_queue::over_limit(const char* what, milliseconds got, milliseconds most) const {
  if (got <= most) return {};
  return {spool::errc::invalid_argument, std::string("tiny:// takes a ") + what + " of at most " +
                                             std::to_string(most.count()) + " ms, not " + std::to_string(got.count())};
}

spool::result<q::send_result> tiny_queue::send(const q::outgoing_message& m) {
  if (m.body.size() > caps().max_message_bytes)
    return spool::error{spool::errc::invalid_argument, "tiny:// takes bodies of at most 256 KiB"};
  if (auto e = over_limit("delay", m.delay, caps().max_delay)) return e;
  std::lock_guard lock(mutex_);
  const std::uint64_t n = next_++;
  message msg;
  msg.id = "tiny-" + std::to_string(n);
  msg.body = m.body;
  msg.sent_at = q::clock::now();
  msg.sent = steady::now();
  msg.visible_at = msg.sent + std::max(m.delay, 0ms);
  by_id_[msg.id] = n;
  q::send_result r{msg.id, false};
  messages_.emplace(n, std::move(msg));
  changed_.notify_all();
  return r;
}

spool::result<std::vector<q::delivery>> tiny_queue::receive(const q::receive_options& o,
                                                            const std::atomic<bool>* cancel) {
  if (auto e = over_limit("lease", o.lease, caps().max_lease)) return e;
  const std::size_t max = std::clamp<std::size_t>(o.max_messages, 1, caps().max_batch);
  const auto deadline = steady::now() + o.wait;
  std::vector<q::delivery> out;
  std::unique_lock lock(mutex_);
  for (;;) {
    const auto now = steady::now();
    auto next_visible = steady::time_point::max();
    for (auto& [n, m] : messages_) {
      if (out.size() == max) break;
      if (m.visible_at > now) {
        next_visible = std::min(next_visible, m.visible_at);
        continue;
      }
      // Visible, or its lease ran out: a new delivery with a new receipt.
      m.receipt = "receipt-" + std::to_string(next_++);
      if (m.receive_count++ == 0) m.first_received_at = q::clock::now();
      m.visible_at = now + o.lease;
      out.push_back(
          {m.id, m.body, m.receipt, m.receive_count, m.sent_at, m.first_received_at, q::clock::now() + o.lease});
    }
    if (!out.empty() || (cancel && cancel->load()) || now >= deadline) return out;
    // Wait for a send or a nack, the next delayed message, or 20 ms to look at the cancel flag.
    changed_.wait_until(lock, std::min({deadline, next_visible, now + 20ms}));
  }
}

std::map<std::uint64_t, tiny_queue::message>::iterator tiny_queue::current(const q::delivery& d) {
  auto id = by_id_.find(d.message_id);
  if (id == by_id_.end()) return messages_.end();
  auto it = messages_.find(id->second);
  if (it->second.receipt.empty() || it->second.receipt != d.receipt) return messages_.end();
  return it;
}

spool::error tiny_queue::ack(const q::delivery& d) {
  std::lock_guard lock(mutex_);
  auto it = current(d);
  if (it == messages_.end()) return {spool::errc::lease_lost, d.message_id + ": not the current delivery"};
  by_id_.erase(it->second.id);
  messages_.erase(it);
  return {};
}

spool::error tiny_queue::nack(const q::delivery& d, milliseconds delay) {
  if (auto e = over_limit("delay", delay, caps().max_delay)) return e;
  std::lock_guard lock(mutex_);
  auto it = current(d);
  if (it == messages_.end()) return {spool::errc::lease_lost, d.message_id + ": not the current delivery"};
  it->second.receipt.clear();
  it->second.visible_at = steady::now() + std::max(delay, 0ms);
  changed_.notify_all();
  return {};
}

spool::result<q::clock::time_point> tiny_queue::extend(const q::delivery& d, milliseconds lease) {
  if (auto e = over_limit("lease", lease, caps().max_lease)) return e;
  std::lock_guard lock(mutex_);
  auto it = current(d);
  if (it == messages_.end()) return spool::error{spool::errc::lease_lost, d.message_id + ": not the current delivery"};
  it->second.visible_at = steady::now() + lease;
  return q::clock::now() + lease;
}

spool::result<q::queue_stats> tiny_queue::stats() {
  std::lock_guard lock(mutex_);
  const auto now = steady::now();
  q::queue_stats s;
  for (const auto& [n, m] : messages_) {
    if (!m.receipt.empty() && m.visible_at > now)
      ++s.in_flight;
    else if (m.visible_at > now)
      ++s.delayed;
    else
      ++s.visible;
  }
  if (!messages_.empty())  // the first by send order is the oldest
    s.oldest_age_s = std::chrono::duration<double>(now - messages_.begin()->second.sent).count();
  return s;
}

}  // namespace tiny
