// packaging.progressive: one rung (with the audio) as a single faststart MP4 beside the HLS/DASH
// package. It plays end to end; a cancel, a deadline or a full disk during the remux fails the job
// with its own error and publishes nothing; a rung a small source dropped falls back as documented.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "crafted_input.hpp"
#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

fs::path make_source(const scratch_dir& dir, int width, int height, double duration_s) {
  input_spec spec;
  spec.width = width;
  spec.height = height;
  spec.duration_s = duration_s;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  return input;
}

spool::plan progressive_plan(std::vector<int> heights, const std::string& progressive) {
  auto plan = small_plan(std::move(heights));
  plan.packaging.progressive = progressive;
  plan.thumbnails.storyboard = false;
  return plan;
}

bool lists(const media::transcode_result& r, const std::string& file) {
  return std::find(r.files.begin(), r.files.end(), file) != r.files.end();
}

// The final progress report (every rendition at 1.0) comes after the encoders finish and before the
// manifests and the MP4 are written; with a long interval it is the only report past the first.
bool is_final(const media::progress& p) {
  return !p.renditions.empty() &&
         std::all_of(p.renditions.begin(), p.renditions.end(), [](const auto& r) { return r.fraction == 1.0; });
}

}  // namespace

TEST_CASE("a progressive MP4 plays end to end: every frame, the audio, the index first", "[media][progressive]") {
  scratch_dir dir("progressive");
  const fs::path input = make_source(dir, 320, 240, 7);
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto pkg = transcode_ok(input, out, options_for(progressive_plan({240, 180}, "240p")), result);
  package_expectation expect;
  expect.source_duration = 7;
  expect.fps = 30;
  check_package(pkg, expect);

  const fs::path mp4 = out / "240p.mp4";
  REQUIRE(fs::is_regular_file(mp4));
  CHECK(lists(result, "240p.mp4"));
  CHECK_FALSE(fs::exists(out / "180p.mp4"));

  // faststart: the index (moov) before the media (mdat), so a player can start before the end.
  auto top = box_paths(mp4);
  INFO("top-level boxes of 240p.mp4: " << [&] {
    std::string s;
    for (const auto& b : top) s += b + " ";
    return s;
  }());
  auto moov = std::find(top.begin(), top.end(), "moov");
  auto mdat = std::find(top.begin(), top.end(), "mdat");
  REQUIRE(moov != top.end());
  REQUIRE(mdat != top.end());
  CHECK(moov < mdat);
  // One video and one audio track.
  auto deep = box_paths(mp4, 2);
  CHECK(std::count(deep.begin(), deep.end(), "moov/trak") == 2);

  // Video: the rung's every frame, the same pictures' size and span.
  REQUIRE(pkg.video.size() == 2);
  const auto& rung = pkg.video.front().track;
  decoded_track video;
  REQUIRE_NOTHROW(video = decode_file(mp4, 0));
  CHECK(video.type == "video");
  CHECK(video.codec_id == "h264");
  CHECK(video.width == rung.width);
  CHECK(video.height == rung.height);
  CHECK(video.frame_count() == rung.frame_count());
  CHECK(video.end_time() - video.first_pts() == Approx(rung.end_time() - rung.first_pts()).margin(1.0 / 30 + 1e-3));

  // Audio: present, AAC, as long as the audio rendition.
  REQUIRE(pkg.audio.has_value());
  decoded_track audio;
  REQUIRE_NOTHROW(audio = decode_file(mp4, 1));
  CHECK(audio.type == "audio");
  CHECK(audio.codec_id == "aac");
  CHECK(audio.samples == pkg.audio->track.samples);
  CHECK(audio.end_time() - audio.first_pts() == Approx(7).margin(0.1));
}

TEST_CASE("a progressive rung the source is too small for falls back to the best rung produced",
          "[media][progressive]") {
  SECTION("the named rung is dropped: the first rung produced is written, under its own name") {
    scratch_dir dir("progressive-fallback");
    const fs::path input = make_source(dir, 320, 240, 3);
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto pkg = transcode_ok(input, out, options_for(progressive_plan({480, 240, 180}, "480p")), result);
    CHECK_FALSE(fs::exists(out / "480p"));
    CHECK_FALSE(fs::exists(out / "480p.mp4"));
    REQUIRE(fs::is_regular_file(out / "240p.mp4"));
    CHECK(lists(result, "240p.mp4"));
    CHECK_FALSE(lists(result, "480p.mp4"));
    decoded_track video;
    REQUIRE_NOTHROW(video = decode_file(out / "240p.mp4"));
    CHECK(video.height == 240);
    CHECK(video.frame_count() == pkg.video.front().track.frame_count());
  }
  SECTION("every rung is dropped: the one rendition made at the source's size is written") {
    scratch_dir dir("progressive-tiny");
    const fs::path input = make_source(dir, 160, 120, 3);
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto pkg = transcode_ok(input, out, options_for(progressive_plan({480, 360}, "480p")), result);
    REQUIRE(pkg.video.size() == 1);
    CHECK(pkg.video.front().name == "120p");
    REQUIRE(fs::is_regular_file(out / "120p.mp4"));
    CHECK(lists(result, "120p.mp4"));
    decoded_track video;
    REQUIRE_NOTHROW(video = decode_file(out / "120p.mp4"));
    CHECK(video.frame_count() == pkg.video.front().track.frame_count());
  }
}

