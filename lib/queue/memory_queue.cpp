// mem://name: an in-process queue with the same semantics as the durable ones, for embedding and
// tests. Leases expire lazily: a message whose visible_at has passed is visible again.
//
// Every live message is also in an index ordered by (visible_at, seq), so receive takes the first
// entries of the index instead of scanning and sorting the whole queue: O(log n) per message.
//
// visible_at, lease expiry, the dedup window and message ages are measured on the time source's
// since_boot() clock, which never steps; the wall clock only stamps what a delivery or a dead-letter
// record reports.
#include <spool/queue/registry.hpp>
#include <spool/queue/time_source.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "queue/builtin_schemes.hpp"
#include "queue/ids.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {
namespace {

using std::chrono::nanoseconds;

struct stored {
  std::string id, body, dedup_key, receipt;
  clock::time_point sent_at{}, first_received_at{};      // wall clock, reported
  nanoseconds sent{}, visible_at{}, lease_expires_at{};  // since boot
  int receive_count = 0;
  bool ever_received = false;
  std::uint64_t seq = 0;  ///< send order, the tie-break among equally visible messages
};

struct dead_message {
  dead_letter_record record;
  std::string dedup_key;
  nanoseconds sent{};
};

// Where a message stands in the receive order.
using order_key = std::pair<nanoseconds, std::uint64_t>;  // (visible_at, seq)

constexpr milliseconds dedup_window{24 * 3600 * 1000};

class memory_queue final : public queue_adapter, public dead_letter_store {
 public:
  explicit memory_queue(std::shared_ptr<const time_source> time) : time_(std::move(time)) {}

  std::string_view type_name() const noexcept override { return "mem"; }

  capabilities caps() const noexcept override {
    capabilities c;
    c.max_batch = 1000;
    c.dedup_window = dedup_window;
    c.durable = false;
    c.shared_between_processes = false;
    c.send_batch = true;
    c.atomic_send_batch = true;
    c.stats = true;
    c.uncounted_release = true;
    return c;
  }

  dead_letter_store* dead_letters() noexcept override { return this; }

  result<send_result> send(const outgoing_message& m) override {
    if (auto e = refused(m)) return e;
    std::string id = detail::random_id();  // before taking the lock, which receivers wait for
    std::lock_guard lock(mutex_);
    send_result out = store(m, std::move(id), now());
    if (!out.duplicate) cv_.notify_all();
    return out;
  }

  // All or nothing: every message is checked, and every id drawn, before the first is stored.
  result<std::vector<result<send_result>>> send_batch(const std::vector<outgoing_message>& msgs) override {
    for (const auto& m : msgs)
      if (auto e = refused(m)) return e;
    std::vector<std::string> ids(msgs.size());
    for (auto& id : ids) id = detail::random_id();
    std::vector<result<send_result>> out;
    out.reserve(msgs.size());
    std::lock_guard lock(mutex_);
    const auto t = now();
    for (std::size_t i = 0; i < msgs.size(); ++i) out.emplace_back(store(msgs[i], std::move(ids[i]), t));
    if (!msgs.empty()) cv_.notify_all();
    return out;
  }

  result<std::vector<delivery>> receive(const receive_options& o, const std::atomic<bool>* cancel) override {
    if (auto e = lease_refused(o.lease)) return e;
    std::vector<delivery> out;
    auto deadline = std::chrono::steady_clock::now() + o.wait;
    std::unique_lock lock(mutex_);
    const std::size_t max = std::max<std::size_t>(1, o.max_messages);
    for (;;) {
      const auto t = now();
      // Take the visible ones out of the index first: with a lease of 0 a delivered message would
      // otherwise be visible again, in front of the rest, within this same receive.
      taken_.clear();
      while (taken_.size() < max && !by_visible_.empty() && by_visible_.begin()->first.first <= t.boot)
        taken_.push_back(by_visible_.extract(by_visible_.begin()));
      put_back_untouched guard{taken_, by_visible_};
      const std::size_t n = taken_.size();
      for (auto& node : taken_) {
        stored& s = *node.mapped();
        std::string receipt = detail::random_id();  // may throw: before the message changes
        s.receipt = std::move(receipt);
        s.lease_expires_at = t.boot + o.lease;
        s.visible_at = s.lease_expires_at;
        ++s.receive_count;
        if (!s.ever_received) s.first_received_at = t.wall;
        s.ever_received = true;
        node.key() = {s.visible_at, s.seq};
        by_visible_.insert(std::move(node));
        // If this throws the message stays leased without being handed out, as if the receiver had
        // crashed: it is delivered again when the lease ends.
        out.push_back({s.id, s.body, s.receipt, s.receive_count, s.sent_at, s.first_received_at, t.wall + o.lease});
      }
      if (n > 0 || (cancel && cancel->load())) return out;
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return out;
      // Wake for a send, a nack, or the next delayed message; poll for cancellation.
      cv_.wait_for(lock, std::min<std::chrono::steady_clock::duration>(left, milliseconds(20)));
    }
  }

