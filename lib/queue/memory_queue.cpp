// mem://name: an in-process queue with the same semantics as the durable ones, for embedding and
// tests. Leases expire lazily: a message whose visible_at has passed is visible again.
//
// Every live message is also in an index ordered by (visible_at, seq), so receive takes the first
// entries of the index instead of scanning and sorting the whole queue: O(log n) per message.
#include "queue/ids.hpp"

#include <spool/queue/registry.hpp>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace spool::queue {
namespace {

struct stored {
  std::string id, body, dedup_key, receipt;
  clock::time_point sent_at{}, visible_at{}, lease_expires_at{}, first_received_at{};
  int receive_count = 0;
  std::uint64_t seq = 0;  ///< send order, the tie-break among equally visible messages
};

// Where a message stands in the receive order.
using order_key = std::pair<clock::time_point, std::uint64_t>;  // (visible_at, seq)

constexpr milliseconds dedup_window{24 * 3600 * 1000};

class memory_queue final : public queue_adapter {
 public:
  capabilities caps() const noexcept override {
    capabilities c;
    c.max_batch = 1000;
    c.dedup_window = dedup_window;
    c.durable = false;
    c.shared_between_processes = false;
    c.atomic_send_batch = true;
    return c;
  }

  error_code send(const outgoing_message& m, send_result& out) override {
    if (!acceptable(m)) return errc::invalid_spec;
    std::string id = detail::random_id();  // before taking the lock, which receivers wait for
    std::lock_guard lock(mutex_);
    out = store(m, std::move(id), clock::now());
    if (!out.duplicate) cv_.notify_all();
    return {};
  }

  // All or nothing: every message is checked, and every id drawn, before the first is stored.
  error_code send_batch(const std::vector<outgoing_message>& msgs, std::vector<send_result>& out) override {
    for (const auto& m : msgs)
      if (!acceptable(m)) return errc::invalid_spec;
    std::vector<std::string> ids(msgs.size());
    for (auto& id : ids) id = detail::random_id();
    out.reserve(out.size() + msgs.size());
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    for (std::size_t i = 0; i < msgs.size(); ++i) out.push_back(store(msgs[i], std::move(ids[i]), now));
    if (!msgs.empty()) cv_.notify_all();
    return {};
  }

  error_code receive(const receive_options& o, std::vector<delivery>& out, const std::atomic<bool>* cancel) override {
    if (o.lease > caps().max_lease) return errc::invalid_spec;
    auto deadline = std::chrono::steady_clock::now() + o.wait;
    std::unique_lock lock(mutex_);
    const std::size_t max = std::max<std::size_t>(1, o.max_messages);
    for (;;) {
      auto now = clock::now();
      // Take the visible ones out of the index first: with a lease of 0 a delivered message would
      // otherwise be visible again, in front of the rest, within this same receive.
      taken_.clear();
      while (taken_.size() < max && !by_visible_.empty() && by_visible_.begin()->first.first <= now)
        taken_.push_back(by_visible_.extract(by_visible_.begin()));
      put_back_untouched guard{taken_, by_visible_};
      const std::size_t n = taken_.size();
      for (auto& node : taken_) {
        stored& s = *node.mapped();
        std::string receipt = detail::random_id();  // may throw: before the message changes
        s.receipt = std::move(receipt);
        s.lease_expires_at = now + o.lease;
        s.visible_at = s.lease_expires_at;
        if (s.receive_count++ == 0) s.first_received_at = now;
        node.key() = {s.visible_at, s.seq};
        by_visible_.insert(std::move(node));
        // If this throws the message stays leased without being handed out, as if the receiver had
        // crashed: it is delivered again when the lease ends.
        out.push_back({s.id, s.body, s.receipt, s.receive_count, s.sent_at, s.first_received_at, s.lease_expires_at});
      }
      if (n > 0 || (cancel && cancel->load())) return {};
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return {};
      // Wake for a send, a nack, or the next delayed message; poll for cancellation.
      cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(left, milliseconds(20)));
    }
  }

  error_code ack(const delivery& d) override {
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return errc::lease_lost;
    if (!it->second.dedup_key.empty()) {
      // Remembered for the dedup window, then forgotten (oldest first).
      auto now = clock::now();
      dedup_.erase(it->second.dedup_key);
      acked_[it->second.dedup_key] = {it->second.id, now};
      acked_order_.emplace_back(now, it->second.dedup_key);
      while (!acked_order_.empty() && now - acked_order_.front().first > dedup_window) {
        auto a = acked_.find(acked_order_.front().second);
        if (a != acked_.end() && a->second.second == acked_order_.front().first) acked_.erase(a);
        acked_order_.pop_front();
      }
    }
    erase(it);
    return {};
  }

  error_code nack(const delivery& d, milliseconds delay) override {
    if (delay > caps().max_delay) return errc::invalid_spec;
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return errc::lease_lost;
    stored& s = it->second;
    s.receipt.clear();
    s.lease_expires_at = {};
    set_visible_at(s, clock::now() + std::max(delay, milliseconds(0)));
    cv_.notify_all();
    return {};
  }

  error_code extend(const delivery& d, milliseconds lease, clock::time_point& expires_at) override {
    if (lease > caps().max_lease) return errc::invalid_spec;
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return errc::lease_lost;
    stored& s = it->second;
    s.lease_expires_at = expires_at = clock::now() + lease;
    set_visible_at(s, s.lease_expires_at);
    return {};
  }

