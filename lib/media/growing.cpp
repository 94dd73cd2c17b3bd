#include "media/growing.hpp"

#include <spool/job.hpp>
#include <spool/package_layout.hpp>

#include <algorithm>
#include <cmath>

#include "media/av.hpp"
#include "media/package_out.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

using clock = std::chrono::steady_clock;

bool publishes_progressively(const transcode_options& opt, const io::package_sink& sink, std::string& note) {
  const auto& publish = opt.plan.packaging.publish;
  bool wanted = publish == "progressive" || (publish == "auto" && opt.publish_progressively_by_default);
  if (!wanted) return false;
  if (!opt.plan.packaging.hls && !opt.plan.packaging.dash) {
    note = "published atomically: the plan writes neither HLS nor DASH, nothing a player could follow";
    return false;
  }
  if (!sink.caps().incremental) {
    note =
        "published atomically: the output cannot show files one by one (a package it replaces stays whole "
        "until the new one is)";
    return false;
  }
  return true;
}

growing_package::growing_package(io::package_sink& sink, const plan& p, const std::vector<std::string>& video,
                                 bool audio, clock::time_point started, std::chrono::milliseconds interval)
    : interval_(interval),
      sink_(sink),
      hls_(p.packaging.hls),
      dash_(p.packaging.dash),
      video_count_(video.size()),
      started_(started) {
  for (const auto& name : video) {
    std::int64_t cap = 0;
    for (const auto& r : p.video.rungs)
      if (r.name == name) cap = r.maxrate_kbps * 1000;
    manifest_.bandwidth.emplace_back(name, cap);
  }
  // AAC at a set rate stays close to it; the container adds a little.
  if (audio) manifest_.bandwidth.emplace_back(std::string(package_layout::audio_dir), p.audio.bitrate_kbps * 1100);
  manifest_.target_duration_s = static_cast<std::int64_t>(std::ceil(p.packaging.segment_s));
  // The presentation starts when the job did; every listed segment may be fetched at once, however far
  // ahead of the wall clock the encoders are (availabilityTimeOffset INF in the MPD).
  manifest_.availability_start =
      to_iso8601(std::chrono::system_clock::now() -
                 std::chrono::duration_cast<std::chrono::system_clock::duration>(clock::now() - started));
  std::size_t n = video.size() + (audio ? 1 : 0);
  tracks_.resize(n);
  changed_.assign(n, false);
}

std::function<void(const track_info&)> growing_package::hook(std::size_t index) {
  return [this, index](const track_info& t) {
    std::lock_guard lock(mutex_);
    tracks_[index] = t;
    changed_[index] = true;
  };
}

void growing_package::poll() {
  auto now = clock::now();
  if (visible_ && now - last_ < interval_) return;
  std::vector<track_info> snap;
  std::vector<bool> changed;
  {
    std::lock_guard lock(mutex_);
    // Visible only once every track can be played from its start.
    for (const auto& t : tracks_)
      if (t.segments.empty()) return;
    if (std::none_of(changed_.begin(), changed_.end(), [](bool c) { return c; })) return;
    snap = tracks_;
    changed = changed_;
    std::fill(changed_.begin(), changed_.end(), false);
  }
  const std::vector<track_info> video(snap.begin(), snap.begin() + static_cast<std::ptrdiff_t>(video_count_));
  const track_info* audio = snap.size() > video_count_ ? &snap.back() : nullptr;
  namespace layout = package_layout;
  if (hls_) {
    for (std::size_t i = 0; i < snap.size(); ++i)
      if (changed[i] || !visible_)
        put_manifest(sink_, snap[i].name + "/" + std::string(layout::media_playlist),
                     hls_media_playlist(snap[i], &manifest_));
    if (!visible_) put_manifest(sink_, layout::master_playlist, hls_master_playlist(video, audio, &manifest_));
  }
  if (dash_) {
    manifest_.publish_time = to_iso8601(std::chrono::system_clock::now());
    put_manifest(sink_, layout::mpd, dash_manifest(video, audio, 0, &manifest_));
  }
  if (auto e = sink_.publish_now()) av::fail(e.code, e.what());
  double playable = -1;
  for (const auto& t : snap) playable = playable < 0 ? t.duration_s() : std::min(playable, t.duration_s());
  playable_.store(std::max(0.0, playable), std::memory_order_relaxed);
  if (!visible_) first_s_ = std::chrono::duration<double>(clock::now() - started_).count();
  visible_ = true;
  last_ = now;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