  error ack(const delivery& d) override {
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return lost(d);
    if (!it->second.dedup_key.empty()) {
      // Remembered for the dedup window, then forgotten (oldest first).
      const nanoseconds t = now().boot;
      dedup_.erase(it->second.dedup_key);
      acked_[it->second.dedup_key] = {it->second.id, t};
      acked_order_.emplace_back(t, it->second.dedup_key);
      while (!acked_order_.empty() && t - acked_order_.front().first > dedup_window) {
        auto a = acked_.find(acked_order_.front().second);
        if (a != acked_.end() && a->second.second == acked_order_.front().first) acked_.erase(a);
        acked_order_.pop_front();
      }
    }
    erase(it);
    return {};
  }

  error nack(const delivery& d, milliseconds delay) override {
    if (auto e = delay_refused(delay)) return e;
    return give_back(d, delay, false);
  }

  error release(const delivery& d) override { return give_back(d, milliseconds(0), true); }

  result<clock::time_point> extend(const delivery& d, milliseconds lease) override {
    if (auto e = lease_refused(lease)) return e;
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return lost(d);
    stored& s = it->second;
    const auto t = now();
    s.lease_expires_at = t.boot + lease;
    set_visible_at(s, s.lease_expires_at);
    return t.wall + lease;
  }

  error dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) override {
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return lost(d);
    stored& s = it->second;
    dead_letter_record r{s.id, std::move(s.body), reason, last_error_json, s.receive_count, s.sent_at, now().wall};
    const std::uint64_t order = next_seq_++;  // dead-lettered n-th, whatever the wall clock did
    dead_ids_.emplace(s.id, order);
    dead_.emplace(order, dead_message{std::move(r), std::move(s.dedup_key), s.sent});
    erase(it);
    return {};
  }

