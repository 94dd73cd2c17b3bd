#include <spool/test/faulty_queue.hpp>

#include <algorithm>
#include <thread>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

using namespace queue;

std::string_view to_string(queue_op op) noexcept {
  switch (op) {
    case queue_op::send: return "send";
    case queue_op::send_batch: return "send_batch";
    case queue_op::receive: return "receive";
    case queue_op::ack: return "ack";
    case queue_op::nack: return "nack";
    case queue_op::release: return "release";
    case queue_op::extend: return "extend";
    case queue_op::stats: return "stats";
    case queue_op::dead_letter: return "dead_letter";
    case queue_op::list_dead: return "list_dead";
    case queue_op::redrive: return "redrive";
  }
  return "unknown";
}

// ---- queue_wrapper ----

queue_wrapper::queue_wrapper(std::shared_ptr<queue_adapter> inner) : inner_(std::move(inner)) {}

std::string_view queue_wrapper::type_name() const noexcept { return inner_->type_name(); }
capabilities queue_wrapper::caps() const noexcept { return inner_->caps(); }
result<send_result> queue_wrapper::send(const outgoing_message& m) { return inner_->send(m); }
result<std::vector<result<send_result>>> queue_wrapper::send_batch(const std::vector<outgoing_message>& msgs) {
  return inner_->send_batch(msgs);
}
result<std::vector<delivery>> queue_wrapper::receive(const receive_options& options, const std::atomic<bool>* cancel) {
  return inner_->receive(options, cancel);
}
error queue_wrapper::ack(const delivery& d) { return inner_->ack(d); }
error queue_wrapper::nack(const delivery& d, milliseconds delay) { return inner_->nack(d, delay); }
error queue_wrapper::release(const delivery& d) { return inner_->release(d); }
result<clock::time_point> queue_wrapper::extend(const delivery& d, milliseconds lease) {
  return inner_->extend(d, lease);
}
result<queue_stats> queue_wrapper::stats() { return inner_->stats(); }
dead_letter_store* queue_wrapper::dead_letters() noexcept { return inner_->dead_letters() ? this : nullptr; }

error queue_wrapper::dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) {
  return inner_store().dead_letter(d, reason, last_error_json);
}
result<dead_letter_page> queue_wrapper::list_dead(std::string_view after, std::size_t limit) {
  return inner_store().list_dead(after, limit);
}
result<std::size_t> queue_wrapper::redrive(const std::string& message_id) { return inner_store().redrive(message_id); }

// ---- faulty_queue ----

faulty_queue::faulty_queue(std::shared_ptr<queue_adapter> inner)
    : queue_wrapper(std::move(inner)), name_("faulty " + std::string(queue_wrapper::type_name())) {}

void faulty_queue::fail_nth(queue_op op, int nth, error e) {
  std::lock_guard lock(mutex_);
  auto& p = plans_[static_cast<std::size_t>(op)];
  p.fail_at[p.calls + std::max(nth, 1)] = std::move(e);
}

void faulty_queue::fail_next(queue_op op, int count, error e) {
  std::lock_guard lock(mutex_);
  auto& p = plans_[static_cast<std::size_t>(op)];
  p.fail_next = count;
  p.next_error = std::move(e);
}

void faulty_queue::delay(queue_op op, milliseconds latency) {
  std::lock_guard lock(mutex_);
  plans_[static_cast<std::size_t>(op)].latency = latency;
}

void faulty_queue::withdraw(queue_op op) {
  std::lock_guard lock(mutex_);
  auto mark = [this](queue_op o) { plans_[static_cast<std::size_t>(o)].withdrawn = true; };
  if (op == queue_op::dead_letter || op == queue_op::list_dead || op == queue_op::redrive) {
    for (auto o : {queue_op::dead_letter, queue_op::list_dead, queue_op::redrive}) mark(o);
  } else {
    mark(op);
  }
}

void faulty_queue::reset() {
  std::lock_guard lock(mutex_);
  for (auto& p : plans_) {
    p.fail_at.clear();
    p.fail_next = 0;
    p.next_error = {};
    p.latency = milliseconds(0);
    p.withdrawn = false;
  }
}

int faulty_queue::calls(queue_op op) const {
  std::lock_guard lock(mutex_);
  return plans_[static_cast<std::size_t>(op)].calls;
}

