#pragma once
// Internal: poster image and storyboard sprite sheet (+ WebVTT) from frames sampled while decoding.
#include "media/av.hpp"

#include <spool/media/plan.hpp>

#include <filesystem>
#include <string>
#include <vector>

namespace spool::media {

class thumbnailer {
 public:
  /// `display_w`×`display_h` is the picture as shown (after rotation and aspect ratio).
  thumbnailer(const thumbnail_settings& s, int rotation, int display_w, int display_h, double duration_s);
  /// Offers a decoded frame at presentation time `t` (seconds from the start); cheap when unused.
  void offer(const AVFrame* f, double t);
  /// Writes poster.jpg, storyboard.jpg and storyboard.vtt as configured; returns the names written.
  std::vector<std::string> write(const std::filesystem::path& dir, double duration_s);

 private:
  av::frame_ptr convert(const AVFrame* f, int w, int h);

  thumbnail_settings settings_;
  int rotation_;
  int tile_w_, tile_h_, poster_w_, poster_h_;
  double interval_, poster_t_, next_tile_ = 0;
  bool have_poster_at_time_ = false;
  av::frame_ptr poster_;
  std::vector<std::pair<double, av::frame_ptr>> tiles_;
  av::sws_ptr sws_;
};

}  // namespace spool::media
