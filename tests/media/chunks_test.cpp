// Chunked encoding: chunks encoded on their own and stitched give the package the unchunked ladder
// gives (same segments, timeline and frames; segments copied, never re-muxed); a chunk checks itself;
// the stitch refuses parts that do not fit together and leaves nothing behind.
#include <spool/media/chunks.hpp>
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>

#include "chunk_support.hpp"
#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;
using spool::errc;

namespace {

std::int64_t total_bytes(const rendition_view& r) {
  std::int64_t b = r.init_bytes;
  for (auto s : r.sizes) b += s;
  return b;
}

spool::plan chunk_test_plan() {
  auto p = small_plan({180, 120});
  p.thumbnails.storyboard = false;
  p.video.preset = "veryfast";  // B-frames: the encoder's reorder delay and negative composition offsets
  return p;
}

}  // namespace

TEST_CASE("Chunks::Encode: three chunks stitched are the unchunked ladder's package", "[chunks][media]") {
  scratch_dir dir("chunks");
  input_spec spec;
  spec.width = 320;
  spec.height = 180;
  spec.fps_num = 30000;  // 29.97: grid lines fall between frames
  spec.fps_den = 1001;
  spec.gop_s = 5;  // the source's keyframes are off the output grid: a chunk seeks before its start
  spec.duration_s = 36;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  const auto plan = chunk_test_plan();

  media::transcode_result whole_result;
  const auto full = transcode_ok(input, dir / "full", options_for(plan), whole_result);

  const auto parts = encode_parts(input, plan, 12, dir / "parts");
  REQUIRE(parts.chunk_dirs.size() == 3);
  media::transcode_result stitched_result;
  auto e = stitch_to(plan, parts, dir / "stitched", stitched_result);
  REQUIRE_FALSE(e);
  const auto pkg = load_package(dir / "stitched");

  // Every invariant a package holds: keyframes on the grid in every rung, identical boundaries, CFR,
  // durations, A/V alignment, manifests and result.json consistent with the media.
  package_expectation expect;
  expect.source_duration = spec.duration_s;
  expect.fps = 30000.0 / 1001;
  expect.rung_names = {"180p", "120p"};
  check_package(pkg, expect);

  REQUIRE(pkg.video.size() == full.video.size());
  const double frame = 1001.0 / 30000;
  std::int64_t chunked_bytes = 0, full_bytes = 0;
  for (std::size_t r = 0; r < pkg.video.size(); ++r) {
    const auto& got = pkg.video[r];
    const auto& want = full.video[r];
    INFO("rendition " << got.name);
    REQUIRE(got.playlist.durations.size() == want.playlist.durations.size());
    for (std::size_t i = 0; i < got.playlist.durations.size(); ++i)
      CHECK(std::abs(got.playlist.durations[i] - want.playlist.durations[i]) <= frame);
    // One track: as many frames as the unchunked one, at the same times, each following the last by
    // one frame (no gap, no overlap at the chunks' seams), every segment opening on a keyframe.
    REQUIRE(got.track.frame_count() == want.track.frame_count());
    for (std::size_t i = 0; i < got.track.frames.size(); ++i) {
      CHECK(std::abs(got.track.frames[i].pts - want.track.frames[i].pts) < 1e-3);
      if (i > 0) CHECK(std::abs(got.track.frames[i].pts - got.track.frames[i - 1].pts - frame) < 1e-3);
    }
    for (const auto& s : got.track.segments) CHECK(s.starts_with_key);
    // The init segment is the same bytes as the unchunked ladder's: chunks mux as if they started it.
    CHECK(read_file(got.dir / "init.mp4") == read_file(want.dir / "init.mp4"));
    chunked_bytes += total_bytes(got);
    full_bytes += total_bytes(want);
  }
  // Rate control restarts at the seams: a few percent at most on these 12 s chunks.
  const double ratio = static_cast<double>(chunked_bytes) / static_cast<double>(full_bytes);
  INFO("bytes: chunked " << chunked_bytes << ", unchunked " << full_bytes);
  CHECK(std::abs(ratio - 1) < 0.05);

  // The audio was encoded once, from the whole input: the unchunked package's own segments.
  REQUIRE(pkg.audio);
  REQUIRE(full.audio);
  CHECK(pkg.audio->sizes == full.audio->sizes);
  CHECK(pkg.audio->track.samples == full.audio->track.samples);
  CHECK(fs::exists(dir / "stitched" / "poster.jpg"));

  // result.json reports what the unchunked one does: renditions, frames, segments, the input.
  const auto& a = stitched_result.renditions;
  const auto& b = whole_result.renditions;
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].name == b[i].name);
    CHECK(a[i].frames == b[i].frames);
    CHECK(a[i].segments == b[i].segments);
  }
  const auto doc = read_json(dir / "stitched" / "result.json");
  CHECK(doc.at("input").at("duration_s").to_number<double>() == Approx(whole_result.input.duration_s));
}

