// Findings of fuzz_manifest in the manifest writers (lib/media/manifest.cpp), kept as regression
// tests (docs/fuzzing.md).
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "manifest_checks.hpp"
#include "media/manifest.hpp"

using spool::media::track_info;

namespace {

track_info one_segment(std::int64_t duration, int timescale) {
  track_info t;
  t.name = "360p";
  t.codecs = "avc1.640028";
  t.width = 640;
  t.height = 360;
  t.frame_rate = {30, 1};
  t.timescale = timescale;
  t.segments = {{0, duration, 1000}};
  return t;
}

}  // namespace

TEST_CASE("Manifest::Fuzz::TargetDuration: a segment of 2^31 s or more still gets a TARGETDURATION that covers it",
          "[media][manifest][fuzz]") {
  // fuzz_manifest: a segment of 2^40 ticks at timescale 1. hls_media_playlist converts the longest
  // segment's ceil(seconds) to int: 1.1e12 is outside int's range (undefined behaviour; x86 gives
  // INT_MIN, so the playlist says #EXT-X-TARGETDURATION:-2147483648).
  for (std::int64_t ticks : {std::int64_t{1} << 31, std::int64_t{1} << 40}) {
    const auto t = one_segment(ticks, 1);
    const auto text = spool::media::hls_media_playlist(t);
    INFO(text);
    CHECK(spool::fuzz::check_media_playlist(text, t).empty());
  }
}

TEST_CASE("Manifest::Fuzz::Bandwidth: BANDWIDTH (the peak) is never below AVERAGE-BANDWIDTH",
          "[media][manifest][fuzz]") {
  // fuzz_manifest: with one segment the peak and the average are the same rate, but peak_bitrate()
  // computes ceil(bytes * 8 * timescale / duration) and avg_bitrate() ceil(bytes * 8 / (duration /
  // timescale)); the two roundings differ, and 1728582 bytes over 2911296 ticks at 90 kHz (32.3 s)
  // give BANDWIDTH=427500 with AVERAGE-BANDWIDTH=427501.
  auto t = one_segment(2911296, 90000);
  t.segments[0].bytes = 1728582;
  const auto text = spool::media::hls_master_playlist({t}, nullptr);
  INFO(text);
  CHECK(spool::fuzz::check_master_playlist(text, {t}, nullptr, 0).empty());
}
