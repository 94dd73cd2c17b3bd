#include "media/ladder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <thread>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

using av::even;

AVRational output_rate(AVRational src, double max_fps) {
  double fps = av::q2d(src);
  if (!(fps > 0) || fps > 1000) return AVRational{25, 1};
  // A slideshow's average, or a container's claim of one frame an hour: a few frames per keyframe
  // interval keep the grid, and a static picture costs x264 next to nothing.
  if (fps < 10)
    return std::min(AVRational{10, 1}, av_d2q(std::max(max_fps, 1.0), 1001000),
                    [](AVRational a, AVRational b) { return av_cmp_q(a, b) < 0; });
  // Snap near-standard rates so a VFR source's average does not become a strange CFR rate. Within
  // 2%: millisecond timestamps (Matroska, FLV) put a 30 fps average at 30.3.
  static const AVRational standard[] = {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}, {50, 1},
                                        {60000, 1001}, {60, 1}, {15, 1}, {12, 1},       {10, 1}};
  double best = 0.02;
  for (auto r : standard) {
    double off = std::abs(fps - av::q2d(r)) / av::q2d(r);
    if (off < best) {
      best = off;
      src = r;
    }
  }
  fps = av::q2d(src);
  if (fps <= max_fps + 0.01) {
    if (src.den > 1001) src = av_d2q(fps, 1001000);
    return src;
  }
  if (fps / 2 <= max_fps + 0.01) return av_mul_q(src, AVRational{1, 2});
  return av_d2q(max_fps, 1001000);
}

AVRational source_rate(const AVStream* st) {
  AVRational avg = st->avg_frame_rate, real = st->r_frame_rate;
  bool avg_ok = avg.num > 0 && avg.den > 0 && av::q2d(avg) >= 10;
  bool real_ok = real.num > 0 && real.den > 0 && av::q2d(real) >= 10 && av::q2d(real) <= 1000;
  if (!avg_ok && real_ok) return real;
  return avg.num > 0 && avg.den > 0 ? avg : real;
}

std::vector<rung_plan> plan_rungs(const std::vector<rung>& rungs, int display_w, int display_h) {
  std::vector<rung_plan> out;
  bool portrait = display_h > display_w;
  int short_side = std::min(display_w, display_h);
  double dar = static_cast<double>(display_w) / display_h;
  auto dims = [&](int s) {
    geometry g;
    if (portrait) {
      g.width = even(s);
      g.height = even(s / dar);
    } else {
      g.height = even(s);
      g.width = even(s * dar);
    }
    return g;
  };
  for (const auto& r : rungs)
    if (r.height <= short_side) out.push_back({r, dims(r.height)});
  if (out.empty() && !rungs.empty()) {
    // A source smaller than every rung still gets one rendition, at its own size.
    auto smallest =
        *std::min_element(rungs.begin(), rungs.end(), [](const rung& a, const rung& b) { return a.height < b.height; });
    rung r = smallest;
    r.height = even(short_side);
    r.name = fmt::format("{}p", r.height);
    out.push_back({r, dims(r.height)});
  }
  return out;
}

int encoder_threads(const transcode_options& opt, const geometry& g, std::int64_t total_px) {
  if (opt.encoder_threads > 0) return opt.encoder_threads;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double share = total_px > 0 ? static_cast<double>(g.width) * g.height / static_cast<double>(total_px) : 1.0;
  return std::clamp(static_cast<int>(std::lround(share * cores * 2)), 1, std::max(1, cores * 2));
}

std::int64_t declared_end(const AVFormatContext* ctx, const AVStream* st, std::int64_t origin) {
  std::int64_t end = AV_NOPTS_VALUE;
  if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) {
    std::int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : origin;
    std::int64_t e = 0;
    if (!__builtin_add_overflow(start, st->duration, &e) && !__builtin_sub_overflow(e, origin, &e)) end = e;
  }
  if (ctx->duration > 0 && ctx->duration != AV_NOPTS_VALUE) {
    std::int64_t start_us = ctx->start_time != AV_NOPTS_VALUE ? ctx->start_time : 0;
    std::int64_t e = 0;
    if (!__builtin_add_overflow(start_us, ctx->duration, &e)) {
      e = av_rescale_q(e, AV_TIME_BASE_Q, st->time_base);
      if (!__builtin_sub_overflow(e, origin, &e)) end = end == AV_NOPTS_VALUE ? e : std::max(end, e);
    }
  }
  return end;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