TEST_CASE("cancelling when the encoders are done stops the remux and publishes nothing", "[media][progressive]") {
  scratch_dir dir("progressive-cancel");
  const fs::path input = make_source(dir, 320, 240, 3);
  const fs::path out = dir / "out";
  media::cancel_flag cancel{false};
  auto options = options_for(progressive_plan({240}, "240p"));
  options.progress_interval = std::chrono::hours(1);
  bool reached_final = false;
  options.on_progress = [&](const media::progress& p) {
    if (!is_final(p)) return;
    reached_final = true;
    cancel = true;
  };
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), out, options, result, &cancel);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(reached_final);
  CHECK(ec == spool::errc::cancelled);
  check_failed_cleanly(ec, out);
  CHECK(list_dir(dir.path()) == std::vector<std::string>{"in.mp4"});
}

TEST_CASE("a deadline passing during the remux fails the job and publishes nothing", "[media][progressive]") {
  scratch_dir dir("progressive-deadline");
  const fs::path input = make_source(dir, 320, 240, 2);
  const fs::path out = dir / "out";
  auto options = options_for(progressive_plan({240}, "240p"));
  options.policy.deadline = std::chrono::seconds(4);
  options.progress_interval = std::chrono::hours(1);
  bool reached_final = false;
  options.on_progress = [&](const media::progress& p) {
    if (!is_final(p)) return;
    reached_final = true;
    // Encoding is done; let the deadline pass before the manifests and the MP4 are written.
    const double left = 4.0 - p.elapsed_s;
    if (left > -0.25) std::this_thread::sleep_for(std::chrono::duration<double>(left + 0.25));
  };
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), out, options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  if (!reached_final)
    WARN(
        "the encoders themselves ran past the 4 s deadline on this machine: the remux's own deadline check was "
        "not reached");
  CHECK(ec == spool::errc::deadline_exceeded);
  check_failed_cleanly(ec, out);
}

TEST_CASE("a full disk while writing the progressive MP4 is no_space and publishes nothing", "[media][progressive]") {
  scratch_dir dir("progressive-disk-full");
  const fs::path input = make_source(dir, 320, 240, 12);
  const auto plan = progressive_plan({240}, "240p");

  // Measure the package once: a per-file size limit between its largest other file and the MP4
  // lets every segment through and stops the MP4 (RLIMIT_FSIZE fails writes with EFBIG, as a full
  // disk fails them with ENOSPC).
  std::uintmax_t largest_other = 0, mp4_size = 0;
  {
    media::transcode_result result;
    const fs::path ref = dir / "reference";
    transcode_ok(input, ref, options_for(plan), result);
    for (const auto& e : fs::recursive_directory_iterator(ref)) {
      if (!e.is_regular_file()) continue;
      if (e.path().filename() == "240p.mp4")
        mp4_size = e.file_size();
      else
        largest_other = std::max(largest_other, e.file_size());
    }
    fs::remove_all(ref);
  }
  INFO("largest segment or other file " << largest_other << " bytes, MP4 " << mp4_size << " bytes");
  REQUIRE(largest_other * 13 / 10 < mp4_size);
  const std::uintmax_t limit = (largest_other + mp4_size) / 2;
  const fs::path out = dir / "out";

  // Child exit codes: the error, as far as this test cares.
  constexpr int exit_no_space = 20, exit_other_error = 21, exit_success = 2;
  const auto child = run_with_file_size_limit(limit, [&](std::string& said) {
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), out, options_for(plan), result);
    said = describe(ec) + " - " + result.error_detail;
    return !ec ? exit_success : ec == spool::errc::no_space ? exit_no_space : exit_other_error;
  });
  INFO("child: " << child.said);
  REQUIRE_FALSE(child.hung);
  REQUIRE(child.exited);
  CHECK(child.exit_code == exit_no_space);
  // It was the MP4 that hit the limit, not a segment.
  CHECK(child.said.find("240p.mp4") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  CHECK(temp_leftovers(dir.path()).empty());
  CHECK(list_dir(dir.path()) == std::vector<std::string>{"in.mp4"});
}
