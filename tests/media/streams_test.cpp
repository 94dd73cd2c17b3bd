// Which streams the input has decides the package: video-only, audio-only (allowed or refused).
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

TEST_CASE("video-only input gives a ladder without audio", "[media][streams]") {
  scratch_dir dir("video-only");
  input_spec spec;
  spec.audio = false;
  spec.duration_s = 4;
  const fs::path input = dir / "silent.mp4";
  make_input(input, spec);
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", options_for(small_plan()), result);
  package_expectation expect;
  expect.source_duration = 4;
  expect.fps = 30;
  expect.audio = false;
  expect.rung_names = {"240p", "180p"};
  check_package(pkg, expect);
  CHECK(pkg.master.media.empty());
  for (const auto& r : result.renditions) CHECK(r.kind == "video");
  if (pkg.mpd) {
    for (const auto& as : pkg.mpd->adaptation_sets) CHECK(as.content_type != "audio");
  }
}

TEST_CASE("audio-only input gives an audio-only package by default", "[media][streams]") {
  scratch_dir dir("audio-only");
  input_spec spec;
  spec.video = false;
  spec.duration_s = 5;
  const fs::path input = dir / "sound.m4a";
  make_input(input, spec);
  media::transcode_options options;  // default preset, allow_audio_only = true by default
  REQUIRE(options.policy.allow_audio_only);
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto ec = spool::transcode(input.string(), out, options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(temp_leftovers(dir.path()).empty());

  // No video rung directories.
  for (const auto& r : options.plan.video.rungs) CHECK_FALSE(fs::exists(out / r.name));
  REQUIRE(fs::is_regular_file(out / "master.m3u8"));
  auto master = parse_master(out / "master.m3u8");
  CHECK(master.version >= 7);
  bool references_audio = false;
  for (const auto& v : master.variants) {
    CHECK(v.resolution_absent());
    if (v.uri == "audio/index.m3u8") references_audio = true;
    CHECK(v.codecs.find("avc1") == std::string::npos);
    CHECK(v.codecs.find("mp4a.40.2") != std::string::npos);
  }
  for (const auto& m : master.media)
    if (m.uri == "audio/index.m3u8") references_audio = true;
  CHECK(references_audio);

  auto pl = parse_media(out / "audio" / "index.m3u8");
  CHECK(pl.map_uri == "init.mp4");
  CHECK(pl.endlist);
  CHECK(pl.total() == Approx(5).margin(0.1));
  auto track = decode_rendition(out / "audio");
  CHECK(track.codec == "aac");
  CHECK(track.sample_rate == 48000);
  CHECK(track.end_time() - track.first_pts() == Approx(5).margin(0.1));

  REQUIRE(result.renditions.size() == 1);
  CHECK(result.renditions[0].kind == "audio");
  CHECK(result.renditions[0].name == "audio");
  if (fs::exists(out / "manifest.mpd")) {
    auto mpd = parse_mpd(out / "manifest.mpd");
    for (const auto& as : mpd.adaptation_sets) CHECK(as.content_type == "audio");
  }
}

TEST_CASE("audio-only input is refused when the policy requires video", "[media][streams][policy]") {
  scratch_dir dir("audio-refused");
  input_spec spec;
  spec.video = false;
  spec.duration_s = 2;
  const fs::path input = dir / "sound.m4a";
  make_input(input, spec);
  media::transcode_options options;
  options.policy.allow_audio_only = false;
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto ec = spool::transcode(input.string(), out, options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(ec == spool::errc::audio_only_refused);
  CHECK(spool::kind_of(ec) == spool::category_kind::policy);
  CHECK_FALSE(result.error_detail.empty());
  check_failed_cleanly(ec, out);
}
