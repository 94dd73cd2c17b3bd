#include <spool/queue/scaling.hpp>

#include <algorithm>
#include <cmath>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

std::int64_t backlog(const queue_stats& s, const scaling_policy& p) noexcept {
  return s.visible + (p.count_in_flight ? s.in_flight : 0) + (p.count_delayed ? s.delayed : 0);
}

std::int64_t recommended_workers(const queue_stats& s, const scaling_policy& p) noexcept {
  double per = p.jobs_per_worker > 0 ? p.jobs_per_worker : 1;
  auto n = static_cast<std::int64_t>(std::ceil(static_cast<double>(backlog(s, p)) / per));
  n = std::max(n, p.min_workers);
  if (p.max_workers > 0) n = std::min(n, p.max_workers);
  return n;
}

double target_jobs_per_worker(std::chrono::duration<double> acceptable_latency,
                              std::chrono::duration<double> job_duration) noexcept {
  if (job_duration.count() <= 0) return 1;
  return std::max(1.0, std::floor(acceptable_latency.count() / job_duration.count()));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