  // The position is the order number of the last record given out, so a page starts where the one
  // before ended even when records were redriven in between.
  result<dead_letter_page> list_dead(std::string_view after, std::size_t limit) override {
    if (limit == 0) return error{errc::invalid_argument, "list_dead needs a limit of at least 1"};
    std::uint64_t from = 0;
    if (!after.empty()) {
      auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), from);
      if (ec != std::errc() || end != after.data() + after.size())
        return error{errc::invalid_argument, "'" + std::string(after) + "' is not a position in mem://'s dead letters"};
      ++from;
    }
    dead_letter_page page;
    std::lock_guard lock(mutex_);
    auto it = dead_.lower_bound(from);
    for (; it != dead_.end() && page.records.size() < limit; ++it) page.records.push_back(it->second.record);
    if (it != dead_.end()) page.next = std::to_string(std::prev(it)->first);
    return page;
  }

  result<std::size_t> redrive(const std::string& message_id) override {
    std::lock_guard lock(mutex_);
    std::size_t moved = 0;
    const auto t = now();
    auto move_back = [&](std::map<std::uint64_t, dead_message>::iterator it) {
      stored s;
      s.id = it->second.record.message_id;
      s.body = std::move(it->second.record.body);
      s.dedup_key = it->second.dedup_key;
      s.sent_at = it->second.record.sent_at;
      s.sent = it->second.sent;
      s.visible_at = t.boot;
      s.seq = next_seq_++;
      dead_ids_.erase(s.id);
      insert(std::move(s));
      ++moved;
      return dead_.erase(it);
    };
    if (message_id.empty()) {
      for (auto it = dead_.begin(); it != dead_.end();) it = move_back(it);
    } else if (auto id = dead_ids_.find(message_id); id != dead_ids_.end()) {
      move_back(dead_.find(id->second));
    }
    if (moved) cv_.notify_all();
    return moved;
  }

  result<queue_stats> stats() override {
    std::lock_guard lock(mutex_);
    queue_stats out;
    const nanoseconds t = now().boot;
    nanoseconds oldest = t;
    for (const auto& [id, s] : messages_) {
      bool leased = !s.receipt.empty() && s.lease_expires_at > t;
      if (leased)
        ++out.in_flight;
      else if (s.visible_at > t)
        ++out.delayed;
      else
        ++out.visible;
      oldest = std::min(oldest, s.sent);
    }
    out.dead = static_cast<std::int64_t>(dead_.size());
    out.oldest_age_s = std::chrono::duration<double>(t - oldest).count();
    return out;
  }

 private:
  using message_map = std::unordered_map<std::string, stored>;
  using order_index = std::map<order_key, stored*>;

  struct instant {
    nanoseconds boot;
    clock::time_point wall;
  };
  instant now() const { return {time_->since_boot(), time_->wall()}; }

  // Returns index nodes that receive took out but did not get to (an exception) to the index.
  struct put_back_untouched {
    std::vector<order_index::node_type>& taken;
    order_index& index;
    ~put_back_untouched() {
      for (auto& node : taken)
        if (!node.empty()) index.insert(std::move(node));
    }
  };

  // The limits caps() states, the same as every backend enforces them.
  error refused(const outgoing_message& m) const {
    if (m.body.size() > caps().max_message_bytes)
      return {errc::invalid_argument, "a body of " + std::to_string(m.body.size()) +
                                          " bytes is over mem://'s limit of " +
                                          std::to_string(caps().max_message_bytes)};
    return delay_refused(m.delay);
  }
  error delay_refused(milliseconds delay) const {
    if (delay <= caps().max_delay) return {};
    return {errc::invalid_argument, "a delay of " + std::to_string(delay.count()) + " ms is over mem://'s limit of " +
                                        std::to_string(caps().max_delay.count()) + " ms"};
  }
  error lease_refused(milliseconds lease) const {
    if (lease <= caps().max_lease) return {};
    return {errc::invalid_argument, "a lease of " + std::to_string(lease.count()) + " ms is over mem://'s limit of " +
                                        std::to_string(caps().max_lease.count()) + " ms"};
  }
  static error lost(const delivery& d) {
    return {errc::lease_lost, "message " + d.message_id + ": this delivery's receipt is no longer current"};
  }

  // The message if `d` is its current delivery; a redelivery or an ack makes older receipts stale.
  message_map::iterator current(const delivery& d) {
    auto it = messages_.find(d.message_id);
    if (it == messages_.end() || it->second.receipt.empty() || it->second.receipt != d.receipt) return messages_.end();
    return it;
  }

  // Ends the lease: visible again after `delay`; `uncount` takes this delivery off the count.
  error give_back(const delivery& d, milliseconds delay, bool uncount) {
    std::lock_guard lock(mutex_);
    auto it = current(d);
    if (it == messages_.end()) return lost(d);
    stored& s = it->second;
    s.receipt.clear();
    s.lease_expires_at = {};
    if (uncount && s.receive_count > 0) --s.receive_count;
    set_visible_at(s, now().boot + std::max(delay, milliseconds(0)));
    cv_.notify_all();
    return {};
  }

  // Stores `m` under `id` (caller holds mutex_), or finds the message that already has its dedup key.
  send_result store(const outgoing_message& m, std::string id, instant t) {
    if (!m.dedup_key.empty()) {
      auto it = dedup_.find(m.dedup_key);  // also finds a key sent earlier in the same batch
      if (it != dedup_.end()) return {it->second, true};
      auto a = acked_.find(m.dedup_key);
      if (a != acked_.end() && t.boot - a->second.second <= dedup_window) return {a->second.first, true};
    }
    stored s;
    s.id = std::move(id);
    s.body = m.body;
    s.dedup_key = m.dedup_key;
    s.sent_at = t.wall;
    s.sent = t.boot;
    s.visible_at = t.boot + std::max(m.delay, milliseconds(0));
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
  void set_visible_at(stored& s, nanoseconds t) {
    auto node = by_visible_.extract(order_key{s.visible_at, s.seq});
    s.visible_at = t;
    node.key() = {t, s.seq};
    by_visible_.insert(std::move(node));
  }

  const std::shared_ptr<const time_source> time_;
  std::mutex mutex_;
  std::condition_variable cv_;
  message_map messages_;                                // id -> message; its node never moves
  order_index by_visible_;                              // every live message, in the order receive takes them
  std::vector<order_index::node_type> taken_;           // receive's scratch, kept for its capacity
  std::unordered_map<std::string, std::string> dedup_;  // key -> message id, while it exists
  // Keys of acknowledged messages: key -> (id, acked at), and the order to forget them in.
  std::unordered_map<std::string, std::pair<std::string, nanoseconds>> acked_;
  std::deque<std::pair<nanoseconds, std::string>> acked_order_;
  std::map<std::uint64_t, dead_message> dead_;               // by the order they were dead-lettered in
  std::unordered_map<std::string, std::uint64_t> dead_ids_;  // id -> its place in dead_
  std::uint64_t next_seq_ = 0;
};

}  // namespace

// A named in-memory queue lives as long as the process, like a broker would.
std::shared_ptr<queue_adapter> make_memory_queue(const std::string& name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<queue_adapter>> named;
  std::lock_guard lock(mutex);
  auto& q = named[name];
  if (!q) q = std::make_shared<memory_queue>(system_time());
  return q;
}

std::shared_ptr<queue_adapter> make_memory_queue(std::shared_ptr<const time_source> time) {
  return std::make_shared<memory_queue>(time ? std::move(time) : system_time());
}

// mem://name: the name is everything after the scheme (host and path), so mem://jobs and
// mem://tenant/jobs are two queues.
void detail::register_memory_scheme() {
  register_scheme("mem", [](std::string_view uri) -> result<std::shared_ptr<queue_adapter>> {
    auto u = boost::urls::parse_uri(uri);
    std::string name = u ? std::string(u->encoded_host()) + std::string(u->encoded_path()) : "";
    if (name.empty()) return error{errc::invalid_argument, "mem:// needs a name, as in mem://jobs"};
    return make_memory_queue(name);
  });
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
