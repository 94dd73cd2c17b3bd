#include <spool/queue/retry.hpp>

#include <algorithm>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

std::chrono::milliseconds backoff(const retry_policy& p, int attempt, std::uint64_t random) noexcept {
  using std::chrono::milliseconds;
  auto base = std::max<std::int64_t>(p.base.count(), 0);
  auto cap = std::max<std::int64_t>(p.cap.count(), 0);
  int shift = std::clamp(attempt - 1, 0, 40);
  // base × 2^shift, saturating at the cap before it can overflow.
  std::int64_t ceiling = base;
  for (int i = 0; i < shift && ceiling < cap; ++i) ceiling *= 2;
  ceiling = std::min(ceiling, cap);
  return milliseconds(ceiling == 0 ? 0 : static_cast<std::int64_t>(random % static_cast<std::uint64_t>(ceiling + 1)));
}

retry_decision decide(const retry_policy& p, const error_code& failure, int receive_count, std::uint64_t random) {
  retry_decision d;
  switch (kind_of(failure)) {
    case category_kind::input:
    case category_kind::policy:
    case category_kind::unsupported:
      d.what = verdict::dead_letter;
      d.reason = "permanent failure (" + std::string(to_string(kind_of(failure))) + "): " + code_name(failure);
      return d;
    case category_kind::cancelled: d.what = verdict::release; return d;
    case category_kind::none:
    case category_kind::resource:
    case category_kind::transient:
    case category_kind::internal:
    case category_kind::usage:  // a misconfigured worker, not a bad job: a fixed deploy may still run it
      break;
  }
  if (receive_count >= p.max_attempts) {
    d.what = verdict::dead_letter;
    d.reason = "gave up after " + std::to_string(receive_count) + " attempts; last failure: " + code_name(failure);
    return d;
  }
  d.what = verdict::retry;
  d.delay = backoff(p, receive_count, random);
  return d;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
