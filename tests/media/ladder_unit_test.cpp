// The ladder's pure functions on their own (an internal of the media engine): which rungs a source
// gets and at what size, the output frame rate, and how long a frame may be shown.
#include <catch2/catch.hpp>

#include "media/ladder.hpp"

namespace media = spool::media;

namespace {

std::vector<spool::rung> ladder(std::initializer_list<int> heights) {
  std::vector<spool::rung> out;
  for (int h : heights) out.push_back({std::to_string(h) + "p", h, 23, 0, 0});
  return out;
}

double fps(AVRational r) { return av_q2d(r); }

}  // namespace

TEST_CASE("Ladder::Rungs: never upscaled, even sizes, the display aspect kept", "[ladder]") {
  auto r = media::plan_rungs(ladder({1080, 720, 480, 360}), 1280, 720);
  REQUIRE(r.size() == 3);  // 1080p would upscale
  CHECK(r[0].r.name == "720p");
  CHECK(r[0].g.width == 1280);
  CHECK(r[0].g.height == 720);
  CHECK(r[1].g.height == 480);
  CHECK(r[1].g.width == 854);  // 853.33 to the nearest even width
  for (const auto& p : r) {
    CHECK(p.g.width % 2 == 0);
    CHECK(p.g.height % 2 == 0);
    CHECK(static_cast<double>(p.g.width) / p.g.height == Approx(16.0 / 9).epsilon(0.01));
  }
}

TEST_CASE("Ladder::Rungs: a portrait source's rung height is its short side", "[ladder]") {
  auto r = media::plan_rungs(ladder({1080, 720}), 1080, 1920);
  REQUIRE(r.size() == 2);
  CHECK(r[0].g.width == 1080);
  CHECK(r[0].g.height == 1920);
  CHECK(r[1].g.width == 720);
  CHECK(r[1].g.height == 1280);
}

TEST_CASE("Ladder::Rungs: a source smaller than every rung gets one rendition at its own size", "[ladder]") {
  auto r = media::plan_rungs(ladder({720, 480}), 322, 181);
  REQUIRE(r.size() == 1);
  CHECK(r[0].r.height == 182);  // the short side, made even
  CHECK(r[0].r.name == "182p");
  CHECK(r[0].g.height == 182);
  CHECK(r[0].g.width % 2 == 0);
}

TEST_CASE("Ladder::Rate: standard rates kept, high ones halved, low or absurd ones raised", "[ladder]") {
  CHECK(fps(media::output_rate({30000, 1001}, 30)) == Approx(29.97).margin(0.001));
  CHECK(fps(media::output_rate({25, 1}, 30)) == 25);
  CHECK(fps(media::output_rate({50, 1}, 30)) == 25);  // halved: every other frame, no judder
  CHECK(fps(media::output_rate({60000, 1001}, 30)) == Approx(29.97).margin(0.001));
  CHECK(fps(media::output_rate({1000, 33}, 30)) == 30);  // a 30 fps average from millisecond timestamps
  CHECK(fps(media::output_rate({1, 3600}, 30)) == 10);   // a container's claim of one frame an hour
  CHECK(fps(media::output_rate({0, 1}, 30)) == 25);      // unknown
  CHECK(fps(media::output_rate({1, 2}, 1)) == 1);        // never above the plan's cap
  CHECK(fps(media::output_rate({120, 1}, 30)) == 30);    // capped
}

TEST_CASE("Ladder::FrameBounds: a frame is held no longer than declared, a second without, never past the limit",
          "[ladder]") {
  media::frame_bounds b;
  b.frame_step = 3000;  // 1/30 s at 90 kHz
  b.one_second = 90000;
  b.limit = 90000 * 10;  // 10 s
  b.declared_end = 90000 * 2;
  CHECK(b.bounded_duration(0, 3000) == 3000);                  // an honest frame
  CHECK(b.bounded_duration(90000, 90000 * 3600) == 90000);     // held until the declared end
  CHECK(b.bounded_duration(90000 * 2, 90000 * 3600) == 3000);  // at the end: one frame period
  CHECK(b.bounded_duration(0, 0) == 1);                        // never zero
  b.declared_end = AV_NOPTS_VALUE;
  CHECK(b.bounded_duration(0, 90000 * 3600) == 90000);  // a second without a declared end
  b.declared_end = 90000 * 100;                         // a declared end past the limit
  CHECK(b.bounded_duration(0, 90000 * 3600) == 90000 * 10);
}
