#pragma once
// What happens to a job after a failed delivery: the same rules for every backend.
//  - input, policy, unsupported: dead-letter at once (retrying cannot help).
//  - resource, transient, internal: retry after an exponential backoff with full jitter, until
//    max_attempts deliveries have been made (every delivery counts, crashed ones included).
//  - cancelled: release at once for another worker. The worker gives a job it stopped for a
//    shutdown back with queue_adapter::release(), which does not count it where the backend can.
#include <spool/error.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

struct SPOOL_API retry_policy {
  int max_attempts = 5;                       ///< deliveries before a retryable failure is dead-lettered
  std::chrono::milliseconds base{2'000};      ///< first backoff ceiling
  std::chrono::milliseconds cap{5 * 60'000};  ///< no backoff ceiling above this
};

enum class verdict { retry, dead_letter, release };

struct SPOOL_API retry_decision {
  verdict what = verdict::retry;
  std::chrono::milliseconds delay{0};  ///< for retry: how long the job stays invisible
  std::string reason;                  ///< for dead_letter: why, in words
};

/// The backoff before delivery `attempt` + 1: uniform in [0, min(cap, base × 2^(attempt−1))]
/// ("full jitter"); `random` is any uniformly distributed 64-bit value.
SPOOL_API std::chrono::milliseconds backoff(const retry_policy& p, int attempt, std::uint64_t random) noexcept;

/// Decides what to do after `failure` on delivery number `receive_count` (1 for the first).
SPOOL_API retry_decision decide(const retry_policy& p, const error_code& failure, int receive_count,
                                std::uint64_t random);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
