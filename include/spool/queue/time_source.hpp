#pragma once
// The clocks a queue backend reads. Leases and delays are measured on a clock that never steps
// (CLOCK_BOOTTIME: every process of one boot reads the same value, and time spent suspended counts),
// so an NTP step or a hand-set date neither expires a lease early nor hides a message for the size
// of the step. The wall clock only stamps what people read (sent_at, dead_at, lease_expires_at in a
// delivery) and carries a delay across a reboot, when no other clock survives.
//
// Backends take one at construction (make_memory_queue, make_file_queue); tests pass a
// manual_time_source and step either clock by hand.
#include <spool/queue/adapter.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

class SPOOL_API time_source {
 public:
  virtual ~time_source() = default;
  /// The wall clock (system_clock): may step forwards or backwards at any time.
  virtual clock::time_point wall() const noexcept = 0;
  /// Time since this boot (CLOCK_BOOTTIME): never steps, shared by every process of the boot.
  virtual std::chrono::nanoseconds since_boot() const noexcept = 0;
  /// Names this boot: /proc/sys/kernel/random/boot_id. A different value means since_boot() restarted.
  virtual std::string boot_id() const = 0;
};

/// The machine's clocks. Shared, lives as long as the process.
SPOOL_API std::shared_ptr<const time_source> system_time();

/// Clocks a test sets and steps. Starts at the machine's current wall time, 1000 s into boot "test-boot".
/// Thread-safe.
class SPOOL_API manual_time_source final : public time_source {
 public:
  manual_time_source();
  clock::time_point wall() const noexcept override;
  std::chrono::nanoseconds since_boot() const noexcept override;
  std::string boot_id() const override;

  /// Both clocks move forward by `d`, as time passing does.
  void advance(std::chrono::nanoseconds d);
  /// Only the wall clock moves (an NTP step, a hand-set date); `d` may be negative.
  void step_wall(std::chrono::nanoseconds d);
  /// A reboot: a new boot id, since_boot() back to `uptime`; the wall clock keeps going.
  void reboot(std::string new_boot_id, std::chrono::nanoseconds uptime = std::chrono::seconds(10));

 private:
  mutable std::mutex mutex_;
  clock::time_point wall_;
  std::chrono::nanoseconds since_boot_;
  std::string boot_id_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
