// Only allowed decoders run, and every job has a deadline that grows with its input and is checked
// in every phase.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
}

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

std::vector<std::string> without(std::vector<std::string> list, const std::string& name) {
  list.erase(std::remove(list.begin(), list.end(), name), list.end());
  return list;
}

bool have_encoder(const std::string& name) { return avcodec_find_encoder_by_name(name.c_str()) != nullptr; }

}  // namespace

TEST_CASE("the default decoder allow-list takes the codecs lectures arrive in", "[media][policy][decoders]") {
  struct variant {
    std::string video_codec, audio_codec, container;
  };
  const variant cases[] = {
      {"libx264", "libmp3lame", "mkv"}, {"libx264", "libopus", "mkv"}, {"libx264", "libvorbis", "mkv"},
      {"libx264", "flac", "mkv"},       {"libx264", "ac3", "ts"},      {"libx264", "mp2", "ts"},
      {"libx264", "pcm_s16le", "mov"},  {"mpeg4", "aac", "avi"},       {"mpeg2video", "mp2", "ts"},
      {"libvpx-vp9", "libopus", "mkv"}, {"libx265", "aac", "mp4"},     {"libsvtav1", "libopus", "mkv"},
      {"libtheora", "libvorbis", "mkv"}};
  for (const auto& c : cases) {
    if (!have_encoder(c.video_codec) || !have_encoder(c.audio_codec)) {
      WARN("SKIP: this FFmpeg has no " << c.video_codec << " or " << c.audio_codec << " encoder");
      continue;
    }
    INFO(c.video_codec << " + " << c.audio_codec << " in " << c.container);
    scratch_dir dir("decoders");
    input_spec spec;
    spec.duration_s = 1;
    spec.width = 160;
    spec.height = 128;
    spec.video_codec = c.video_codec;
    spec.audio_codec = c.audio_codec;
    spec.container = c.container;
    const fs::path input = dir / ("in." + c.container);
    make_input(input, spec);
    auto options = options_for(small_plan({128}));
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK_FALSE(ec);
    CHECK(result.renditions.size() == 2);
  }
}

TEST_CASE("a transcoded stream whose codec is not allowed is codec_not_allowed", "[media][policy][decoders]") {
  scratch_dir dir("not-allowed");
  input_spec spec;
  spec.duration_s = 1;
  spec.width = 160;
  spec.height = 128;
  spec.video_codec = "mpeg4";
  spec.audio_codec = "libmp3lame";
  spec.container = "mkv";
  const fs::path input = dir / "in.mkv";
  make_input(input, spec);

  SECTION("video") {
    auto options = options_for(small_plan({128}));
    options.policy.decoders = without(options.policy.decoders, "mpeg4");
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::codec_not_allowed);
    CHECK(ec == spool::condition::permanent);
    CHECK(result.error_detail.find("mpeg4") != std::string::npos);
    check_failed_cleanly(ec, dir / "out");
  }
  SECTION("audio, and a job that asked for video only does not need it") {
    auto options = options_for(small_plan({128}));
    options.policy.decoders = without(options.policy.decoders, "mp3");
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::codec_not_allowed);
    check_failed_cleanly(ec, dir / "out");

    options.plan.audio.enabled = false;
    auto ec2 = spool::transcode(input.string(), dir / "out", options, result);
    INFO(describe(ec2) << " - " << result.error_detail);
    CHECK_FALSE(ec2);
    CHECK(result.renditions.size() == 1);
  }
}

TEST_CASE("the default deadline grows with the input, and is finite for the longest input",
          "[media][policy][deadline]") {
  spool::input_policy p;
  CHECK(p.deadline_for(60) < p.deadline_for(3600));
  CHECK(p.deadline_for(3600) < p.deadline_for(4 * 3600));
  // No input may hold a worker for days: not even the longest allowed, nor one of unknown length.
  CHECK(p.deadline_for(p.max_duration_s) <= std::chrono::hours(36));
  CHECK(p.deadline_for(0) <= std::chrono::hours(36));
  CHECK(p.deadline_for(0) > std::chrono::seconds(0));
  CHECK(p.deadline_for(1e12) == p.deadline_for(p.max_duration_s));
  // An explicit deadline wins; none at all must be asked for.
  p.deadline = std::chrono::seconds(42);
  CHECK(p.deadline_for(3600) == std::chrono::seconds(42));
  spool::input_policy none;
  none.deadline_base = std::chrono::seconds(0);
  none.deadline_factor = 0;
  CHECK(none.deadline_for(3600) == std::chrono::seconds(0));
}

TEST_CASE("a deadline proportional to the input stops a job that runs past it", "[media][policy][deadline]") {
  scratch_dir dir("deadline");
  input_spec spec;
  spec.duration_s = 20;
  spec.width = 1280;
  spec.height = 720;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto options = options_for(small_plan({720, 480}));
  options.plan.video.preset = "veryfast";
  options.policy.deadline_base = std::chrono::seconds(0);

  SECTION("too little time per second of input") {
    options.policy.deadline_factor = 0.05;  // one second for a job that takes several
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::deadline_exceeded);
    check_failed_cleanly(ec, dir / "out");
  }
  SECTION("enough time") {
    options.policy.deadline_factor = 20;
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK_FALSE(ec);
  }
}

TEST_CASE("the phases after encoding are checked: manifests, the progressive MP4, publish",
          "[media][deadline][cancel]") {
  // The final progress report comes once every rendition is encoded and the thumbnails written; a
  // cancellation then must still stop the job before anything is published. The deadline goes
  // through the same checks.
  for (bool progressive : {false, true}) {
    INFO("progressive " << progressive);
    scratch_dir dir("late-cancel");
    input_spec spec;
    spec.duration_s = 2;
    const fs::path input = dir / "in.mp4";
    make_input(input, spec);
    auto options = options_for(small_plan());
    if (progressive) options.plan.packaging.progressive = "240p";
    media::cancel_flag cancel{false};
    std::atomic<int> finals{0};
    options.on_progress = [&](const media::progress& p) {
      if (p.fraction >= 1 && p.eta_s == 0) {
        ++finals;
        cancel = true;
      }
    };
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options, result, &cancel);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(finals == 1);
    CHECK(ec == spool::errc::cancelled);
    check_failed_cleanly(ec, dir / "out");
  }
}
