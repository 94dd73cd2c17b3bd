// Awkward but valid inputs: variable frame rate, rotation, odd sizes, chroma formats, 10-bit,
// interlacing, high frame rates, other containers, missing timestamps and start offsets. Each one
// must come out as a clean CFR yuv420p ladder on the keyframe grid.
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

struct variant_case {
  package_view pkg;
  media::transcode_result result;
};

/// `spec` into a fresh input, transcoded with a two-rung ladder (240p, 180p) unless `heights` says otherwise.
variant_case run_variant(const scratch_dir& dir, const input_spec& spec, const std::string& name,
                         std::vector<int> heights = {240, 180}) {
  const fs::path input = dir / name;
  make_input(input, spec);
  auto options = options_for(small_plan(std::move(heights)));
  variant_case c;
  c.pkg = transcode_ok(input, dir / "out", options, c.result);
  return c;
}

}  // namespace

TEST_CASE("VFR input with alternating frame durations comes out CFR with the source duration", "[media][input]") {
  scratch_dir dir("vfr-alt");
  input_spec spec;
  spec.duration_s = 4;
  spec.vfr = vfr_mode::alternating;  // 1/20 s, 1/40 s, ...: the video ends at 4.025 s
  auto c = run_variant(dir, spec, "vfr.mp4");
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 0;                                // the library picks the rate; it must be constant and at most 30
  expect.duration_tolerance = 1.0 / 26 + 0.025;  // one output frame, plus the source's last frame reaching 4.025 s
  check_package(c.pkg, expect);
}

TEST_CASE("VFR input with dropped frames comes out CFR at 30 fps without losing time", "[media][input]") {
  scratch_dir dir("vfr-drop");
  input_spec spec;
  spec.duration_s = 4;
  spec.vfr = vfr_mode::dropped;  // every fifth frame of the 30 fps grid missing
  spec.container = "mkv";
  auto c = run_variant(dir, spec, "drop.mkv");
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 30;
  check_package(c.pkg, expect);
}

TEST_CASE("display-matrix rotation 90 gives portrait output without rotation metadata", "[media][input][rotation]") {
  scratch_dir dir("rot90");
  input_spec spec;
  spec.rotation = 90;
  const fs::path input = dir / "rot90.mp4";
  make_input(input, spec);
  {
    media::probe_result probed;
    REQUIRE_FALSE(probe(input.string(), spool::input_policy{}, probed));
    REQUIRE(probed.video_index >= 0);
    const auto& vs = probed.streams.at(static_cast<std::size_t>(probed.video_index));
    CHECK(vs.rotation == 90);
    CHECK(vs.display_width == 240);
    CHECK(vs.display_height == 320);
  }
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", options_for(small_plan({240, 160})), result);
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 30;
  check_package(pkg, expect);
  for (const auto& r : pkg.video) {
    INFO(r.name << " " << r.track.width << "x" << r.track.height);
    CHECK(r.track.height > r.track.width);
    check_dimensions(r.track.width, r.track.height, 240.0 / 320);
  }
}

TEST_CASE("display-matrix rotation 270 and 180", "[media][input][rotation]") {
  for (int rotation : {270, 180}) {
    INFO("rotation " << rotation);
    scratch_dir dir("rot" + std::to_string(rotation));
    input_spec spec;
    spec.rotation = rotation;
    spec.container = "mov";
    spec.duration_s = 2;
    auto c = run_variant(dir, spec, "rot.mov", {240, 160});
    package_expectation expect;
    expect.source_duration = 2;
    expect.fps = 30;
    check_package(c.pkg, expect);
    for (const auto& r : c.pkg.video) {
      INFO(r.name << " " << r.track.width << "x" << r.track.height);
      if (rotation == 180)
        check_dimensions(r.track.width, r.track.height, 320.0 / 240);
      else
        check_dimensions(r.track.width, r.track.height, 240.0 / 320);
    }
  }
}

TEST_CASE("odd dimensions 321x241 come out even", "[media][input]") {
  scratch_dir dir("odd");
  input_spec spec;
  spec.width = 321;
  spec.height = 241;
  spec.pix_fmt = "yuv444p";  // 4:2:0 cannot have odd dimensions; 4:4:4 can
  auto c = run_variant(dir, spec, "odd.mp4");
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 30;
  expect.rung_names = {"240p", "180p"};
  check_package(c.pkg, expect);
  for (const auto& r : c.pkg.video) check_dimensions(r.track.width, r.track.height, 321.0 / 241);
}

TEST_CASE("4:2:2 and 4:4:4 and 10-bit inputs come out 8-bit 4:2:0", "[media][input][pixfmt]") {
  for (std::string pix : {"yuv422p", "yuv444p", "yuv420p10le"}) {
    INFO("source pixel format " << pix);
    scratch_dir dir("pix");
    input_spec spec;
    spec.pix_fmt = pix;
    spec.duration_s = 3;
    spec.container = pix == "yuv444p" ? "mkv" : "mp4";
    {
      const fs::path probe_input = dir / ("probe." + spec.container);
      make_input(probe_input, spec);
      media::probe_result probed;
      REQUIRE_FALSE(probe(probe_input.string(), spool::input_policy{}, probed));
      REQUIRE(probed.video_index >= 0);
      const auto& vs = probed.streams.at(static_cast<std::size_t>(probed.video_index));
      CHECK(vs.pix_fmt == pix);
      CHECK(vs.bit_depth == (pix == "yuv420p10le" ? 10 : 8));
    }
    auto c = run_variant(dir, spec, "in." + spec.container);
    package_expectation expect;
    expect.source_duration = 3;
    expect.fps = 30;
    check_package(c.pkg, expect);  // asserts yuv420p output
  }
}

