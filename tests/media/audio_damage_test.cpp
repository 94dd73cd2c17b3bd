// Audio that cannot be decoded is never dropped without a word: damaged packets are concealed with
// silence of their length and counted in result.json's warnings, and a source whose audio cannot be
// decoded at all fails typed unless the job asked for video only.
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

struct variant {
  std::string codec, container, muxer;
};

// Codecs whose decoders report damage; Opus and Vorbis conceal it inside the decoder.
const variant variants[] = {{"aac", "mkv", "matroska"},        {"aac", "mp4", "mp4"},      {"aac", "ts", "mpegts"},
                            {"libmp3lame", "mkv", "matroska"}, {"ac3", "mkv", "matroska"}, {"flac", "mkv", "matroska"}};

fs::path damaged(const scratch_dir& dir, const variant& v, const std::function<void(packet_edit&)>& edit) {
  input_spec spec;
  spec.duration_s = 4;
  spec.width = 160;
  spec.height = 120;
  spec.audio_codec = v.codec;
  spec.container = v.container;
  const fs::path src = dir / ("src." + v.container);
  make_input(src, spec);
  remux_spec r;
  r.container = v.muxer;
  r.edit = edit;
  const fs::path out = dir / ("damaged." + v.container);
  remux(src, out, r);
  return out;
}

media::transcode_options options() {
  auto o = options_for(small_plan({120}));
  o.plan.thumbnails.storyboard = false;
  return o;
}

std::int64_t warning_count(const media::transcode_result& r, const std::string& code) {
  for (const auto& w : r.warnings)
    if (w.code == code) return w.count;
  return 0;
}

}  // namespace

TEST_CASE("occasional damaged audio packets are concealed in sync and counted", "[media][audio][damage]") {
  for (const auto& v : variants) {
    INFO(v.codec << " in " << v.muxer);
    scratch_dir dir("adamage");
    int damaged_packets = 0;
    auto input = damaged(dir, v, [&](packet_edit& e) {
      if (!e.video && e.index % 10 == 5 && e.index < e.count - 3) {
        e.damage = true;
        ++damaged_packets;
      }
    });
    media::transcode_result result;
    auto pkg = transcode_ok(input, dir / "out", options(), result);
    REQUIRE(pkg.audio);
    const auto concealed = warning_count(result, "audio_packets_concealed");
    CHECK(concealed >= 1);
    // A parser that lost sync can split one damaged packet in two; never every packet.
    CHECK(concealed <= 2 * damaged_packets);
    // Concealment keeps the sound where it belongs: it still ends with the picture.
    CHECK(pkg.audio->track.end_time() == Approx(pkg.video.front().track.end_time()).margin(0.1));
    // And result.json says so too.
    bool in_json = false;
    for (const auto& w : pkg.result.at("warnings").as_array())
      in_json = in_json || w.at("code").as_string() == "audio_packets_concealed";
    CHECK(in_json);
  }
}

TEST_CASE("audio that cannot be decoded at all fails typed, unless the job asked for video only",
          "[media][audio][damage]") {
  for (const auto& v : variants) {
    INFO(v.codec << " in " << v.muxer);
    scratch_dir dir("adead");
    auto input = damaged(dir, v, [](packet_edit& e) {
      if (!e.video) e.damage = true;
    });
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), dir / "out", options(), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::input_undecodable);
    CHECK(result.error_detail.find("audio") != std::string::npos);
    check_failed_cleanly(ec, dir / "out");

    auto video_only = options();
    video_only.plan.audio.enabled = false;
    auto pkg = transcode_ok(input, dir / "silent", video_only, result);
    CHECK_FALSE(pkg.audio);
  }
}

TEST_CASE("a clean source has no warnings", "[media][audio][damage]") {
  scratch_dir dir("aclean");
  auto input = damaged(dir, variants[0], {});
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "out", options(), result);
  CHECK(result.warnings.empty());
  CHECK(pkg.result.at("warnings").as_array().empty());
}

TEST_CASE("damaged audio packets that go back in time conceal nothing twice", "[media][audio][damage]") {
  // Two recordings concatenated into one MPEG-TS, the second starting 1 s into the first's 4 s and
  // every other audio packet of it damaged: its timestamps go back 3 s, as in a chained Ogg or a
  // restarted broadcast. The audio must end where the second recording's packets end (5 s), not
  // grow by silence for damage in time the track already holds.
  struct ts_variant {
    std::string codec;
    bool video;
  };
  const ts_variant cases[] = {{"aac", false}, {"libmp3lame", false}, {"aac", true}};
  for (const auto& c : cases) {
    INFO(c.codec << (c.video ? " with video" : " audio only"));
    scratch_dir dir("aback");
    input_spec spec;
    spec.duration_s = 4;
    spec.width = 160;
    spec.height = 120;
    spec.video = c.video;
    spec.audio_codec = c.codec;
    spec.container = "ts";
    make_input(dir / "first.ts", spec);
    spec.start_offset_s = 1;
    make_input(dir / "second.ts", spec);
    remux_spec r;
    r.container = "mpegts";
    int damaged_packets = 0;
    r.edit = [&](packet_edit& e) {
      if (!e.video && e.index % 2 == 1 && e.index < e.count - 2) {
        e.damage = true;
        ++damaged_packets;
      }
    };
    remux(dir / "second.ts", dir / "second-damaged.ts", r);
    concatenate(dir / "first.ts", dir / "second-damaged.ts", dir / "back.ts");

    media::transcode_result result;
    auto pkg = transcode_ok(dir / "back.ts", dir / "out", options(), result);
    REQUIRE(pkg.audio);
    CHECK(warning_count(result, "audio_packets_concealed") >= damaged_packets / 2);
    CHECK(pkg.audio->track.end_time() == Approx(5).margin(0.15));
  }
}
