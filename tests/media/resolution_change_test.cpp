// A picture size that changes mid-stream (concatenated recordings, broadcast TS, resized screen
// captures) gives a correct package: every output frame at the rung's size, timestamps strictly
// increasing, nothing lost or repeated at the switch.
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

struct part {
  int width, height;
  double start_s, duration_s;
};

// Two recordings of different sizes, one after the other, in one stream.
fs::path make_switching_input(const scratch_dir& dir, const std::string& container, part a, part b) {
  auto make_part = [&](const part& p, const std::string& name, const std::string& c) {
    input_spec spec;
    spec.width = p.width;
    spec.height = p.height;
    spec.duration_s = p.duration_s;
    spec.start_offset_s = p.start_s;
    spec.container = c;
    spec.audio = c != "h264";
    const fs::path f = dir / name;
    make_input(f, spec);
    return f;
  };
  if (container == "ts") {
    auto first = make_part(a, "a.ts", "ts"), second = make_part(b, "b.ts", "ts");
    concatenate(first, second, dir / "switch.ts");
    return dir / "switch.ts";
  }
  // Raw H.264 streams concatenate into one stream whose second SPS changes the size; the raw
  // demuxer times it by the SPS's timing information (30 fps).
  auto first = make_part(a, "a.h264", "h264"), second = make_part(b, "b.h264", "h264");
  concatenate(first, second, dir / "switch.h264");
  if (container == "h264") return dir / "switch.h264";
  remux_spec r;
  r.container = container == "mkv" ? "matroska" : container;
  const fs::path out = dir / ("switch." + container);
  remux(dir / "switch.h264", out, r);
  return out;
}

void check_switch(const package_view& pkg, double duration, double fps, int frames_in) {
  for (const auto& v : pkg.video) {
    INFO("rendition " << v.name);
    const auto& frames = v.track.frames;
    REQUIRE_FALSE(frames.empty());
    for (std::size_t i = 1; i < frames.size(); ++i) {
      INFO("frame " << i);
      REQUIRE(frames[i].pts > frames[i - 1].pts);
    }
    // Every input frame is in the output once (the output rate equals the source's here).
    CHECK(v.track.frame_count() == frames_in);
    CHECK(v.track.end_time() == Approx(duration).margin(1.5 / fps));
  }
}

}  // namespace

TEST_CASE("a size change in a broadcast TS keeps every frame once", "[media][input][resize]") {
  scratch_dir dir("resize-ts");
  // Same 16:9 aspect at two sizes, then a 4:3 recording after a 16:9 one (fitted with bars). Both
  // parts start after zero, so their AAC priming needs no shift and the timelines meet exactly.
  for (auto [a, b] :
       {std::pair{part{320, 180, 1, 3}, part{640, 360, 4, 3}}, std::pair{part{320, 180, 1, 3}, part{320, 240, 4, 3}}}) {
    INFO(a.width << "x" << a.height << " then " << b.width << "x" << b.height);
    auto input = make_switching_input(dir, "ts", a, b);
    media::transcode_result result;
    fs::remove_all(dir / "out");
    auto pkg = transcode_ok(input, dir / "out", options_for(small_plan({180, 90})), result);
    package_expectation expect;
    expect.source_duration = 6;
    expect.fps = 30;
    expect.rung_names = {"180p", "90p"};
    expect.duration_tolerance = 0.1;
    check_package(pkg, expect);
    check_switch(pkg, 6, 30, 180);
  }
}

TEST_CASE("a size change carried in band in raw H.264 and Matroska keeps every frame once", "[media][input][resize]") {
  for (std::string container : {"h264", "mkv"}) {
    INFO(container);
    scratch_dir dir("resize-inband");
    auto input = make_switching_input(dir, container, part{320, 180, 0, 2}, part{480, 270, 0, 2});
    media::transcode_result result;
    auto pkg = transcode_ok(input, dir / "out", options_for(small_plan({180, 90})), result);
    package_expectation expect;
    expect.source_duration = 4;
    expect.fps = 30;
    expect.audio = false;
    expect.rung_names = {"180p", "90p"};
    check_package(pkg, expect);
    check_switch(pkg, 4, 30, 120);
  }
}
