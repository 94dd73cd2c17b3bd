// Keyframes exactly on the gop_s grid at frame rates where gop_s x fps is not a whole number of
// frames: one keyframe per grid line (within half a frame), none of the encoder's own in between.
// check_package() asserts that on every package; these inputs are the ones that used to break it
// (at 28.2 fps an encoder interval rounded to 56 frames put a keyframe at 3.9716 s next to the forced
// one at 4.0071 s).
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

#include <cmath>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

struct grid_case {
  int fps_num, fps_den;
  double gop_s, segment_s;
};

void keyframes_on_grid(const std::string& encoder, const std::string& codec, const grid_case& c, double duration) {
  const double fps = static_cast<double>(c.fps_num) / c.fps_den;
  INFO(encoder << " at " << c.fps_num << "/" << c.fps_den << " fps, gop_s " << c.gop_s << ", segment_s " << c.segment_s
               << " (" << c.gop_s * fps << " frames per grid step)");
  scratch_dir dir("keyframes");
  input_spec spec;
  spec.width = 192;
  spec.height = 108;
  spec.fps_num = c.fps_num;
  spec.fps_den = c.fps_den;
  spec.duration_s = duration;
  spec.audio = false;
  spec.gop_s = 5;  // the source's own keyframes are nowhere near the output grid
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);

  auto plan = small_plan({108});
  plan.video.codec = encoder;
  plan.packaging.gop_s = c.gop_s;
  plan.packaging.segment_s = c.segment_s;
  plan.thumbnails.storyboard = false;
  plan.thumbnails.poster = false;
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", options_for(plan), result);
  package_expectation expect;
  expect.source_duration = duration;
  expect.fps = fps;
  expect.gop_s = c.gop_s;
  expect.segment_s = c.segment_s;
  expect.codec = codec;
  expect.audio = false;
  check_package(pkg, expect);

  // The count alone, independently of check_package's matching: one keyframe per grid line.
  REQUIRE(pkg.video.size() == 1);
  const auto& t = pkg.video.front().track;
  REQUIRE_FALSE(t.frames.empty());
  std::size_t lines = 0;
  while (static_cast<double>(lines) * c.gop_s - 0.5 / fps - 1.0 / 90000 <= t.frames.back().pts) ++lines;
  CHECK(t.keyframe_times().size() == lines);
}

bool have(const char* encoder) {
  if (avcodec_find_encoder_by_name(encoder)) return true;
  WARN("SKIP: " << encoder << " is not in this FFmpeg; its keyframe placement is not tested");
  return false;
}

}  // namespace

TEST_CASE("x264 keyframes stay on the grid at fractional frame rates", "[media][keyframes]") {
  const grid_case cases[] = {
      {141, 5, 2, 6},           // 28.2 fps: 56.4 frames per 2 s
      {24000, 1001, 2, 6},      // 23.976: 47.95
      {30000, 1001, 2, 6},      // 29.97: 59.94
      {141, 5, 0.5, 1.5},       // 14.1 frames per 0.5 s
      {30000, 1001, 0.5, 1.5},  // 14.985
      {141, 5, 1.5, 3},         // 42.3
      {30000, 1001, 1.5, 3},    // 44.955
  };
  for (const auto& c : cases) keyframes_on_grid("libx264", "h264", c, 12.5);
}

TEST_CASE("x265 keyframes stay on the grid at fractional frame rates", "[media][keyframes]") {
  if (!have("libx265")) return;
  for (const auto& c : {grid_case{141, 5, 2, 6}, grid_case{30000, 1001, 1.5, 3}})
    keyframes_on_grid("libx265", "hevc", c, 12.5);
}

TEST_CASE("SVT-AV1 keyframes stay on the grid at fractional frame rates", "[media][keyframes]") {
  if (!have("libsvtav1")) return;
  for (const auto& c : {grid_case{141, 5, 2, 6}, grid_case{30000, 1001, 1.5, 3}})
    keyframes_on_grid("libsvtav1", "av1", c, 12.5);
}
