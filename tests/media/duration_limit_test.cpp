// The duration limit holds whatever the container claims: a frame shown for hours, timestamps that
// jump past the limit, audio gaps filled a frame at a time. Each crafted input is first checked to
// really carry the claim (read back with libavformat), so a test cannot pass on a craft that failed.
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

#include "crafted_input.hpp"
#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

struct container_case {
  std::string muxer, ext;
  bool patch_duration;  ///< declare a short duration (Matroska Info, MP4 mvhd/tkhd/mdhd)
};

void declare_duration(const fs::path& file, const container_case& c, double seconds) {
  if (!c.patch_duration) return;
  if (c.muxer == "matroska")
    patch_matroska_duration(file, seconds);
  else
    patch_mp4_duration(file, seconds);
}

media::transcode_options limited(double max_duration_s) {
  auto o = options_for(small_plan({180}));
  o.plan.thumbnails.storyboard = false;
  o.policy.max_duration_s = max_duration_s;
  return o;
}

// Transcodes `input` under a duration limit of `max_duration_s`: too_long, and nothing left behind.
void check_too_long(const fs::path& input, const fs::path& out, double max_duration_s) {
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), out, limited(max_duration_s), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(ec == spool::errc::too_long);
  check_failed_cleanly(ec, out);
}

}  // namespace

TEST_CASE("frames claiming 30 s are shown no longer than the container declares", "[media][limits][duration]") {
  // Matroska blocks without their own duration inherit the track's DefaultDuration: written from
  // a frame rate of 1/30 fps, every frame claims 30 s. The declared duration bounds the last one.
  for (double declared : {2.0, 3.5}) {
    INFO("declared " << declared << " s");
    scratch_dir dir("tail");
    input_spec spec;
    spec.duration_s = 2;
    spec.audio = false;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = "matroska";
    r.rate_num = 1;
    r.rate_den = 30;
    const fs::path input = dir / "crafted.mkv";
    remux(dir / "src.mkv", input, r);
    patch_matroska_duration(input, declared);
    REQUIRE(max_packet_end_s(input, true) > 29);  // the claim is in the file
    media::probe_result probed;
    REQUIRE_FALSE(probe(input.string(), spool::input_policy{}, probed));
    REQUIRE(probed.duration_s == Approx(declared).margin(0.01));

    media::transcode_result result;
    auto pkg = transcode_ok(input, dir / "out", limited(5), result);
    REQUIRE(pkg.video.size() == 1);
    const double end = pkg.video.front().track.end_time();
    CHECK(end <= declared + 1.0 / 30 + 1e-3);
    CHECK(end >= declared - 1.0 / 30 - 1e-3);
    CHECK(result.duration_s <= declared + 1.0 / 30 + 1e-3);
    CHECK(pkg.video.front().track.avg_frame_rate == Approx(30).margin(0.01));  // the claimed rate is not the output's
  }
}

TEST_CASE("a last frame claiming 30 s in a container that declares it is refused above the limit",
          "[media][limits][duration]") {
  // MP4 and MOV: the last sample's stts entry; their demuxer never lets it run past mdhd's duration,
  // so the claim shows in the declared duration, which the policy refuses before decoding.
  for (std::string muxer : {"mp4", "mov"}) {
    INFO("container " << muxer);
    scratch_dir dir("tail-mp4");
    input_spec spec;
    spec.duration_s = 2;
    spec.audio = false;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = muxer;
    r.edit = [](packet_edit& e) {
      if (e.video && e.index == e.count - 1) e.duration = 30LL * e.tb_den / e.tb_num;
    };
    const fs::path input = dir / ("crafted." + muxer);
    remux(dir / "src.mkv", input, r);
    REQUIRE(max_packet_end_s(input, true) > 29);
    check_too_long(input, dir / "out", 5);
  }
}

TEST_CASE("without a declared duration a frame claiming an hour is held for at most a second",
          "[media][limits][duration]") {
  scratch_dir dir("tail-live");
  input_spec spec;
  spec.duration_s = 2;
  spec.audio = false;
  spec.container = "mkv";
  make_input(dir / "src.mkv", spec);
  remux_spec r;
  r.container = "matroska";
  r.muxer_options = {{"live", "1"}};  // no Duration element, no cues
  r.rate_num = 1;
  r.rate_den = 3600;
  const fs::path input = dir / "live.mkv";
  remux(dir / "src.mkv", input, r);
  REQUIRE(max_packet_end_s(input, true) > 3500);

  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", limited(7200), result);
  const double end = pkg.video.front().track.end_time();
  CHECK(end <= 2.0 - 1.0 / 30 + 1.0 + 1.0 / 30 + 1e-3);  // last frame at 1.967 s, held one second
  CHECK(end > 1.9);
  CHECK(pkg.video.front().track.avg_frame_rate >= 10);  // the claimed rate is not taken for the output's
}

