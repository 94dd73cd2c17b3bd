// The remux fast path: a source fit to be the top rung is copied into it packet for packet, and the
// other rungs take their keyframes and segment cuts from the source's keyframes; a source that is not
// fit, for any one reason, is encoded as before and result.json says why.
#include <spool/media/transcode.hpp>
#include <spool/transcode.hpp>

#include <catch2/catch.hpp>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
}

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

// Every video packet's bytes, in decode order, as the demuxer reads them from `file`.
std::vector<std::string> video_packets(const fs::path& file) {
  AVFormatContext* ctx = nullptr;
  REQUIRE(avformat_open_input(&ctx, file.c_str(), nullptr, nullptr) == 0);
  REQUIRE(avformat_find_stream_info(ctx, nullptr) >= 0);
  int vi = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  REQUIRE(vi >= 0);
  std::vector<std::string> out;
  AVPacket* pkt = av_packet_alloc();
  while (av_read_frame(ctx, pkt) >= 0) {
    if (pkt->stream_index == vi) out.emplace_back(reinterpret_cast<const char*>(pkt->data), pkt->size);
    av_packet_unref(pkt);
  }
  av_packet_free(&pkt);
  avformat_close_input(&ctx);
  return out;
}

// A rendition's init.mp4 and segments joined into one file, in playlist order.
fs::path joined(const rendition_view& r, const fs::path& to) {
  std::ofstream f(to, std::ios::binary);
  f << read_file(r.dir / "init.mp4");
  for (const auto& u : r.playlist.uris) f << read_file(r.dir / u);
  return to;
}

input_spec fit_source() {
  input_spec spec;
  spec.width = 640;
  spec.height = 360;
  spec.fps = 30;
  spec.duration_s = 14;
  spec.gop_s = 3;  // off the ladder's 2 s grid: the other rungs must follow the source, not the grid
  return spec;
}

media::transcode_options remux_options(const std::string& remux) {
  auto plan = small_plan({360, 180});
  plan.video.remux = remux;
  plan.thumbnails.storyboard = false;
  return options_for(plan);
}

}  // namespace

TEST_CASE("a source fit to be the top rung is copied packet for packet, and every rung keeps its keyframes",
          "[media][remux]") {
  scratch_dir dir("remux-fit");
  const fs::path input = dir / "in.mp4";
  make_input(input, fit_source());
  const auto source_keys = decode_file(input).keyframe_times();
  REQUIRE(source_keys.size() == 5);  // 0, 3, 6, 9, 12

  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", remux_options("on"), result);
  CHECK(result.remuxed);
  CHECK(result.remux_rung == "360p");
  INFO(result.remux_note);
  CHECK(result.remux_note.rfind("copied", 0) == 0);
  const auto& json = pkg.result.as_object().at("remux").as_object();
  CHECK(json.at("used").as_bool());
  CHECK(json.at("rung").as_string() == "360p");

  package_expectation expect;
  expect.source_duration = 14;
  expect.fps = 30;
  expect.rung_names = {"360p", "180p"};
  expect.source_keyframes = source_keys;
  check_package(pkg, expect);

  // The copied rung holds the source's own bitstream, every packet of it, unchanged.
  REQUIRE(pkg.video.size() == 2);
  const auto copied = video_packets(joined(pkg.video[0], dir / "copied.mp4"));
  const auto source = video_packets(input);
  REQUIRE(copied.size() == source.size());
  std::size_t differ = 0;
  for (std::size_t i = 0; i < source.size(); ++i) differ += copied[i] != source[i] ? 1U : 0U;
  CHECK(differ == 0);
  // The encoded rung's bitstream is not the source's (it was encoded, at another size).
  CHECK(video_packets(joined(pkg.video[1], dir / "encoded.mp4")) != source);
  // Segments run from a source keyframe to another, several keyframes each where the target allows.
  CHECK(pkg.video[0].playlist.uris.size() < source_keys.size());
}

TEST_CASE("the plan decides: off or auto in transcode() encode the top rung, and auto copies it where the runner says",
          "[media][remux]") {
  scratch_dir dir("remux-off");
  const fs::path input = dir / "in.mp4";
  make_input(input, fit_source());
  const std::string mode = GENERATE(std::string("off"), std::string("auto"));
  auto options = remux_options(mode);
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / ("out-" + mode), options, result);
  CHECK_FALSE(result.remuxed);
  CHECK(result.remux_note.find("the plan does not copy") != std::string::npos);
  package_expectation expect;
  expect.source_duration = 14;
  expect.fps = 30;
  check_package(pkg, expect);  // keyframes on the 2 s grid again
  CHECK(video_packets(joined(pkg.video[0], dir / "top.mp4")) != video_packets(input));

  if (mode == "auto") {
    options.remux_by_default = true;  // what the worker sets
    media::transcode_result r2;
    transcode_ok(input, dir / "out-worker", options, r2);
    CHECK(r2.remuxed);
  }
}