TEST_CASE("Chunks::Encode: a chunk refuses a span its input does not fill", "[chunks][media]") {
  scratch_dir dir("chunks");
  input_spec spec;
  spec.width = 192;
  spec.height = 108;
  spec.duration_s = 14;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({108});
  plan.thumbnails = {};
  plan.thumbnails.poster = false;
  plan.thumbnails.storyboard = false;

  // A span of segments 3-4 (12-24 s) of a 14 s input: the encode ends after 2 s, so the chunk has
  // one segment and 60 frames where its span holds two and 360: refused, and nothing published.
  auto opts = options_for(plan);
  opts.chunk = media::chunk_span{1, 2, 2, 12, 24};
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), (dir / "short").string(), opts, result);
  INFO(result.error_detail);
  CHECK(ec == errc::internal);
  CHECK(result.error_detail.find("chunk 1") != std::string::npos);
  check_failed_cleanly(ec, dir / "short");

  // The same range as the last chunk (open-ended) is what the input gives: accepted, one segment.
  opts.chunk = media::chunk_span{1, 2, 2, 12, std::numeric_limits<double>::infinity()};
  ec = spool::transcode(input.string(), (dir / "last").string(), opts, result);
  INFO(result.error_detail);
  REQUIRE_FALSE(ec);
  const auto doc = read_json(dir / "last" / "chunk.json");
  const auto& segs = doc.at("tracks").at(0).at("segments").as_array();
  REQUIRE(segs.size() == 1);
  CHECK(fs::exists(dir / "last" / "108p" / "seg_00003.m4s"));
  CHECK_FALSE(fs::exists(dir / "last" / "108p" / "seg_00001.m4s"));
  // Its timestamps are the lecture's: the segment starts at 12 s.
  CHECK(segs[0].at("start").to_number<double>() / 90000 == Approx(12).margin(0.02));

  // A span off the grid is the caller's mistake.
  opts.chunk = media::chunk_span{1, 2, 2, 13, 24};
  ec = spool::transcode(input.string(), (dir / "off").string(), opts, result);
  CHECK(ec == errc::invalid_argument);
  check_failed_cleanly(ec, dir / "off");
}

TEST_CASE("Chunks::Stitch: parts that do not fit are refused and nothing is left", "[chunks][media]") {
  scratch_dir dir("chunks");
  input_spec spec;
  spec.width = 192;
  spec.height = 108;
  spec.duration_s = 18;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({108});
  plan.thumbnails.poster = false;
  plan.thumbnails.storyboard = false;
  const auto good = encode_parts(input, plan, 6, dir / "parts");
  REQUIRE(good.chunk_dirs.size() == 3);

  auto refused = [&](const chunked_parts& parts, const std::string& expect_in_message, errc code = errc::internal) {
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto e = stitch_to(plan, parts, out, result);
    INFO(e.what());
    CHECK(e.code == code);
    CHECK(e.what().find(expect_in_message) != std::string::npos);
    check_failed_cleanly(e.code, out);
  };

  SECTION("a chunk.json missing") {
    auto parts = good;
    parts.input.chunk_json.erase(parts.input.chunk_json.begin() + 1);
    refused(parts, "chunk 1");
  }
  SECTION("a chunk.json that is not one") {
    auto parts = good;
    parts.input.chunk_json[2] = "{\"version\":1}";
    refused(parts, "chunk 2");
  }
  SECTION("an init.mp4 not byte-identical") {
    auto parts = good;
    parts.replace[{1, "108p/init.mp4"}] = [](std::string b) {
      b[b.size() / 2] ^= 0x5a;
      return b;
    };
    refused(parts, "init.mp4 differs");
  }
  SECTION("a gap between chunks") {
    auto parts = good;
    auto doc = boost::json::parse(parts.input.chunk_json[2]);
    for (auto& s : doc.at("tracks").at(0).at("segments").as_array())
      s.as_object()["start"] = s.at("start").to_number<std::int64_t>() + 90000;
    parts.input.chunk_json[2] = boost::json::serialize(doc);
    refused(parts, "chunk 2 starts at 13.000 s");
  }
  SECTION("a segment that cannot be read") {
    auto parts = good;
    parts.missing.insert({2, "108p/seg_00003.m4s"});
    refused(parts, "seg_00003.m4s", errc::io_error);
  }
  SECTION("a segment of another size than described") {
    auto parts = good;
    parts.replace[{0, "108p/seg_00001.m4s"}] = [](std::string b) { return b + "x"; };
    refused(parts, "seg_00001.m4s");
  }
  SECTION("a segment whose bytes give another time than its description") {
    auto parts = good;
    parts.replace[{2, "108p/seg_00003.m4s"}] = [](std::string b) {
      const auto at = b.find("tfdt");
      REQUIRE(at != std::string::npos);
      b[at + 8 + (b[at + 4] == 1 ? 3 : 0)] ^= 0x10;  // a high byte of baseMediaDecodeTime
      return b;
    };
    refused(parts, "seg_00003.m4s of chunk 2 does not start with a keyframe at 12.000 s");
  }
  SECTION("the parts as written stitch") {
    media::transcode_result result;
    auto e = stitch_to(plan, good, dir / "out", result);
    INFO(e.what());
    REQUIRE_FALSE(e);
    const auto pkg = load_package(dir / "out");
    package_expectation expect;
    expect.source_duration = spec.duration_s;
    expect.fps = spec.fps;
    expect.rung_names = {"108p"};
    check_package(pkg, expect);
  }
}

