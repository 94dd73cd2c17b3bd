#pragma once
// SSIM of encoded renditions against their source, computed in-process with libavfilter's ssim
// filter: the source is scaled (bicubic) to each rendition's size and compared frame by frame.
#include <cstdint>
#include <string>
#include <vector>

namespace spool_bench {

/// One rendition to score: its fragmented MP4 pieces in playback order (init segment first).
struct ssim_job {
  std::string label;
  std::vector<std::string> files;
};

struct ssim_score {
  std::string label;
  double all = -1;                    ///< mean of lavfi.ssim.All over the compared frames; -1 if not computed
  double y = -1;                      ///< mean of lavfi.ssim.Y
  double min_all = -1;                ///< worst single frame
  std::int64_t frames = 0;            ///< frames compared
  std::int64_t rendition_frames = 0;  ///< frames decoded from the rendition
  int width = 0, height = 0;
  std::string error;  ///< why it could not be computed
};

/// Scores every job in one pass over the source (decoded once). Frames are paired by index, so
/// source and renditions must have the same frame rate; a frame-count mismatch is reported in
/// `frames` vs `rendition_frames` and the source's frame count in `source_frames`.
/// `scratch_dir` receives temporary concatenations of the pieces (removed afterwards).
std::vector<ssim_score> compute_ssim(const std::string& source, const std::vector<ssim_job>& jobs,
                                     const std::string& scratch_dir, std::int64_t& source_frames, std::string& error);

}  // namespace spool_bench
