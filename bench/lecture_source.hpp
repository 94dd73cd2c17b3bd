#pragma once
// A synthetic "lecture" clip made entirely from libavfilter sources: slides on a flat background
// that change every few seconds, a small moving camera inset, and speech-like audio, encoded as
// H.264 + AAC in MP4 like a typical upload. Deterministic for equal settings and FFmpeg versions.
#include <string>

namespace spool_bench {

struct lecture_spec {
  double duration_s = 30;
  int width = 1920;
  int height = 1080;
  int fps = 30;
  bool audio = true;
  double slide_s = 4.5;  ///< a new slide every slide_s seconds
  int crf = 16;          ///< high quality, so the source is not the bottleneck of any rung
  std::string preset = "veryfast";
};

/// Checks the spec's values; returns what is wrong, or an empty string.
std::string check(const lecture_spec& spec);

/// The libavfilter graph that draws the clip: open outputs [v] (yuv420p) and, with audio, [a].
/// Text is drawn only when the drawtext filter and a DejaVu font are present.
std::string lecture_graph(const lecture_spec& spec);

/// Writes the clip to `path` (MP4, written to a temporary sibling and renamed when complete).
/// Returns an empty string on success, otherwise what went wrong. Logs nothing but FFmpeg errors.
std::string make_lecture(const std::string& path, const lecture_spec& spec);

}  // namespace spool_bench