TEST_CASE("Chunks::Encode: a middle chunk of other containers is what the whole ladder has there", "[chunks][media]") {
  // MPEG-TS seeks by searching timestamps, Matroska by its cues, AVI and FLV by their own indexes; a
  // start offset moves the lecture's time zero. A chunk still holds its range's frames, on the
  // lecture's timeline.
  for (const std::string container : {"ts", "mkv", "avi", "flv"}) {
    INFO(container);
    scratch_dir dir("chunks");
    input_spec spec;
    spec.width = 192;
    spec.height = 108;
    spec.duration_s = 20;
    spec.audio = false;
    spec.gop_s = 4;  // keyframes at 0, 4, 8 s: a chunk starting at 6 s needs the one at 4
    spec.container = container;
    spec.start_offset_s = 1.5;
    const fs::path input = dir / ("in." + container);
    make_input(input, spec);
    auto plan = small_plan({108});
    plan.thumbnails.poster = false;
    plan.thumbnails.storyboard = false;

    media::transcode_result full_result;
    const auto full = transcode_ok(input, dir / "full", options_for(plan), full_result);
    auto opts = options_for(plan);
    opts.chunk = media::chunk_span{1, 1, 2, 6, 18};
    media::transcode_result r;
    auto ec = spool::transcode(input.string(), (dir / "chunk").string(), opts, r);
    INFO(r.error_detail);
    REQUIRE_FALSE(ec);
    // Segments 2 and 3 of the whole ladder, frame for frame at the same times.
    const auto& want = full.video.front();
    const auto got = decode_fragments(dir / "chunk" / "108p" / "init.mp4", {dir / "chunk" / "108p" / "seg_00002.m4s",
                                                                            dir / "chunk" / "108p" / "seg_00003.m4s"});
    std::vector<double> expected;
    for (const auto& f : want.track.frames)
      if (f.segment == 1 || f.segment == 2) expected.push_back(f.pts);
    REQUIRE(got.frame_count() == static_cast<std::int64_t>(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(std::abs(got.frames[i].pts - expected[i]) < 1e-3);
    CHECK(got.frames.front().key);
    // Seeking cost no frame the decoder could have warned about.
    CHECK(read_json(dir / "chunk" / "chunk.json").at("warnings").as_array().empty());
  }
}

TEST_CASE("Chunks::Stitch: without audio or thumbnails the whole-input part brings only the input", "[chunks][media]") {
  scratch_dir dir("chunks");
  input_spec spec;
  spec.width = 192;
  spec.height = 108;
  spec.duration_s = 13;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({108});
  plan.thumbnails.poster = false;
  plan.thumbnails.storyboard = false;
  // 13 s in 6 s chunks: the 1 s tail joins the second chunk (two segments, the last of 1 s).
  const auto parts = encode_parts(input, plan, 6, dir / "parts");
  REQUIRE(parts.chunk_dirs.size() == 2);
  const auto whole = boost::json::parse(*parts.input.whole_input_json);
  CHECK(whole.at("tracks").as_array().empty());
  CHECK(whole.at("input").at("streams").as_array().size() == 1);

  media::transcode_result result;
  auto e = stitch_to(plan, parts, dir / "out", result);
  INFO(e.what());
  REQUIRE_FALSE(e);
  const auto pkg = load_package(dir / "out");
  package_expectation expect;
  expect.source_duration = spec.duration_s;
  expect.fps = spec.fps;
  expect.audio = false;
  expect.rung_names = {"108p"};
  check_package(pkg, expect);
  CHECK_FALSE(pkg.audio);
  CHECK(pkg.video.front().playlist.durations.size() == 3);
}
