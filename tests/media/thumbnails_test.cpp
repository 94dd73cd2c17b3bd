// poster.jpg and the storyboard (sprite sheet + WebVTT index).
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

TEST_CASE("poster and storyboard decode and the VTT index covers the duration", "[media][thumbnails]") {
  scratch_dir dir("thumbs");
  input_spec spec;
  spec.width = 640;
  spec.height = 360;
  spec.duration_s = 11;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({360});
  plan.thumbnails.interval_s = 2;
  plan.thumbnails.tile_width = 160;
  plan.thumbnails.columns = 4;
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto pkg = transcode_ok(input, out, options_for(plan), result);

  // Poster: a JPEG that decodes, in the source's aspect.
  REQUIRE(fs::is_regular_file(out / "poster.jpg"));
  decoded_track poster;
  REQUIRE_NOTHROW(poster = decode_file(out / "poster.jpg"));
  CHECK(poster.codec == "mjpeg");
  CHECK(poster.frame_count() == 1);
  CHECK(poster.width > 0);
  CHECK(poster.height > 0);
  CHECK(static_cast<double>(poster.width) / poster.height == Approx(16.0 / 9).epsilon(0.02));

  // Sprite sheet.
  REQUIRE(fs::is_regular_file(out / "storyboard.jpg"));
  decoded_track sprite;
  REQUIRE_NOTHROW(sprite = decode_file(out / "storyboard.jpg"));
  CHECK(sprite.codec == "mjpeg");
  REQUIRE(sprite.width > 0);
  REQUIRE(sprite.height > 0);

  // Index.
  REQUIRE(fs::is_regular_file(out / "storyboard.vtt"));
  std::vector<vtt_cue> cues;
  REQUIRE_NOTHROW(cues = parse_vtt(out / "storyboard.vtt"));
  // 11 s every 2 s: 6 tiles.
  CHECK(cues.size() == 6);
  REQUIRE_FALSE(cues.empty());
  CHECK(cues.front().start == Approx(0).margin(1e-3));
  for (std::size_t i = 0; i < cues.size(); ++i) {
    const auto& c = cues[i];
    INFO("cue " << i << ": " << c.start << " --> " << c.end << " " << c.payload);
    CHECK(c.file == "storyboard.jpg");
    CHECK(c.end > c.start);
    if (i > 0) CHECK(c.start == Approx(cues[i - 1].end).margin(1e-3));
    REQUIRE(c.w > 0);
    REQUIRE(c.h > 0);
    CHECK(c.x >= 0);
    CHECK(c.y >= 0);
    CHECK(c.x + c.w <= sprite.width);
    CHECK(c.y + c.h <= sprite.height);
    CHECK(c.w == 160);
    CHECK(std::abs(c.h - 90) <= 1);
    // Tiles laid out row by row, `columns` per row.
    CHECK(c.x == static_cast<int>(i % 4) * c.w);
    CHECK(c.y == static_cast<int>(i / 4) * c.h);
  }
  CHECK(cues.back().end >= 11 - 1e-3);
  CHECK(cues.back().end <= 11 + 2);
  CHECK(sprite.width == 4 * 160);

  // result.json lists them.
  REQUIRE(pkg.result.is_object());
  auto* files = pkg.result.get_object().if_contains("files");
  REQUIRE(files);
  REQUIRE(files->is_array());
  std::vector<std::string> names;
  for (const auto& f : files->get_array())
    if (f.is_string()) names.emplace_back(f.get_string());
  for (const char* expected : {"master.m3u8", "manifest.mpd", "poster.jpg", "storyboard.jpg", "storyboard.vtt"}) {
    INFO("files[] should list " << expected);
    CHECK(std::find(names.begin(), names.end(), expected) != names.end());
  }
}

TEST_CASE("thumbnails can be switched off", "[media][thumbnails]") {
  scratch_dir dir("nothumbs");
  input_spec spec;
  spec.duration_s = 2;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({240});
  plan.thumbnails.poster = false;
  plan.thumbnails.storyboard = false;
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto pkg = transcode_ok(input, out, options_for(plan), result);
  CHECK_FALSE(fs::exists(out / "poster.jpg"));
  CHECK_FALSE(fs::exists(out / "storyboard.jpg"));
  CHECK_FALSE(fs::exists(out / "storyboard.vtt"));
  package_expectation expect;
  expect.source_duration = 2;
  expect.fps = 30;
  check_package(pkg, expect);
}
