// The full default ladder from an HD source: renditions, dimensions, frame counts, the keyframe grid,
// segment alignment across rungs, A/V alignment, bandwidth attributes, DASH and result.json.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

TEST_CASE("default ladder from 1280x720 30 fps 14 s with audio", "[media][ladder]") {
  scratch_dir dir("ladder");
  input_spec spec;
  spec.width = 1280;
  spec.height = 720;
  spec.fps = 30;
  spec.duration_s = 14;
  const fs::path input = dir / "hd.mp4";
  make_input(input, spec);

  media::transcode_options options;  // the default preset, "hls-ladder"
  REQUIRE(options.plan.video.rungs.size() == 4);
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto ec = spool::transcode(input.string(), out, options, result);
  INFO("transcode: " << describe(ec) << " " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(temp_leftovers(dir.path()).empty());

  // 1080p is dropped (never upscale); the rest keep the 16:9 aspect with even dimensions.
  CHECK_FALSE(fs::exists(out / "1080p"));
  package_view pkg = load_package(out);
  package_expectation expect;
  expect.source_duration = 14;
  expect.fps = 30;
  expect.rung_names = {"720p", "480p", "360p"};
  check_package(pkg, expect);

  REQUIRE(pkg.video.size() == 3);
  CHECK(pkg.video[0].track.width == 1280);
  CHECK(pkg.video[0].track.height == 720);
  check_dimensions(pkg.video[1].track.width, pkg.video[1].track.height, 16.0 / 9);
  CHECK(pkg.video[1].track.height == 480);
  CHECK(pkg.video[2].track.width == 640);
  CHECK(pkg.video[2].track.height == 360);
  for (const auto& r : pkg.video) {
    INFO(r.name);
    CHECK(r.track.frame_count() >= 14 * 30 - 1);
    CHECK(r.track.frame_count() <= 14 * 30 + 1);
    // 14 s in 6 s segments on a 2 s grid: 6 + 6 + 2.
    CHECK(r.playlist.uris.size() == 3);
  }
  // Bigger rungs cost more bits.
  CHECK(pkg.video[0].avg_bitrate() > pkg.video[1].avg_bitrate());
  CHECK(pkg.video[1].avg_bitrate() > pkg.video[2].avg_bitrate());

  // Audio: AAC-LC, 48 kHz stereo as planned, one group shared by every variant.
  REQUIRE(pkg.audio.has_value());
  CHECK(pkg.audio->track.sample_rate == 48000);
  CHECK(pkg.audio->track.channels == 2);
  int audio_groups = 0;
  for (const auto& m : pkg.master.media)
    if (m.type == "AUDIO") ++audio_groups;
  CHECK(audio_groups == 1);
  for (const auto& v : pkg.master.variants) CHECK(v.audio == "audio");

  // The typed result mirrors result.json.
  CHECK(result.duration_s == Approx(14).margin(1.0 / 30 + 1e-3));
  CHECK(result.output == out.string());
  REQUIRE(result.renditions.size() == 4);
  CHECK(result.renditions[0].name == "720p");
  CHECK(result.renditions[3].kind == "audio");
  CHECK(result.input.video_index >= 0);
  CHECK(result.input.audio_index >= 0);

  // Thumbnails exist by default.
  CHECK(fs::is_regular_file(out / "poster.jpg"));
  CHECK(fs::is_regular_file(out / "storyboard.jpg"));
  CHECK(fs::is_regular_file(out / "storyboard.vtt"));
}
