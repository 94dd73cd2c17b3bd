// mem://name: an in-process queue with the same semantics as the durable ones, for embedding and
// tests. Leases expire lazily: a message whose visible_at has passed is visible again.
#include "queue/ids.hpp"

#include <spool/queue/registry.hpp>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spool::queue {
namespace {

struct stored {
  std::string id, body, dedup_key, receipt;
  clock::time_point sent_at{}, visible_at{}, lease_expires_at{}, first_received_at{};
  int receive_count = 0;
  std::uint64_t seq = 0;  ///< send order, the tie-break among equally visible messages
};

class memory_queue final : public queue_adapter {
 public:
  capabilities caps() const noexcept override {
    capabilities c;
    c.max_batch = 1000;
    c.durable = false;
    c.shared_between_processes = false;
    c.atomic_send_batch = true;
    return c;
  }

  error_code send(const outgoing_message& m, send_result& out) override {
    if (m.body.size() > caps().max_message_bytes) return errc::invalid_spec;
    std::lock_guard lock(mutex_);
    if (!m.dedup_key.empty()) {
      auto it = dedup_.find(m.dedup_key);
      if (it != dedup_.end()) {
        out = {it->second, true};
        return {};
      }
    }
    stored s;
    s.id = detail::random_id();
    s.body = m.body;
    s.dedup_key = m.dedup_key;
    s.sent_at = clock::now();
    s.visible_at = s.sent_at + std::max(m.delay, milliseconds(0));
    s.seq = next_seq_++;
    if (!s.dedup_key.empty()) dedup_[s.dedup_key] = s.id;
    out = {s.id, false};
    messages_.emplace(s.id, std::move(s));
    cv_.notify_all();
    return {};
  }

  // All or nothing: every message is checked before the first is stored, under one lock.
  error_code send_batch(const std::vector<outgoing_message>& msgs, std::vector<send_result>& out) override {
    for (const auto& m : msgs)
      if (m.body.size() > caps().max_message_bytes) return errc::invalid_spec;
    std::vector<std::string> ids(msgs.size());
    for (auto& id : ids) id = detail::random_id();  // may throw: before anything is stored
    out.reserve(out.size() + msgs.size());
    std::lock_guard lock(mutex_);
    const auto now = clock::now();
    for (std::size_t i = 0; i < msgs.size(); ++i) {
      const outgoing_message& m = msgs[i];
      if (!m.dedup_key.empty()) {
        auto it = dedup_.find(m.dedup_key);  // also finds a key sent earlier in this batch
        if (it != dedup_.end()) {
          out.push_back({it->second, true});
          continue;
        }
      }
      stored s;
      s.id = std::move(ids[i]);
      s.body = m.body;
      s.dedup_key = m.dedup_key;
      s.sent_at = now;
      s.visible_at = now + std::max(m.delay, milliseconds(0));
      s.seq = next_seq_++;
      if (!s.dedup_key.empty()) dedup_[s.dedup_key] = s.id;
      out.push_back({s.id, false});
      messages_.emplace(s.id, std::move(s));
    }
    if (!msgs.empty()) cv_.notify_all();
    return {};
  }

  error_code receive(const receive_options& o, std::vector<delivery>& out, const std::atomic<bool>* cancel) override {
    auto deadline = std::chrono::steady_clock::now() + o.wait;
    std::unique_lock lock(mutex_);
    for (;;) {
      auto now = clock::now();
      std::vector<stored*> ready;
      for (auto& [id, s] : messages_)
        if (s.visible_at <= now) ready.push_back(&s);
      std::sort(ready.begin(), ready.end(), [](const stored* a, const stored* b) {
        return a->visible_at != b->visible_at ? a->visible_at < b->visible_at : a->seq < b->seq;
      });
      std::size_t n = std::min(ready.size(), std::max<std::size_t>(1, o.max_messages));
      for (std::size_t i = 0; i < n; ++i) {
        stored& s = *ready[i];
        s.receipt = detail::random_id();
        s.lease_expires_at = now + o.lease;
        s.visible_at = s.lease_expires_at;
        if (s.receive_count++ == 0) s.first_received_at = now;
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
    stored* s = current(d);
    if (!s) return errc::lease_lost;
    if (!s->dedup_key.empty()) dedup_.erase(s->dedup_key);
    messages_.erase(d.message_id);
    return {};
  }

  error_code nack(const delivery& d, milliseconds delay) override {
    std::lock_guard lock(mutex_);
    stored* s = current(d);
    if (!s) return errc::lease_lost;
    s->receipt.clear();
    s->visible_at = clock::now() + std::max(delay, milliseconds(0));
    s->lease_expires_at = {};
    cv_.notify_all();
    return {};
  }

  error_code extend(const delivery& d, milliseconds lease, clock::time_point& expires_at) override {
    std::lock_guard lock(mutex_);
    stored* s = current(d);
    if (!s) return errc::lease_lost;
    s->lease_expires_at = s->visible_at = expires_at = clock::now() + lease;
    return {};
  }

  error_code dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) override {
    std::lock_guard lock(mutex_);
    stored* s = current(d);
    if (!s) return errc::lease_lost;
    dead_letter_record r{s->id, s->body, reason, last_error_json, s->receive_count, s->sent_at, clock::now()};
    dead_.emplace(s->id, std::make_pair(std::move(r), s->dedup_key));
    messages_.erase(d.message_id);
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
      messages_.emplace(s.id, std::move(s));
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
  // The message if `d` is its current delivery; a redelivery or an ack makes older receipts stale.
  stored* current(const delivery& d) {
    auto it = messages_.find(d.message_id);
    if (it == messages_.end() || it->second.receipt.empty() || it->second.receipt != d.receipt) return nullptr;
    return &it->second;
  }

  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, stored> messages_;
  std::unordered_map<std::string, std::string> dedup_;  // key -> message id, while it exists
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
