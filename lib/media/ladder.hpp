#pragma once
// Internal: the ladder for one source (which rungs, at what size and rate) and the bounds a frame's
// timestamps are held to. Pure functions of the probe and the plan, tested on their own.
#include <spool/media/transcode.hpp>
#include <spool/plan.hpp>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "media/av.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

struct geometry {
  int width = 0, height = 0;  ///< output, after rotation
};

AVRational output_rate(AVRational src, double max_fps);

// The container's average rate, unless the timestamps say frames come much faster than it claims
// (a Matroska DefaultDuration of an hour on a 30 fps stream).
AVRational source_rate(const AVStream* st);

class cut_schedule;

struct video_source {
  AVRational time_base{1, 1};
  std::int64_t origin = 0;  ///< subtracted from every timestamp, in time_base
  int rotation = 0;
  bool interlaced = false;
  AVRational out_rate{30, 1};
  double duration_s = 0;
  AVRational container_sar{0, 1};  ///< the container's sample aspect ratio, which wins over the bitstream's
  /// With the remux fast path: the source's keyframes, where every encoded rung puts its own, and the
  /// longest time between two of them.
  const cut_schedule* keys = nullptr;
  double longest_key_gap_s = 0;
};

// Timestamps, relative to the origin, in the stream's time base, that a frame may reach: the duration
// limit, and the end the container declares. A container can claim hours for one frame; a frame is
// shown at most until the declared end (or, with none declared, for a second), never past the limit.
struct frame_bounds {
  std::int64_t limit = INT64_MAX;  ///< max_duration_s
  std::int64_t declared_end = AV_NOPTS_VALUE;
  std::int64_t frame_step = 1;

  std::int64_t bounded_duration(std::int64_t pts, std::int64_t duration) const {
    std::int64_t longest = declared_end != AV_NOPTS_VALUE && declared_end > pts ? declared_end - pts : 0;
    longest = std::max({longest, frame_step, std::int64_t{1}});
    if (declared_end == AV_NOPTS_VALUE) longest = std::max(frame_step, one_second);
    return std::clamp<std::int64_t>(duration, 1, std::min(longest, limit));
  }
  std::int64_t one_second = 1;
};

struct rung_plan {
  rung r;
  geometry g;
};

// The ladder for this source: never upscale; the rung height is the short side, so a portrait
// 1080x1920 video's "1080p" rung is 1080 wide.
std::vector<rung_plan> plan_rungs(const std::vector<rung>& rungs, int display_w, int display_h);

int encoder_threads(const transcode_options& opt, const geometry& g, std::int64_t total_px);

// The latest end the container declares for the stream (its own duration or the file's), relative to
// the origin, in the stream's time base; AV_NOPTS_VALUE when it declares none.
std::int64_t declared_end(const AVFormatContext* ctx, const AVStream* st, std::int64_t origin);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
