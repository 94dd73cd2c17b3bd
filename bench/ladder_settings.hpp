#pragma once
// What the ladder benchmark compares: spool's default "hls-ladder" preset, spelled out so that the
// ffmpeg reference commands and the report use the same figures.
#include <iterator>

namespace spool_bench {

struct rung_def {
  const char* name;
  int height;
  int maxrate_k;
  int bufsize_k;
};

inline constexpr rung_def ladder[] = {
    {"1080p", 1080, 5000, 10000},
    {"720p", 720, 3000, 6000},
    {"480p", 480, 1500, 3000},
    {"360p", 360, 800, 1600},
};
inline constexpr int rung_count = static_cast<int>(std::size(ladder));
inline constexpr int crf = 23;
inline constexpr const char* x264_preset = "veryfast";
inline constexpr int fps = 30;
inline constexpr int gop_frames = 60;  // 2 s at 30 fps
inline constexpr double segment_s = 6;

}  // namespace spool_bench
