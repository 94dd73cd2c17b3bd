// The worker's heartbeat: one thread renews the leases of all running jobs (every `heartbeat`, in one
// batch where the backend can), and cancels a job whose lease is refused or not renewed in time.
#include <algorithm>
#include <chrono>
#include <mutex>
#include <vector>

#include "worker/runtime.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE {

using std::chrono::milliseconds;
using worker_detail::cancel_reason;
using worker_detail::job;
using steady = worker_detail::steady;

void worker_runtime::impl::heartbeat_loop() noexcept {
  std::unique_lock lock(mutex);
  while (!heartbeat_quit) {
    heartbeat_wake.wait_for(lock, milliseconds(100));
    try {
      heartbeat_once(lock);
    } catch (...) {
      // Out of memory for the list of due jobs: try again on the next tick.
    }
    if (!lock.owns_lock()) lock.lock();
  }
}

void worker_runtime::impl::heartbeat_once(std::unique_lock<std::mutex>& lock) {
  auto now = steady::now();
  std::vector<std::shared_ptr<job>> due;
  for (auto& j : jobs)
    if (!j->done && !j->cancel && now >= j->next_extend) due.push_back(j);
  lock.unlock();
  if (due.empty()) {
    lock.lock();
    return;
  }
  // Every lease due is renewed in one call where the backend batches (SQS: ten per request).
  std::vector<spool::queue::delivery> deliveries;
  deliveries.reserve(due.size());
  for (const auto& j : due) deliveries.push_back(j->delivery);
  std::vector<error_code> codes(due.size(), make_error_code(errc::internal));
  try {
    auto extended = queue->extend_batch(deliveries, options.lease);
    for (std::size_t i = 0; i < due.size() && i < extended.size(); ++i)
      codes[i] = extended[i] ? error_code() : extended[i].error().code;
  } catch (...) {
    // the adapter threw: as failed extensions, retried soon
  }
  auto after = steady::now();
  for (std::size_t i = 0; i < due.size(); ++i) {
    auto& j = due[i];
    auto ec = codes[i];
    if (!ec) {
      j->next_extend = after + options.heartbeat;
      j->lease_deadline = now + options.lease;
    } else if (ec == errc::lease_lost || after + milliseconds(500) >= j->lease_deadline.load()) {
      // Refused, or not renewed in time: the job may be delivered again, so this copy stops.
      j->cancel_for(cancel_reason::lease_lost);
    } else {
      j->next_extend = after + std::min(milliseconds(1'000), options.heartbeat);
    }
  }
  lock.lock();
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