TEST_CASE("a source unfit for copying in any one way is encoded, and result.json says why", "[media][remux]") {
  struct unfit {
    std::string what;
    std::function<void(input_spec&, spool::plan&)> change;
    std::string why;  ///< in the note
  };
  const std::vector<unfit> cases = {
      {"keyframes further apart than a segment", [](input_spec& s, spool::plan&) { s.gop_s = 8; },
       "keyframes are up to"},
      {"4:4:4 pictures (High 4:4:4)", [](input_spec& s, spool::plan&) { s.pix_fmt = "yuv444p"; }, "beyond High"},
      {"10-bit pictures (High 10)", [](input_spec& s, spool::plan&) { s.pix_fmt = "yuv420p10le"; }, "beyond High"},
      {"a rotated picture", [](input_spec& s, spool::plan&) { s.rotation = 90; }, "rotated"},
      {"non-square pixels", [](input_spec& s, spool::plan&) { s.sar_num = 4, s.sar_den = 3; }, "not square"},
      {"a frame rate the plan halves", [](input_spec& s, spool::plan&) { s.fps = 50; }, "would become"},
      {"a Matroska file", [](input_spec& s, spool::plan&) { s.container = "mkv"; }, "not an MP4"},
      {"an interlaced picture", [](input_spec& s, spool::plan&) { s.interlaced = true; }, "interlaced"},
      {"a bit rate over the rung's cap", [](input_spec&, spool::plan& p) { p.video.rungs[0].maxrate_kbps = 20; },
       "cap"},
      {"a size other than the top rung's", [](input_spec& s, spool::plan&) { s.width = 642, s.height = 362; },
       "the top rung"},
      {"a ladder in another codec", [](input_spec&, spool::plan& p) { p.video.codec = "libx265"; }, "not H.264"},
  };
  const auto& c = GENERATE_REF(from_range(cases));
  INFO(c.what);
  scratch_dir dir("remux-unfit");
  auto spec = fit_source();
  spec.duration_s = 7;
  auto options = remux_options("on");
  c.change(spec, options.plan);
  if (options.plan.video.codec == "libx265" && !avcodec_find_encoder_by_name("libx265")) {
    WARN("SKIP: this FFmpeg has no libx265");
    return;
  }
  const fs::path input = dir / ("in." + spec.container);
  make_input(input, spec);
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), (dir / "out").string(), options, result);
  INFO(result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK_FALSE(result.remuxed);
  INFO(result.remux_note);
  CHECK(result.remux_note.rfind("re-encoded: ", 0) == 0);
  CHECK(result.remux_note.find(c.why) != std::string::npos);
  const auto json = read_json(dir / "out" / "result.json");
  CHECK_FALSE(json.as_object().at("remux").as_object().at("used").as_bool());
}

TEST_CASE("a growing package with a copied rung cuts its first segment at a source keyframe", "[media][remux]") {
  scratch_dir dir("remux-growing");
  const fs::path input = dir / "in.mp4";
  make_input(input, fit_source());
  auto options = remux_options("on");
  options.plan.packaging.publish = "progressive";
  // What the progress reports said while the job ran (called on the engine's watching thread).
  std::mutex m;
  bool playable_while_running = false, copy_done_first = false;
  options.progress_interval = std::chrono::milliseconds(10);
  options.on_progress = [&](const media::progress& pr) {
    std::lock_guard lock(m);
    if (pr.fraction >= 1) return;
    playable_while_running = playable_while_running || pr.playable_s > 0;
    // The copy reads no pictures: it reaches the end while the encoded rung is still on its way.
    double copied = -1, encoded = -1;
    for (const auto& r : pr.renditions) {
      if (r.name == "360p") copied = r.out_time_s;
      if (r.name == "180p") encoded = r.out_time_s;
    }
    copy_done_first = copy_done_first || (copied > 13.5 && encoded >= 0 && encoded < 13);
  };
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", options, result);
  CHECK(result.remuxed);
  CHECK(result.publish == "progressive");
  CHECK(playable_while_running);
  CHECK(copy_done_first);
  package_expectation expect;
  expect.source_duration = 14;
  expect.fps = 30;
  expect.source_keyframes = decode_file(input).keyframe_times();
  check_package(pkg, expect);
  // Playable after the first source keyframe past the start, not after a whole segment.
  for (const auto& r : pkg.video) {
    REQUIRE_FALSE(r.playlist.durations.empty());
    CHECK(r.playlist.durations.front() == Approx(3).margin(0.02));
  }
}
