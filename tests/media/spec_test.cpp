// JSON job specs: overrides reach the output; malformed specs are invalid_spec with a reason.
#include <spool/media/transcode.hpp>
#include <spool/plan.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string_view>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

TEST_CASE("a spec with one rung and 4 s segments on a 2 s GOP without DASH is what comes out", "[media][spec]") {
  scratch_dir dir("spec");
  input_spec spec;
  spec.duration_s = 9;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);

  // (A string literal is ambiguous between the json::value and string_view overloads; name the type.)
  auto parsed = spool::apply_spec(std::string_view(R"({
      "version": 1,
      "preset": "hls-ladder",
      "video": {"preset": "ultrafast", "rungs": [{"name": "small", "height": 180, "crf": 30}]},
      "packaging": {"segment_s": 4, "gop_s": 2, "dash": false},
      "thumbnails": {"storyboard": false}
    })"));
  REQUIRE(parsed.has_value());
  spool::plan plan = *parsed;
  REQUIRE(plan.video.rungs.size() == 1);
  CHECK(plan.packaging.segment_s == 4);
  CHECK_FALSE(plan.packaging.dash);

  media::transcode_result result;
  const fs::path out = dir / "out";
  auto pkg = transcode_ok(input, out, options_for(plan), result);
  package_expectation expect;
  expect.source_duration = 9;
  expect.fps = 30;
  expect.segment_s = 4;
  expect.gop_s = 2;
  expect.dash = false;
  expect.rung_names = {"small"};
  check_package(pkg, expect);  // also asserts that manifest.mpd is absent
  REQUIRE(pkg.video.size() == 1);
  CHECK(pkg.video[0].track.height == 180);
  check_dimensions(pkg.video[0].track.width, 180, 4.0 / 3);
  // 9 s in 4 s segments: 4 + 4 + 1.
  CHECK(pkg.video[0].playlist.uris.size() == 3);
  CHECK(pkg.video[0].playlist.target_duration == 4);
  CHECK_FALSE(fs::exists(out / "storyboard.jpg"));
  CHECK_FALSE(fs::exists(out / "storyboard.vtt"));
  CHECK(fs::exists(out / "poster.jpg"));
  // Keyframes every 2 s: two per segment.
  auto keys = pkg.video[0].track.keyframe_times();
  for (double t : {0.0, 2.0, 4.0, 6.0, 8.0}) {
    INFO("keyframe at " << t);
    CHECK(std::any_of(keys.begin(), keys.end(), [&](double k) { return std::abs(k - t) < 1.0 / 60; }));
  }
}

TEST_CASE("a spec that disables audio gives a package without audio", "[media][spec]") {
  scratch_dir dir("spec-noaudio");
  input_spec spec;
  spec.duration_s = 2;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  spool::plan plan =
      spool::apply_spec(
          std::string_view(R"({"version": 1, "video": {"rungs": [{"height": 240}]}, "audio": {"enabled": false}})"))
          .value();
  CHECK(plan.video.rungs.at(0).name == "240p");
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", options_for(plan), result);
  package_expectation expect;
  expect.source_duration = 2;
  expect.fps = 30;
  expect.audio = false;
  check_package(pkg, expect);
}

TEST_CASE("invalid specs are invalid_spec with a reason and leave the plan alone", "[media][spec]") {
  const char* bad[] = {
      R"({"version": 2})",
      R"({"vidoe": {}})",
      R"({"video": {"rungs": "720p"}})",
      R"({"video": {"rungs": [{"name": "x"}]}})",
      R"({"video": {"rungs": [{"name": "a", "height": 241}]}})",
      R"({"video": {"rungs": [{"name": "a", "height": 240}, {"name": "a", "height": 180}]}})",
      R"({"video": {"rungs": [{"name": "../escape", "height": 240}]}})",
      R"({"video": {"rungs": [{"name": "audio", "height": 240}]}})",
      R"({"video": {"codec": "nonexistent"}})",
      R"({"packaging": {"segment_s": 5, "gop_s": 2}})",
      R"({"packaging": {"hls": false, "dash": false}})",
      R"({"packaging": {"dash": "no"}})",
      R"({"audio": {"channels": 6}})",
      R"({"preset": "no-such-preset"})",
      R"({"thumbnails": {"interval_s": 0}})",
      R"([1, 2, 3])",
      R"({"version": 1,)",
      "",
  };
  for (const char* text : bad) {
    INFO("spec: " << text);
    auto r = spool::apply_spec(std::string_view(text));
    REQUIRE_FALSE(r.has_value());
    INFO("detail: " << r.error().what());
    CHECK(r.error().code == spool::errc::invalid_spec);
    CHECK(spool::kind_of(r.error().code) == spool::category_kind::input);
    CHECK_FALSE(r.error().message.empty());
  }
}

TEST_CASE("to_json and apply_spec round-trip a plan", "[media][spec]") {
  spool::plan plan = small_plan({480, 240});
  plan.packaging.segment_s = 4;
  plan.packaging.dash = false;
  plan.audio.bitrate_kbps = 96;
  const auto json = spool::to_json(plan);
  auto back = spool::apply_spec(json);
  REQUIRE(back.has_value());
  CHECK(spool::to_json(*back) == json);
}
