#pragma once
// Internal: a package published while it is being written (plan.packaging.publish = "progressive").
// Once every track has its first segment, the manifests list every track and the sink shows them;
// from then on they grow segment by segment (HLS EVENT playlists, a dynamic MPD) until the engine
// writes the finished ones.
#include <spool/io.hpp>
#include <spool/media/transcode.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "media/manifest.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// Whether a transcode into `sink` is published progressively, and if a progressive plan is not,
/// why (in `note`).
bool publishes_progressively(const transcode_options& opt, const io::package_sink& sink, std::string& note);

class growing_package {
 public:
  /// `video` names the rungs in ladder order (the master's order); `audio` whether there is an audio track.
  growing_package(io::package_sink& sink, const plan& p, const std::vector<std::string>& video, bool audio,
                  std::chrono::steady_clock::time_point started, std::chrono::milliseconds interval);

  /// The track_output::segment_done hook of video track `index`, or of the audio (index = video count).
  std::function<void(const track_info&)> hook(std::size_t index);
  /// Before the first publish: video track `index` announces `bps` as its BANDWIDTH while it grows
  /// (a copied source's own peak instead of the rung's cap).
  void declare_bandwidth(std::size_t index, std::int64_t bps) { manifest_.bandwidth.at(index).second = bps; }
  /// From the watching thread: publishes the segments that came since the last time, at once the first
  /// time every track has one, then at most once per `interval`. Throws av::failure on a sink error.
  void poll();
  /// Seconds every track's published playlist reaches; 0 before the package is visible.
  double playable_s() const noexcept { return playable_.load(std::memory_order_relaxed); }
  /// Seconds from the start to the first publish; -1 before it.
  double first_playable_s() const noexcept { return first_s_; }

 private:
  std::chrono::milliseconds interval_;
  io::package_sink& sink_;
  bool hls_, dash_;
  std::size_t video_count_;
  std::chrono::steady_clock::time_point started_;
  growing_manifest manifest_;
  std::mutex mutex_;  ///< guards tracks_, changed_
  std::vector<track_info> tracks_;
  std::vector<bool> changed_;
  bool visible_ = false;
  std::chrono::steady_clock::time_point last_;
  std::atomic<double> playable_{0};
  double first_s_ = -1;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
