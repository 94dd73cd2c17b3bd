// BANDWIDTH (HLS) and @bandwidth (DASH) are the peak segment bit rate of RFC 8216bis: the highest
// bit rate over runs of consecutive segments lasting 0.5 to 1.5 target durations. check_package()
// measures it from the files (segment sizes on disk, durations from their trun boxes) and requires
// the manifests to match it within half a percent; these inputs end with a tail of a few frames
// behind a keyframe, whose rate alone used to inflate BANDWIDTH, or are shorter than any window.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

package_view transcode_for(const scratch_dir& dir, double duration_s, media::transcode_result& result) {
  input_spec spec;
  spec.duration_s = duration_s;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({240, 180});
  plan.thumbnails.storyboard = false;
  auto pkg = transcode_ok(input, dir / "out", options_for(plan), result);
  package_expectation expect;
  expect.source_duration = duration_s;
  expect.fps = 30;
  check_package(pkg, expect);  // BANDWIDTH, @bandwidth and result.json against the measured peaks
  return pkg;
}

// The rate of the last segment alone, from its file and its boxes.
double tail_rate(const rendition_view& r) { return static_cast<double>(r.sizes.back()) * 8 / r.media_durations.back(); }

}  // namespace

TEST_CASE("BANDWIDTH is the windowed peak when a short segment ends the track", "[media][bandwidth]") {
  for (double duration : {12.1, 18.05}) {
    INFO("input of " << duration << " s, 6 s segments");
    scratch_dir dir("bandwidth-tail");
    media::transcode_result result;
    auto pkg = transcode_for(dir, duration, result);
    for (const auto& r : pkg.video) {
      INFO(r.name << ": segments " << r.media_durations.size() << ", last " << r.media_durations.back() << " s");
      REQUIRE(r.media_durations.size() >= 3);
      CHECK(r.media_durations.back() < 0.2);
      // The case at hand: the tail alone is a higher rate than any proper window...
      const double peak = r.peak_bitrate();
      CHECK(tail_rate(r) > peak * 1.2);
      // ...and the variant's BANDWIDTH follows the windows, not the tail.
      for (const auto& v : pkg.master.variants)
        if (v.uri == r.name + "/index.m3u8") CHECK(static_cast<double>(v.bandwidth) < tail_rate(r));
    }
  }
}

TEST_CASE("BANDWIDTH when segments fall exactly on the grid", "[media][bandwidth]") {
  scratch_dir dir("bandwidth-grid");
  media::transcode_result result;
  auto pkg = transcode_for(dir, 12, result);
  for (const auto& r : pkg.video) {
    INFO(r.name);
    REQUIRE(r.media_durations.size() == 2);
    // Two full segments: the peak is the busier of the two.
    const double a = static_cast<double>(r.sizes[0]) * 8 / r.media_durations[0];
    const double b = static_cast<double>(r.sizes[1]) * 8 / r.media_durations[1];
    CHECK(r.peak_bitrate() == Approx(std::max(a, b)));
  }
}

TEST_CASE("BANDWIDTH of inputs shorter than half a segment", "[media][bandwidth]") {
  SECTION("2.5 s: one segment, a window of its own") {
    scratch_dir dir("bandwidth-short");
    media::transcode_result result;
    auto pkg = transcode_for(dir, 2.5, result);
    for (const auto& r : pkg.video) {
      REQUIRE(r.media_durations.size() == 1);
      CHECK(r.playlist.target_duration == 3);
      CHECK(r.peak_bitrate() == Approx(static_cast<double>(r.sizes[0]) * 8 / r.media_durations[0]));
    }
  }
  SECTION("0.3 s: shorter than half its target duration, the whole track is the one window") {
    scratch_dir dir("bandwidth-tiny");
    media::transcode_result result;
    auto pkg = transcode_for(dir, 0.3, result);
    for (const auto& r : pkg.video) {
      REQUIRE(r.media_durations.size() == 1);
      CHECK(r.playlist.target_duration == 1);
      CHECK(r.media_durations[0] < 0.5);
      CHECK(r.peak_bitrate() == Approx(static_cast<double>(r.sizes[0]) * 8 / r.media_durations[0]));
    }
  }
}
