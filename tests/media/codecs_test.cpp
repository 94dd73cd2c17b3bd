// A ladder in each encoder the plan may name (libx264, libx265, libsvtav1), checked on the decoded
// output and on the boxes of init.mp4: the sample entry is avc1 / hvc1 / av01 (Safari needs hvc1, not
// hev1, for HEVC in HLS), and CODECS names the same family. An encoder this FFmpeg lacks is reported
// as skipped (a WARN line), never passed silently.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "media/segmenter.hpp"
#include "package_checks.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/dict.h>
}

#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

// Whether this FFmpeg can write and read back `codec`; WARNs and returns false when it cannot.
bool available(const std::string& encoder, AVCodecID id) {
  if (!avcodec_find_encoder_by_name(encoder.c_str())) {
    WARN("SKIP: " << encoder << " is not in this FFmpeg; its ladder is not tested");
    return false;
  }
  if (!avcodec_find_decoder(id)) {
    WARN("SKIP: no decoder for " << avcodec_get_name(id) << " in this FFmpeg; the " << encoder
                                 << " ladder cannot be checked");
    return false;
  }
  return true;
}

// Two rungs at 29.97 fps with audio and a progressive MP4 of the top rung, then every invariant of
// check_package (which reads each init.mp4's sample entry) and the sample entry named here.
void ladder_in(const std::string& encoder, const std::string& codec, const std::string& entry) {
  scratch_dir dir("codec-" + encoder);
  input_spec spec;
  spec.width = 320;
  spec.height = 240;
  spec.fps_num = 30000;
  spec.fps_den = 1001;
  spec.duration_s = 7;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);

  auto plan = small_plan({240, 180});
  plan.video.codec = encoder;
  plan.packaging.progressive = "240p";
  plan.thumbnails.storyboard = false;
  media::transcode_result result;
  const fs::path out = dir / "out";
  auto pkg = transcode_ok(input, out, options_for(plan), result);

  package_expectation expect;
  expect.source_duration = 7;
  expect.fps = 30000.0 / 1001;
  expect.codec = codec;
  expect.rung_names = {"240p", "180p"};
  check_package(pkg, expect);

  // Spelled out: the four bytes of the stsd entry, and the family CODECS announces.
  for (const auto& r : pkg.video) {
    INFO(encoder << " rendition " << r.name << ": sample entry " << r.init.sample_entry);
    CHECK(r.init.sample_entry == entry);
    CHECK(r.track.frame_count() >= 7 * 30000 / 1001 - 1);
    for (const auto& v : pkg.master.variants)
      if (v.uri == r.name + "/index.m3u8") CHECK(v.codecs.rfind(entry + ".", 0) == 0);
  }
  REQUIRE(pkg.mpd.has_value());
  for (const auto& set : pkg.mpd->adaptation_sets)
    if (set.content_type == "video")
      for (const auto& rep : set.representations) CHECK(rep.codecs.rfind(entry + ".", 0) == 0);

  // The progressive MP4 carries the same sample entry and plays.
  const fs::path mp4 = out / "240p.mp4";
  REQUIRE(fs::is_regular_file(mp4));
  init_boxes boxes;
  REQUIRE_NOTHROW(boxes = read_init_boxes(mp4));
  CHECK(boxes.sample_entry == entry);
  decoded_track whole;
  REQUIRE_NOTHROW(whole = decode_file(mp4));
  CHECK(whole.codec_id == codec);
  CHECK(whole.frame_count() == pkg.video.front().track.frame_count());
}

}  // namespace

TEST_CASE("an H.264 ladder is written with avc1 sample entries", "[media][codecs]") {
  if (!available("libx264", AV_CODEC_ID_H264)) return;
  ladder_in("libx264", "h264", "avc1");
}

TEST_CASE("an HEVC ladder is written with hvc1 sample entries, as its CODECS says", "[media][codecs]") {
  if (!available("libx265", AV_CODEC_ID_HEVC)) return;
  ladder_in("libx265", "hevc", "hvc1");
}

TEST_CASE("an AV1 ladder is written with av01 sample entries", "[media][codecs]") {
  if (!available("libsvtav1", AV_CODEC_ID_AV1)) return;
  ladder_in("libsvtav1", "av1", "av01");
}

TEST_CASE("an option an encoder does not take is an error naming it, not ignored", "[media][codecs][options]") {
  // The rungs open their encoders with an options dictionary and then require it empty: FFmpeg
  // removes what the encoder took and leaves the rest, which would otherwise be dropped silently.
  const AVCodec* codec = avcodec_find_encoder_by_name("libx264");
  REQUIRE(codec);
  for (const std::string bogus : {"no-such-option", "x265-params", "svtav1-params"}) {
    INFO(bogus);
    AVCodecContext* ctx = avcodec_alloc_context3(codec);
    REQUIRE(ctx);
    ctx->width = 64;
    ctx->height = 64;
    ctx->pix_fmt = AV_PIX_FMT_YUV420P;
    ctx->time_base = AVRational{1, 25};
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "crf", "23", 0);
    av_dict_set(&opts, bogus.c_str(), "1", 0);
    REQUIRE(avcodec_open2(ctx, codec, &opts) == 0);
    try {
      spool::media::require_consumed(opts, "encoder libx264");
      FAIL("an option libx264 does not take was accepted");
    } catch (const spool::failure& f) {
      CHECK(f.message().find(bogus + "=1") != std::string::npos);
      CHECK(f.message().find("crf") == std::string::npos);  // taken, so not named
    }
    CHECK(opts == nullptr);  // freed either way
    avcodec_free_context(&ctx);
  }
  AVDictionary* none = nullptr;
  CHECK_NOTHROW(spool::media::require_consumed(none, "encoder libx264"));
}
