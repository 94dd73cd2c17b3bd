#pragma once
// The portal's own counters, shown with the queue's and the catalog's in Prometheus text format.
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

namespace portal {

class metrics {
 public:
  /// One request's handling time (from its header read to its answer written) under `route`.
  void observe_request(std::string_view route, unsigned status, double seconds);
  void add_upload_bytes(std::int64_t n) { upload_bytes_ += n; }
  /// A finished job: seconds of media it encoded and the wall time it took.
  void job_done(double media_s, double wall_s);

  /// The portal's own series, in Prometheus text exposition format.
  std::string text() const;

 private:
  static constexpr std::array<double, 12> bounds_ = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,   0.25,   0.5,   1,    5};
  struct histogram {
    std::array<std::uint64_t, bounds_.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mutex_;
  std::map<std::string, histogram, std::less<>> requests_;
  std::map<unsigned, std::uint64_t> statuses_;
  std::atomic<std::int64_t> upload_bytes_{0};
  double media_s_ = 0, encode_wall_s_ = 0, last_speed_ = 0;
  std::uint64_t jobs_done_ = 0;
};

}  // namespace portal
