// The pixel limit applies to what is encoded (the display size after the sample aspect ratio,
// whether the container or the bitstream declares it), the probing decoders run under it, and more
// streams than the limit is a policy refusal in every container, whatever the count.
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

// 320x240 coded: 76,800 pixels, well under this limit; a 16:1 aspect ratio displays 5120x240.
constexpr std::int64_t limit_px = 1'000'000;

media::transcode_options with_limit() {
  auto o = options_for(small_plan({240}));
  o.plan.thumbnails.storyboard = false;
  o.policy.max_pixels = limit_px;
  return o;
}

void expect_refused(const fs::path& input, const fs::path& out, spool::errc want) {
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), out, with_limit(), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(ec == want);
  CHECK(spool::kind_of(ec) == spool::category_kind::policy);
  check_failed_cleanly(ec, out);
  media::probe_result probed;
  std::string detail;
  auto pec = probe(input.string(), with_limit().policy, probed, &detail);
  INFO("probe: " << describe(pec) << " - " << detail);
  CHECK(pec == want);
}

}  // namespace

TEST_CASE("a container's sample aspect ratio cannot inflate the picture past the pixel limit",
          "[media][limits][pixels]") {
  for (std::string muxer : {"matroska", "mp4", "mov", "nut"}) {
    INFO("container " << muxer);
    scratch_dir dir("sar-container");
    input_spec spec;
    spec.duration_s = 1;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = muxer;
    r.sar_num = 16;
    r.sar_den = 1;
    const fs::path input = dir / ("wide." + muxer);
    remux(dir / "src.mkv", input, r);
    expect_refused(input, dir / "out", spool::errc::too_many_pixels);
  }
}

TEST_CASE("a bitstream's sample aspect ratio cannot inflate the picture past the pixel limit",
          "[media][limits][pixels]") {
  for (std::string container : {"h264", "ts", "mkv"}) {
    INFO("container " << container);
    scratch_dir dir("sar-bitstream");
    input_spec spec;
    spec.duration_s = 1;
    spec.audio = false;
    spec.sar_num = 16;
    spec.sar_den = 1;
    spec.container = container;
    const fs::path input = dir / ("wide." + container);
    make_input(input, spec);
    expect_refused(input, dir / "out", spool::errc::too_many_pixels);
  }
}

TEST_CASE("an aspect ratio within the limit is honoured in every rung", "[media][limits][pixels]") {
  scratch_dir dir("sar-ok");
  input_spec spec;
  spec.duration_s = 2;
  spec.container = "mkv";
  make_input(dir / "src.mkv", spec);
  remux_spec r;
  r.container = "matroska";
  r.sar_num = 2;  // 320x240 displayed as 640x240
  r.sar_den = 1;
  const fs::path input = dir / "wide.mkv";
  remux(dir / "src.mkv", input, r);
  media::transcode_result result;
  auto options = with_limit();
  options.plan = small_plan({240, 120});
  auto pkg = transcode_ok(input, dir / "out", options, result);
  REQUIRE(pkg.video.size() == 2);
  for (const auto& v : pkg.video) {
    INFO(v.name);
    CHECK(v.track.width == 2 * 4 * v.track.height / 3);  // 8:3 display aspect
    CHECK(static_cast<std::int64_t>(v.track.width) * v.track.height <= limit_px);
  }
}

TEST_CASE("the probing decoders run under the pixel limit", "[media][limits][pixels][memory]") {
  // A raw H.264 stream declares its size only in its SPS, so nothing is known before a decoder runs.
  scratch_dir dir("probe-pixels");
  input_spec big;
  big.duration_s = 0.1;
  big.audio = false;
  big.width = 7680;
  big.height = 4320;  // 33 Mpx, 3.5 times the default limit
  big.container = "h264";
  make_input(dir / "big.h264", big);
  input_spec small = big;
  small.width = 320;
  small.height = 240;
  make_input(dir / "small.h264", small);

  auto probe_in_child = [&](const fs::path& file, int want) {
    int code = -1;
    long kb = child_peak_rss_kb(
        [&] {
          media::probe_result p;
          auto ec = probe(file.string(), spool::input_policy{}, p);
          return ec == spool::errc::too_many_pixels ? 2 : ec ? 1 : 0;
        },
        code);
    CHECK(code == want);
    return kb;
  };
  const long small_kb = probe_in_child(dir / "small.h264", 0);
  const long big_kb = probe_in_child(dir / "big.h264", 2);
  INFO("peak RSS probing: 320x240 " << small_kb << " kB, 7680x4320 " << big_kb << " kB");
  // One decoded 7680x4320 picture is 50 MB; a decoder allowed to allocate it would need several.
  if (peak_rss_compares)
    CHECK(big_kb < small_kb + 40 * 1024);
  else
    WARN("peak RSS not compared under AddressSanitizer");
}

TEST_CASE("more streams than the limit is too_many_streams in every container and at every count",
          "[media][limits][streams]") {
  struct variant {
    std::string muxer, ext;
    int extra;
  };
  // 1 video + 1 audio + extra copies of the audio: 33 is one over the default of 32.
  const variant cases[] = {{"matroska", "mkv", 31},  {"matroska", "mkv", 38}, {"mp4", "mp4", 31},
                           {"mp4", "mp4", 38},       {"nut", "nut", 38},      {"mpegts", "ts", 38},
                           {"matroska", "mkv", 1500}};
  for (const auto& c : cases) {
    INFO(c.muxer << " with " << c.extra + 2 << " streams");
    scratch_dir dir("streams");
    input_spec spec;
    spec.duration_s = c.extra > 100 ? 0.2 : 1;
    spec.width = 160;
    spec.height = 120;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = c.muxer;
    r.extra_audio = c.extra;
    const fs::path input = dir / ("many." + c.ext);
    remux(dir / "src.mkv", input, r);
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options_for(small_plan({120})), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::too_many_streams);
    CHECK(spool::kind_of(ec) == spool::category_kind::policy);
    check_failed_cleanly(ec, dir / "out");
  }
}

TEST_CASE("exactly the stream limit is accepted", "[media][limits][streams]") {
  for (std::string muxer : {"matroska", "mp4"}) {
    INFO(muxer);
    scratch_dir dir("streams-ok");
    input_spec spec;
    spec.duration_s = 1;
    spec.width = 160;
    spec.height = 120;
    spec.container = "mkv";
    make_input(dir / "src.mkv", spec);
    remux_spec r;
    r.container = muxer;
    r.extra_audio = 30;  // 32 streams
    const fs::path input = dir / ("limit." + std::string(muxer == "mp4" ? "mp4" : "mkv"));
    remux(dir / "src.mkv", input, r);
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options_for(small_plan({120})), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK_FALSE(ec);
  }
}
