#pragma once
// How many workers a queue needs: the backlog-per-worker rule of ECS/EC2 target tracking and KEDA.
//
//   backlog  = visible (+ in_flight when count_in_flight) (+ delayed when count_delayed)
//   workers  = ceil(backlog / jobs_per_worker), clamped to [min_workers, max_workers]
//
// jobs_per_worker is the target backlog each worker may carry: the latency you accept divided by
// how long one job takes (see target_jobs_per_worker). With 10-minute lecture encodes and 30
// minutes of acceptable wait, each worker may hold 3 jobs: 40 queued or running jobs ask for 14
// workers. docs/queue.md has worked examples and the KEDA and ECS settings that match.
#include <spool/queue/adapter.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

struct SPOOL_API scaling_policy {
  double jobs_per_worker = 1;   ///< target backlog per worker (KEDA queueLength); > 0
  bool count_in_flight = true;  ///< leased jobs still need their worker (KEDA scaleOnInFlight)
  bool count_delayed = false;   ///< jobs waiting out a retry backoff (KEDA scaleOnDelayed)
  std::int64_t min_workers = 0;
  std::int64_t max_workers = 0;  ///< 0 = no upper bound
};

/// The backlog the policy counts.
SPOOL_API std::int64_t backlog(const queue_stats& s, const scaling_policy& p) noexcept;

/// The worker count the policy asks for.
SPOOL_API std::int64_t recommended_workers(const queue_stats& s, const scaling_policy& p) noexcept;

/// jobs_per_worker from the wait you accept and the time one job takes (ECS "backlog per task"
/// target); at least 1.
SPOOL_API double target_jobs_per_worker(std::chrono::duration<double> acceptable_latency,
                                        std::chrono::duration<double> job_duration) noexcept;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