  error_code dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) override {
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return errc::lease_lost;
    stored& s = it->second;
    dead_letter_record r{s.id, std::move(s.body), reason, last_error_json, s.receive_count, s.sent_at, clock::now()};
    dead_.emplace(s.id, std::make_pair(std::move(r), std::move(s.dedup_key)));
    erase(it);
    return {};
  }

  error_code list_dead(std::vector<dead_letter_record>& out) override {
    std::lock_guard lock(mutex_);
    std::vector<dead_letter_record> all;
    for (const auto& [id, r] : dead_) all.push_back(r.first);
    std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.dead_at < b.dead_at; });
    out.insert(out.end(), all.begin(), all.end());
    return {};
  }

  error_code redrive(const std::string& message_id, std::size_t& moved) override {
    std::lock_guard lock(mutex_);
    moved = 0;
    for (auto it = dead_.begin(); it != dead_.end();) {
      if (!message_id.empty() && it->first != message_id) {
        ++it;
        continue;
      }
      stored s;
      s.id = it->second.first.message_id;
      s.body = std::move(it->second.first.body);
      s.dedup_key = it->second.second;
      s.sent_at = it->second.first.sent_at;
      s.visible_at = clock::now();
      s.seq = next_seq_++;
      insert(std::move(s));
      it = dead_.erase(it);
      ++moved;
    }
    if (moved) cv_.notify_all();
    return {};
  }

  error_code stats(queue_stats& out) override {
    std::lock_guard lock(mutex_);
    out = {};
    auto now = clock::now();
    clock::time_point oldest = now;
    for (const auto& [id, s] : messages_) {
      bool leased = !s.receipt.empty() && s.lease_expires_at > now;
      if (leased) ++out.in_flight;
      else if (s.visible_at > now) ++out.delayed;
      else ++out.visible;
      oldest = std::min(oldest, s.sent_at);
    }
    out.dead = static_cast<std::int64_t>(dead_.size());
    out.oldest_age_s = std::chrono::duration<double>(now - oldest).count();
    return {};
  }

 private:
  using message_map = std::unordered_map<std::string, stored>;
  using order_index = std::map<order_key, stored*>;

  // Returns index nodes that receive took out but did not get to (an exception) to the index.
  struct put_back_untouched {
    std::vector<order_index::node_type>& taken;
    order_index& index;
    ~put_back_untouched() {
      for (auto& node : taken)
        if (!node.empty()) index.insert(std::move(node));
    }
  };

  // The message if `d` is its current delivery; a redelivery or an ack makes older receipts stale.
  // The limits caps() states, the same as every backend enforces them.
  bool acceptable(const outgoing_message& m) const {
    const capabilities c = caps();
    return m.body.size() <= c.max_message_bytes && m.delay <= c.max_delay;
  }

  message_map::iterator current(const delivery& d) {
    auto it = messages_.find(d.message_id);
    if (it == messages_.end() || it->second.receipt.empty() || it->second.receipt != d.receipt) return messages_.end();
    return it;
  }

  // Stores `m` under `id` (caller holds mutex_), or finds the message that already has its dedup key.
  send_result store(const outgoing_message& m, std::string id, clock::time_point now) {
    if (!m.dedup_key.empty()) {
      auto it = dedup_.find(m.dedup_key);  // also finds a key sent earlier in the same batch
      if (it != dedup_.end()) return {it->second, true};
      auto a = acked_.find(m.dedup_key);
      if (a != acked_.end() && now - a->second.second <= dedup_window) return {a->second.first, true};
    }
    stored s;
    s.id = std::move(id);
    s.body = m.body;
    s.dedup_key = m.dedup_key;
    s.sent_at = now;
    s.visible_at = now + std::max(m.delay, milliseconds(0));
    s.seq = next_seq_++;
    if (!s.dedup_key.empty()) dedup_.emplace(s.dedup_key, s.id);
    send_result r{s.id, false};
    insert(std::move(s));
    return r;
  }

  void insert(stored&& s) {
    std::string key = s.id;
    auto it = messages_.emplace(std::move(key), std::move(s)).first;
    by_visible_.emplace(order_key{it->second.visible_at, it->second.seq}, &it->second);
  }

  void erase(message_map::iterator it) {
    by_visible_.erase(order_key{it->second.visible_at, it->second.seq});
    messages_.erase(it);
  }

  // Moves the message to its new place in the receive order, reusing the index node.
  void set_visible_at(stored& s, clock::time_point t) {
    auto node = by_visible_.extract(order_key{s.visible_at, s.seq});
    s.visible_at = t;
    node.key() = {t, s.seq};
    by_visible_.insert(std::move(node));
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  message_map messages_;                                // id -> message; its node never moves
  order_index by_visible_;                              // every live message, in the order receive takes them
  std::vector<order_index::node_type> taken_;           // receive's scratch, kept for its capacity
  std::unordered_map<std::string, std::string> dedup_;  // key -> message id, while it exists
  // Keys of acknowledged messages: key -> (id, acked at), and the order to forget them in.
  std::unordered_map<std::string, std::pair<std::string, clock::time_point>> acked_;
  std::deque<std::pair<clock::time_point, std::string>> acked_order_;
  std::map<std::string, std::pair<dead_letter_record, std::string>> dead_;  // + its dedup key
  std::uint64_t next_seq_ = 0;
};

}  // namespace

// A named in-memory queue lives as long as the process, like a broker would.
std::shared_ptr<queue_adapter> make_memory_queue(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<queue_adapter>> named;
  std::lock_guard lock(mutex);
  auto& q = named[name];
  if (!q) q = std::make_shared<memory_queue>();
  return q;
}

}  // namespace spool::queue
