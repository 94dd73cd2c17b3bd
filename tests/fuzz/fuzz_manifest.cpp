// The HLS and DASH writers (lib/media/manifest.cpp) over random measured tracks: any number of rungs,
// segment counts, durations (0 included), timescales, byte counts, names, and which track is the
// audio. The checks are properties a player relies on, read back from the text (docs/fuzzing.md):
// every segment once and in order, one EXTINF per segment, TARGETDURATION covering every segment,
// only well-formed non-negative numbers, a DASH timeline that expands to exactly the segments, and
// balanced XML.
//
// The values stay inside what a transcode can measure, generously: timescales up to 2^20 (spool
// uses 90000 and the audio sample rate), segments up to a year and 2^34 bytes each: sums of 300 of
// them stay far inside 64 bits.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "manifest_checks.hpp"
#include "media/manifest.hpp"

using spool::media::track_info;

namespace {

constexpr std::int64_t max_seconds = 365LL * 86400;  // per segment, and per gap between segments
constexpr std::int64_t max_bytes = std::int64_t{1} << 34;

std::string name_from(FuzzedDataProvider& in, std::size_t index) {
  static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
  std::string name;
  const auto len = in.ConsumeIntegralInRange<std::size_t>(1, 12);
  for (std::size_t i = 0; i < len; ++i)
    name += alphabet[in.ConsumeIntegralInRange<std::size_t>(0, sizeof alphabet - 2)];
  return name + "_" + std::to_string(index);  // rung names are unique (plan validation)
}

track_info track_from(FuzzedDataProvider& in, std::size_t index, bool video) {
  static const char* const codecs[] = {"avc1.640028", "avc1.42c00d", "hvc1.1.6.L120.90", "av01.0.08M.08", "mp4a.40.2"};
  static const int timescales[] = {90000, 48000, 44100, 32000, 1000};
  track_info t;
  t.video = video;
  t.name = video ? name_from(in, index) : "audio";
  t.codecs = codecs[in.ConsumeIntegralInRange<std::size_t>(0, 4)];
  t.width = in.ConsumeIntegralInRange(0, 8192);
  t.height = in.ConsumeIntegralInRange(0, 4320);
  t.frame_rate = {in.ConsumeIntegralInRange(0, 240000), in.ConsumeIntegralInRange(1, 1001)};
  t.sample_rate = in.ConsumeIntegralInRange(0, 192000);
  t.channels = in.ConsumeIntegralInRange(0, 8);
  t.timescale = in.ConsumeBool() ? timescales[in.ConsumeIntegralInRange<std::size_t>(0, 4)]
                                 : in.ConsumeIntegralInRange(1, 1 << 20);
  t.init_bytes = in.ConsumeIntegralInRange<std::int64_t>(0, 1 << 20);
  t.frames = in.ConsumeIntegralInRange<std::int64_t>(0, 1 << 30);
  const std::int64_t max_ticks = max_seconds * t.timescale;
  const auto count = in.ConsumeIntegralInRange<std::size_t>(0, 300);
  // Mostly equal durations (the DASH timeline collapses runs of them), sometimes any, sometimes gaps.
  const auto base = in.ConsumeIntegralInRange<std::int64_t>(0, max_ticks);
  std::int64_t start = in.ConsumeBool() ? 0 : in.ConsumeIntegralInRange<std::int64_t>(0, max_ticks);
  for (std::size_t i = 0; i < count && in.remaining_bytes() > 0; ++i) {
    spool::media::segment_info s;
    s.start = start;
    s.duration = in.ConsumeBool() ? base : in.ConsumeIntegralInRange<std::int64_t>(0, max_ticks);
    s.bytes = in.ConsumeIntegralInRange<std::int64_t>(0, max_bytes);
    if (in.ConsumeIntegralInRange(0, 15) == 0) s.start += in.ConsumeIntegralInRange<std::int64_t>(1, max_ticks);
    start = s.start + s.duration;
    t.segments.push_back(s);
  }
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const auto n = in.ConsumeIntegralInRange<std::size_t>(0, 8);
  // Which of the n tracks is the audio (n = none): the rest are the video rungs, in ladder order.
  const auto audio_at = in.ConsumeIntegralInRange<std::size_t>(0, n);
  std::vector<track_info> video;
  track_info audio;
  for (std::size_t i = 0; i < n; ++i) {
    if (i == audio_at)
      audio = track_from(in, i, false);
    else
      video.push_back(track_from(in, i, true));
  }
  const track_info* a = audio_at < n ? &audio : nullptr;
  const double duration_s = in.ConsumeBool() ? in.ConsumeFloatingPointInRange(0.0, 1e9)
                            : !video.empty() ? video.front().duration_s()
                            : a              ? a->duration_s()
                                             : 0.0;

  auto report = [](const std::string& problem, const std::string& text) {
    if (!problem.empty()) spool::fuzz::finding(problem + "\n--- output ---\n" + text.substr(0, 4000));
  };
  for (const auto& t : video) {
    const auto text = spool::media::hls_media_playlist(t);
    report(spool::fuzz::check_media_playlist(text, t), text);
  }
  if (a) {
    const auto text = spool::media::hls_media_playlist(*a);
    report(spool::fuzz::check_media_playlist(text, *a), text);
  }
  if (!video.empty() || a) {
    const auto text = spool::media::hls_master_playlist(video, a);
    report(spool::fuzz::check_master_playlist(text, video, a), text);
  }
  const auto mpd = spool::media::dash_manifest(video, a, duration_s);
  report(spool::fuzz::check_dash_manifest(mpd, video, a), mpd);
  return 0;
}
