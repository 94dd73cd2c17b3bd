#pragma once
// Internal: poster image and storyboard sprite sheet (+ WebVTT) from frames sampled while decoding.
#include <spool/input_policy.hpp>
#include <spool/io.hpp>
#include <spool/media/transcode.hpp>
#include <spool/plan.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "media/av.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

class thumbnailer {
 public:
  /// `display_w`×`display_h` is the picture as shown (after rotation and aspect ratio). Every picture
  /// written stays within `max_pixels` (the input policy's limit) and JPEG's largest sides: the poster
  /// is scaled down, the storyboard's tiles shrink, and a storyboard that cannot fit is left out.
  thumbnailer(const thumbnail_settings& s, int rotation, int display_w, int display_h, double duration_s,
              std::int64_t max_pixels = input_policy{}.max_pixels);
  /// Offers a decoded frame at presentation time `t` (seconds from the start); cheap when unused.
  void offer(const AVFrame* f, double t);
  /// Writes poster.jpg, storyboard.jpg and storyboard.vtt as configured; returns the names written.
  std::vector<std::string> write(io::package_sink& sink, double duration_s);
  /// What was left out, for the result's warnings.
  const std::vector<transcode_warning>& warnings() const { return warnings_; }

 private:
  av::frame_ptr convert(const AVFrame* f, int w, int h);
  void plan_storyboard(int display_w, int display_h, double duration_s, std::int64_t max_pixels);
  void thin_tiles();

  thumbnail_settings settings_;
  int rotation_;
  int tile_w_ = 0, tile_h_ = 0, poster_w_ = 0, poster_h_ = 0;
  bool storyboard_ = false;    ///< planned and fits the limits
  std::size_t max_tiles_ = 0;  ///< tiles the sheet is sized for
  double interval_ = 0, poster_t_ = 0, next_tile_ = 0;
  bool have_poster_at_time_ = false;
  av::frame_ptr poster_;
  std::vector<std::pair<double, av::frame_ptr>> tiles_;
  av::sws_ptr sws_;
  std::vector<transcode_warning> warnings_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