TEST_CASE("interlaced input comes out progressive yuv420p", "[media][input]") {
  for (std::string container : {"ts", "mkv"}) {
    INFO("container " << container);
    scratch_dir dir("interlaced");
    input_spec spec;
    spec.interlaced = true;
    spec.container = container;
    spec.duration_s = 3;
    const fs::path input = dir / ("in." + container);
    make_input(input, spec);
    media::probe_result probed;
    REQUIRE_FALSE(probe(input.string(), spool::input_policy{}, probed));
    REQUIRE(probed.video_index >= 0);
    CHECK(probed.streams.at(static_cast<std::size_t>(probed.video_index)).interlaced);
    media::transcode_result result;
    auto pkg = transcode_ok(input, dir / "out", options_for(small_plan()), result);
    package_expectation expect;
    expect.source_duration = 3;
    expect.fps = 30;
    expect.duration_tolerance = 1.0 / 30 + 0.04;  // MPEG-TS/Matroska timestamps are rounded to 1/90000 s / 1 ms
    check_package(pkg, expect);
    for (const auto& r : pkg.video) {
      INFO(r.name);
      CHECK_FALSE(r.track.any_interlaced_frame);
    }
  }
}

TEST_CASE("60 fps input comes out at 30 fps", "[media][input][fps]") {
  scratch_dir dir("fps60");
  input_spec spec;
  spec.fps = 60;
  spec.duration_s = 4;
  auto c = run_variant(dir, spec, "f60.mp4");
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 30;
  check_package(c.pkg, expect);
  for (const auto& r : c.pkg.video) CHECK(r.track.frame_count() == 120);
}

TEST_CASE("50 fps input comes out at 25 fps", "[media][input][fps]") {
  scratch_dir dir("fps50");
  input_spec spec;
  spec.fps = 50;
  spec.duration_s = 4;
  spec.container = "mkv";
  spec.sample_rate = 44100;
  spec.channels = 1;
  auto c = run_variant(dir, spec, "f50.mkv");
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 25;
  expect.duration_tolerance = 1.0 / 25 + 0.002;  // Matroska's 1 ms timestamps
  check_package(c.pkg, expect);
  for (const auto& r : c.pkg.video) CHECK(std::abs(r.track.frame_count() - 100) <= 1);
  // The audio follows the plan: 48 kHz, whatever the source rate.
  REQUIRE(c.pkg.audio.has_value());
  CHECK(c.pkg.audio->track.sample_rate == 48000);
}

TEST_CASE("90 fps input is capped at 30 fps", "[media][input][fps]") {
  scratch_dir dir("fps90");
  input_spec spec;
  spec.fps = 90;
  spec.duration_s = 2;
  spec.audio = false;
  auto c = run_variant(dir, spec, "f90.mp4");
  package_expectation expect;
  expect.source_duration = 2;
  expect.fps = 30;
  expect.audio = false;
  check_package(c.pkg, expect);
}

TEST_CASE("MPEG-4 Part 2 video in AVI", "[media][input][container]") {
  scratch_dir dir("avi");
  input_spec spec;
  spec.container = "avi";
  spec.video_codec = "mpeg4";
  spec.duration_s = 3;
  auto c = run_variant(dir, spec, "in.avi");
  package_expectation expect;
  expect.source_duration = 3;
  expect.fps = 30;
  expect.duration_tolerance = 1.0 / 30 + 0.04;
  check_package(c.pkg, expect);
}

TEST_CASE("raw H.264 elementary stream without timestamps keeps every frame", "[media][input][timestamps]") {
  scratch_dir dir("raw");
  input_spec spec;
  spec.container = "h264";
  spec.audio = false;
  spec.duration_s = 4;
  const fs::path input = dir / "in.h264";
  make_input(input, spec);
  auto options = options_for(small_plan());
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), dir / "out", options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  auto pkg = load_package(dir / "out");
  // The demuxer invents the timestamps; whatever rate it assumes, the 120 frames must all be there.
  REQUIRE_FALSE(pkg.video.empty());
  const double fps = pkg.master.variants.front().frame_rate;
  REQUIRE(fps > 0);
  package_expectation expect;
  expect.source_duration = 120 / fps;
  expect.fps = fps;
  expect.audio = false;
  check_package(pkg, expect);
  for (const auto& r : pkg.video) CHECK(std::abs(r.track.frame_count() - 120) <= 1);
}

TEST_CASE("inputs whose first timestamp is not zero start at zero", "[media][input][timestamps]") {
  for (std::string container : {"mp4", "ts"}) {
    INFO("container " << container);
    scratch_dir dir("offset");
    input_spec spec;
    spec.container = container;
    spec.start_offset_s = 5;
    spec.duration_s = 4;
    auto c = run_variant(dir, spec, "in." + container);
    package_expectation expect;
    expect.source_duration = 4;
    expect.fps = 30;
    expect.duration_tolerance = 1.0 / 30 + 0.04;
    check_package(c.pkg, expect);  // first pts 0, keyframes on the grid from 0, A/V aligned
  }
}

TEST_CASE("mono 44.1 kHz audio in QuickTime", "[media][input][audio]") {
  scratch_dir dir("mov");
  input_spec spec;
  spec.container = "mov";
  spec.sample_rate = 44100;
  spec.channels = 1;
  spec.duration_s = 3;
  auto c = run_variant(dir, spec, "in.mov");
  package_expectation expect;
  expect.source_duration = 3;
  expect.fps = 30;
  check_package(c.pkg, expect);
  REQUIRE(c.pkg.audio.has_value());
  CHECK(c.pkg.audio->track.sample_rate == 48000);
}