int faulty_queue::failures(queue_op op) const {
  std::lock_guard lock(mutex_);
  return plans_[static_cast<std::size_t>(op)].failures;
}

bool faulty_queue::withdrawn(queue_op op) const {
  std::lock_guard lock(mutex_);
  return plans_[static_cast<std::size_t>(op)].withdrawn;
}

error faulty_queue::before(queue_op op, const std::atomic<bool>* cancel) {
  error fail;
  milliseconds latency{0};
  {
    std::lock_guard lock(mutex_);
    auto& p = plans_[static_cast<std::size_t>(op)];
    const int n = ++p.calls;
    if (auto it = p.fail_at.find(n); it != p.fail_at.end()) {
      fail = std::move(it->second);
      p.fail_at.erase(it);
    } else if (p.fail_next != 0) {
      if (p.fail_next > 0) --p.fail_next;
      fail = p.next_error;
    }
    if (fail) {
      ++p.failures;
      if (fail.message.empty())
        fail.message = std::string(to_string(op)) + " failed on purpose (faulty_queue, call " + std::to_string(n) + ")";
    }
    latency = p.latency;
  }
  // Slept in short steps, so a cancelled receive does not wait out the whole latency.
  const auto until = std::chrono::steady_clock::now() + latency;
  while (std::chrono::steady_clock::now() < until && !(cancel && cancel->load()))
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(milliseconds(10), until - std::chrono::steady_clock::now()));
  return fail;
}

capabilities faulty_queue::caps() const noexcept {
  capabilities c = queue_wrapper::caps();
  std::lock_guard lock(mutex_);
  if (plans_[static_cast<std::size_t>(queue_op::send_batch)].withdrawn) c.send_batch = c.atomic_send_batch = false;
  if (plans_[static_cast<std::size_t>(queue_op::stats)].withdrawn) c.stats = false;
  if (plans_[static_cast<std::size_t>(queue_op::release)].withdrawn) c.uncounted_release = false;
  return c;
}

result<send_result> faulty_queue::send(const outgoing_message& m) {
  if (auto e = before(queue_op::send)) return e;
  return queue_wrapper::send(m);
}

result<std::vector<result<send_result>>> faulty_queue::send_batch(const std::vector<outgoing_message>& msgs) {
  if (auto e = before(queue_op::send_batch)) return e;
  if (withdrawn(queue_op::send_batch)) return unsupported("send_batch");
  return queue_wrapper::send_batch(msgs);
}

result<std::vector<delivery>> faulty_queue::receive(const receive_options& options, const std::atomic<bool>* cancel) {
  if (auto e = before(queue_op::receive, cancel)) return e;
  return queue_wrapper::receive(options, cancel);
}

error faulty_queue::ack(const delivery& d) {
  if (auto e = before(queue_op::ack)) return e;
  return queue_wrapper::ack(d);
}

error faulty_queue::nack(const delivery& d, milliseconds delay) {
  if (auto e = before(queue_op::nack)) return e;
  return queue_wrapper::nack(d, delay);
}

error faulty_queue::release(const delivery& d) {
  if (auto e = before(queue_op::release)) return e;
  if (withdrawn(queue_op::release)) return queue_wrapper::nack(d, milliseconds(0));  // the adapter's default
  return queue_wrapper::release(d);
}

result<clock::time_point> faulty_queue::extend(const delivery& d, milliseconds lease) {
  if (auto e = before(queue_op::extend)) return e;
  return queue_wrapper::extend(d, lease);
}

result<queue_stats> faulty_queue::stats() {
  if (auto e = before(queue_op::stats)) return e;
  if (withdrawn(queue_op::stats)) return unsupported("stats");
  return queue_wrapper::stats();
}

dead_letter_store* faulty_queue::dead_letters() noexcept {
  if (withdrawn(queue_op::dead_letter)) return nullptr;
  return queue_wrapper::dead_letters();
}

error faulty_queue::dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) {
  if (auto e = before(queue_op::dead_letter)) return e;
  return queue_wrapper::dead_letter(d, reason, last_error_json);
}

result<dead_letter_page> faulty_queue::list_dead(std::string_view after, std::size_t limit) {
  if (auto e = before(queue_op::list_dead)) return e;
  return queue_wrapper::list_dead(after, limit);
}

result<std::size_t> faulty_queue::redrive(const std::string& message_id) {
  if (auto e = before(queue_op::redrive)) return e;
  return queue_wrapper::redrive(message_id);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
