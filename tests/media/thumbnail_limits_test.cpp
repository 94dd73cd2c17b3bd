// The pixel limit applies to every picture spool encodes, thumbnails included: the poster, the tiles
// and the storyboard sheet stay within input_policy::max_pixels and JPEG's largest sides (65500) for
// any aspect ratio and any number of tiles; the tiles shrink rather than the job fail.
#include <spool/input_policy.hpp>
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <set>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

constexpr std::int64_t jpeg_max_side = 65500;

struct thumbs {
  decoded_track poster, sheet;
  std::vector<vtt_cue> cues;
};

// Reads poster.jpg and the storyboard back and checks what holds for any input: the pictures decode,
// stay within the limits, the cues tile the sheet without overlap and cover the whole duration.
thumbs check_thumbnails(const fs::path& out, std::int64_t max_pixels, double duration_s) {
  thumbs t;
  REQUIRE(fs::is_regular_file(out / "poster.jpg"));
  REQUIRE_NOTHROW(t.poster = decode_file(out / "poster.jpg"));
  INFO("poster " << t.poster.width << "x" << t.poster.height);
  CHECK(t.poster.frame_count() == 1);
  CHECK(t.poster.width <= 1280);
  CHECK(t.poster.height <= 720);
  CHECK(static_cast<std::int64_t>(t.poster.width) * t.poster.height <= max_pixels);

  REQUIRE(fs::is_regular_file(out / "storyboard.jpg"));
  REQUIRE_NOTHROW(t.sheet = decode_file(out / "storyboard.jpg"));
  REQUIRE_NOTHROW(t.cues = parse_vtt(out / "storyboard.vtt"));
  INFO("sheet " << t.sheet.width << "x" << t.sheet.height << ", " << t.cues.size() << " tiles");
  CHECK(t.sheet.width <= jpeg_max_side);
  CHECK(t.sheet.height <= jpeg_max_side);
  CHECK(static_cast<std::int64_t>(t.sheet.width) * t.sheet.height <= max_pixels);
  REQUIRE_FALSE(t.cues.empty());
  std::set<std::pair<int, int>> corners;
  for (std::size_t i = 0; i < t.cues.size(); ++i) {
    const auto& c = t.cues[i];
    INFO("cue " << i << ": " << c.payload);
    CHECK(c.w == t.cues.front().w);
    CHECK(c.h == t.cues.front().h);
    CHECK(c.x >= 0);
    CHECK(c.y >= 0);
    CHECK(c.x + c.w <= t.sheet.width);
    CHECK(c.y + c.h <= t.sheet.height);
    CHECK(c.x % c.w == 0);
    CHECK(c.y % c.h == 0);
    CHECK(corners.insert({c.x, c.y}).second);
    if (i > 0) CHECK(c.start == Approx(t.cues[i - 1].end).margin(1e-3));
  }
  CHECK(t.cues.front().start == 0);
  CHECK(t.cues.back().end >= duration_s - 1e-3);
  return t;
}

}  // namespace

TEST_CASE("thumbnails of a picture shown 16 times wider than stored", "[media][thumbnails]") {
  scratch_dir dir("thumbs-wide");
  input_spec spec;
  spec.width = 320;
  spec.height = 180;
  spec.sar_num = 16;  // displayed 5120x180
  spec.sar_den = 1;
  spec.duration_s = 6;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({90});
  plan.thumbnails.interval_s = 1;
  media::transcode_result result;
  const fs::path out = dir / "out";
  transcode_ok(input, out, options_for(plan), result);
  auto t = check_thumbnails(out, spool::input_policy{}.max_pixels, 6);
  // The shapes follow the display aspect ratio (5120:180), to within the rounding to even sizes.
  const double dar = 5120.0 / 180;
  CHECK(t.poster.width == 1280);
  CHECK(std::abs(t.poster.width - t.poster.height * dar) <= 2 * dar);
  const auto& cue = t.cues.front();
  CHECK(cue.w == 160);
  CHECK(std::abs(cue.w - cue.h * dar) <= 2 * dar);
}

TEST_CASE("thumbnails of a picture shown 16 times taller than stored", "[media][thumbnails]") {
  scratch_dir dir("thumbs-tall");
  input_spec spec;
  spec.width = 320;
  spec.height = 240;
  spec.sar_num = 1;  // displayed 20x240
  spec.sar_den = 16;
  spec.duration_s = 4;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({240});
  plan.thumbnails.interval_s = 1;
  plan.thumbnails.tile_width = 640;
  media::transcode_result result;
  const fs::path out = dir / "out";
  transcode_ok(input, out, options_for(plan), result);
  auto t = check_thumbnails(out, spool::input_policy{}.max_pixels, 4);
  // A 640-wide tile of a 1:12 picture would be 7680 tall; a tile is at most twice as tall as wide.
  const auto& cue = t.cues.front();
  INFO("tile " << cue.w << "x" << cue.h);
  CHECK(cue.h <= 2 * 640);
  CHECK(cue.h == 1280);
  CHECK(std::abs(cue.h * 20.0 / 240 - cue.w) <= 2);
}

