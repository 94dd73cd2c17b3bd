#pragma once
// Internal: fault injection for tests. A hook that is set runs at its point and throws
// what that point can throw in production (std::system_error where a thread is created, bad_alloc or
// anything else inside a job), so the recovery paths are exercised without exhausting the machine.
// Set hooks only while no worker runs; the default (empty) hooks cost one test of a std::function.
#include <spool/version.hpp>

#include <functional>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::detail {

struct SPOOL_API fault_hooks {
  std::function<void()> start_heartbeat;                  ///< before run() creates the heartbeat thread
  std::function<void()> start_job;                        ///< before run() creates a job's thread
  std::function<void(const std::string& job_id)> in_job;  ///< first thing on a job's thread
  std::function<void()> before_status_create;  ///< a status sink's create(): the temporary is synced, not yet linked
};

SPOOL_API fault_hooks& faults();

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::detail