TEST_CASE("a video timestamp past the limit is too_long whatever the declared duration", "[media][limits][duration]") {
  const container_case cases[] = {{"matroska", "mkv", true}, {"mp4", "mp4", true}, {"nut", "nut", false}};
  for (const auto& c : cases) {
    INFO("container " << c.muxer);
    scratch_dir dir("jump");
    input_spec spec;
    spec.duration_s = 2;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = c.muxer;
    r.edit = [](packet_edit& e) {
      // The last second of video jumps 20 s ahead.
      if (e.video && e.index >= e.count - 30) {
        std::int64_t jump = 20LL * e.tb_den / e.tb_num;
        e.pts += jump;
        e.dts += jump;
      }
    };
    const fs::path input = dir / ("jump." + c.ext);
    remux(dir / "src.mkv", input, r);
    declare_duration(input, c, 2);
    REQUIRE(max_packet_end_s(input, true) > 20);
    check_too_long(input, dir / "out", 5);
  }
}

TEST_CASE("an audio timestamp jump past the limit is too_long, with or without video",
          "[media][limits][duration][audio]") {
  struct variant {
    std::string muxer, ext;
    bool video;
  };
  const variant cases[] = {{"matroska", "mkv", false},
                           {"matroska", "mkv", true},
                           {"mp4", "m4a", false},
                           {"mpegts", "ts", false},
                           {"nut", "nut", true}};
  for (const auto& c : cases) {
    INFO("container " << c.muxer << (c.video ? " with video" : " audio only"));
    scratch_dir dir("ajump");
    input_spec spec;
    spec.duration_s = 2;
    spec.video = c.video;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = c.muxer;
    r.edit = [](packet_edit& e) {
      if (!e.video && e.index >= e.count / 2) {
        std::int64_t jump = 600LL * e.tb_den / e.tb_num;
        e.pts += jump;
        e.dts += jump;
      }
    };
    const fs::path input = dir / ("ajump." + c.ext);
    remux(dir / "src.mkv", input, r);
    if (c.muxer == "matroska") patch_matroska_duration(input, 2);
    if (c.muxer == "mp4") patch_mp4_duration(input, 2);
    REQUIRE(max_packet_end_s(input, false) > 600);
    check_too_long(input, dir / "out", 10);
  }
}

TEST_CASE("an audio gap inside the limit is filled a frame at a time, in the memory of a normal run",
          "[media][limits][duration][audio][memory]") {
  scratch_dir dir("agap");
  input_spec spec;
  spec.duration_s = 2;
  spec.video = false;
  spec.container = "mkv";
  make_input(dir / "src.mkv", spec);
  const double gap = 300;
  remux_spec r;
  r.container = "matroska";
  r.edit = [gap](packet_edit& e) {
    if (e.index >= e.count / 2) {
      auto jump = static_cast<std::int64_t>(gap * e.tb_den / e.tb_num);
      e.pts += jump;
      e.dts += jump;
    }
  };
  const fs::path input = dir / "gap.mkv";
  remux(dir / "src.mkv", input, r);
  patch_matroska_duration(input, 2);
  REQUIRE(max_packet_end_s(input, false) > gap);

  auto options = limited(400);
  auto run_in_child = [&](const fs::path& in, const fs::path& out) {
    int code = -1;
    long kb = child_peak_rss_kb(
        [&] {
          media::transcode_result res;
          return spool::transcode(in.string(), out, options, res) ? 1 : 0;
        },
        code);
    REQUIRE(code == 0);
    return kb;
  };
  const long normal_kb = run_in_child(dir / "src.mkv", dir / "normal");
  const long gap_kb = run_in_child(input, dir / "gapped");
  INFO("peak RSS: normal " << normal_kb << " kB, with a " << gap << " s gap " << gap_kb << " kB");
  // Filling the gap at once would hold gap × 48000 × 2 channels × 4 bytes twice (230 MB here).
  if (peak_rss_compares)
    CHECK(gap_kb < normal_kb + 40 * 1024);
  else
    WARN("peak RSS not compared under AddressSanitizer");

  // The gap is in the package as silence, and the result says it was filled.
  auto pkg = load_package(dir / "gapped");
  REQUIRE(pkg.audio);
  CHECK(pkg.audio->track.end_time() == Approx(2 + gap).margin(0.1));
  const auto& warnings = pkg.result.at("warnings").as_array();
  bool reported = false;
  for (const auto& w : warnings)
    if (w.at("code").as_string() == "audio_gaps_filled") reported = w.at("count").to_number<std::int64_t>() == 1;
  CHECK(reported);
}