TEST_CASE("a storyboard of many large tiles shrinks them to fit the pixel limit", "[media][thumbnails]") {
  // 131 tiles 640 wide (16:9) would be a 6400x8640 sheet (55 Mpx); the limit is 4096x2304.
  scratch_dir dir("thumbs-many");
  input_spec spec;
  spec.width = 64;
  spec.height = 36;
  spec.fps = 5;
  spec.gop_s = 10;
  spec.duration_s = 130;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({36});
  plan.video.max_fps = 5;
  plan.thumbnails.interval_s = 1;
  plan.thumbnails.tile_width = 640;
  plan.thumbnails.columns = 10;
  media::transcode_result result;
  const fs::path out = dir / "out";
  transcode_ok(input, out, options_for(plan), result);
  const std::int64_t limit = spool::input_policy{}.max_pixels;
  auto t = check_thumbnails(out, limit, 130);
  // Every second has its tile, and the tiles keep the picture's shape.
  CHECK(t.cues.size() == 130);
  const auto& cue = t.cues.front();
  INFO("tile " << cue.w << "x" << cue.h);
  CHECK(std::abs(cue.w - cue.h * 16.0 / 9) <= 4);
  // Shrunk, but not much further than the limit requires: the sheet fills most of it.
  CHECK(cue.w < 640);
  CHECK(static_cast<double>(t.sheet.width) * t.sheet.height > 0.75 * static_cast<double>(limit));
}

TEST_CASE("a storyboard stays within its planned size when the input runs longer than it says", "[media][thumbnails]") {
  // A raw H.264 stream has no duration of its own: the storyboard is planned for its most tiles (400)
  // and thins itself when more seconds keep coming.
  scratch_dir dir("thumbs-long");
  input_spec spec;
  spec.width = 64;
  spec.height = 36;
  spec.fps = 2;
  spec.gop_s = 10;
  spec.duration_s = 430;
  spec.audio = false;
  spec.container = "h264";
  const fs::path input = dir / "in.h264";
  make_input(input, spec);
  auto plan = small_plan({36});
  plan.video.max_fps = 2;
  plan.thumbnails.interval_s = 1;
  plan.thumbnails.tile_width = 64;
  media::transcode_result result;
  const fs::path out = dir / "out";
  transcode_ok(input, out, options_for(plan), result);
  INFO("probed duration " << result.input.duration_s << " s, package " << result.duration_s << " s");
  auto t = check_thumbnails(out, spool::input_policy{}.max_pixels, result.duration_s);
  CHECK(t.cues.size() <= 400);
  CHECK(t.cues.size() >= 200);
  // Evenly spaced across the whole input, the last tile included (not one tile for the last minute).
  const double step = t.cues[1].start - t.cues[0].start;
  for (std::size_t i = 0; i < t.cues.size(); ++i) {
    INFO("cue " << i << " of " << t.cues.size() << ": " << t.cues[i].start << " --> " << t.cues[i].end);
    if (i + 1 < t.cues.size())
      CHECK(t.cues[i].end - t.cues[i].start == Approx(step).margin(0.6));
    else
      CHECK(t.cues[i].end - t.cues[i].start <= step + 0.6);
  }
}

TEST_CASE("thumbnails stay within a policy's smaller pixel limit", "[media][thumbnails]") {
  spool::input_policy policy;
  policy.max_pixels = 320 * 180;
  SECTION("tiles shrink to fit the limit; the poster fits as it is") {
    scratch_dir dir("thumbs-policy");
    input_spec spec;
    spec.width = 320;
    spec.height = 180;
    spec.duration_s = 4.5;
    spec.audio = false;
    const fs::path input = dir / "in.mp4";
    make_input(input, spec);
    auto options = options_for(small_plan({180}));
    options.policy = policy;
    options.plan.thumbnails.interval_s = 1;
    options.plan.thumbnails.tile_width = 320;
    media::transcode_result result;
    const fs::path out = dir / "out";
    transcode_ok(input, out, options, result);
    auto t = check_thumbnails(out, policy.max_pixels, 4.5);
    CHECK(t.poster.width == 320);
    CHECK(t.poster.height == 180);
    CHECK(t.cues.size() == 5);
    CHECK(t.cues.front().w < 320);
  }
  SECTION("a storyboard whose tiles would be too small to see is left out; the job succeeds") {
    scratch_dir dir("thumbs-policy-drop");
    input_spec spec;
    spec.width = 64;
    spec.height = 36;
    spec.fps = 1;
    spec.duration_s = 401;
    spec.audio = false;
    const fs::path input = dir / "in.mp4";
    make_input(input, spec);
    auto options = options_for(small_plan({36}));
    options.policy = policy;
    options.plan.video.max_fps = 1;
    options.plan.packaging.gop_s = 1;
    options.plan.thumbnails.interval_s = 1;  // 201 tiles: about 22x12 pixels each would fit
    media::transcode_result result;
    const fs::path out = dir / "out";
    transcode_ok(input, out, options, result);
    CHECK(fs::is_regular_file(out / "poster.jpg"));
    CHECK_FALSE(fs::exists(out / "storyboard.jpg"));
    CHECK_FALSE(fs::exists(out / "storyboard.vtt"));
    CHECK(std::find(result.files.begin(), result.files.end(), "storyboard.jpg") == result.files.end());
    CHECK(std::any_of(result.warnings.begin(), result.warnings.end(),
                      [](const media::transcode_warning& w) { return w.code == "storyboard_left_out"; }));
  }
}
