#include <spool/queue/time_source.hpp>

#include <ctime>
#include <fstream>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {
namespace {

class system_time_source final : public time_source {
 public:
  system_time_source() : boot_id_(read_boot_id()) {}

  clock::time_point wall() const noexcept override { return clock::now(); }

  std::chrono::nanoseconds since_boot() const noexcept override {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
  }

  std::string boot_id() const override { return boot_id_; }

 private:
  // Without /proc (a very bare sandbox) the boot is named by when it started, to the minute: the
  // wall clock minus the uptime. Only a reboot, or a wall-clock step of about a minute or more
  // between two opens of a file queue, changes it.
  std::string read_boot_id() const {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string id;
    if (in && std::getline(in, id) && !id.empty()) return id;
    auto started = wall() - std::chrono::duration_cast<clock::duration>(since_boot());
    return "started-" +
           std::to_string(std::chrono::duration_cast<std::chrono::minutes>(started.time_since_epoch()).count());
  }

  std::string boot_id_;
};

}  // namespace

std::shared_ptr<const time_source> system_time() {
  static const auto source = std::make_shared<const system_time_source>();
  return source;
}

manual_time_source::manual_time_source()
    : wall_(clock::now()), since_boot_(std::chrono::seconds(1000)), boot_id_("test-boot") {}

clock::time_point manual_time_source::wall() const noexcept {
  std::lock_guard lock(mutex_);
  return wall_;
}

std::chrono::nanoseconds manual_time_source::since_boot() const noexcept {
  std::lock_guard lock(mutex_);
  return since_boot_;
}

std::string manual_time_source::boot_id() const {
  std::lock_guard lock(mutex_);
  return boot_id_;
}

void manual_time_source::advance(std::chrono::nanoseconds d) {
  std::lock_guard lock(mutex_);
  wall_ += std::chrono::duration_cast<clock::duration>(d);
  since_boot_ += d;
}

void manual_time_source::step_wall(std::chrono::nanoseconds d) {
  std::lock_guard lock(mutex_);
  wall_ += std::chrono::duration_cast<clock::duration>(d);
}

void manual_time_source::reboot(std::string new_boot_id, std::chrono::nanoseconds uptime) {
  std::lock_guard lock(mutex_);
  boot_id_ = std::move(new_boot_id);
  since_boot_ = uptime;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
