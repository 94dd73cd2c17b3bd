#include <spool/media/chunks.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

#include "catch_result.hpp"

using spool::errc;
using spool::media::chunk_span;
using spool::media::plan_chunks;

namespace {

// What every plan must be, whatever its numbers: chunks in order, back to back on the grid, each a
// whole number of segments, the last open-ended, together covering every segment of the input.
void check_tiles(const std::vector<chunk_span>& spans, double duration_s, double segment_s) {
  REQUIRE_FALSE(spans.empty());
  std::int64_t next = 0;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const auto& c = spans[i];
    INFO("chunk " << i);
    CHECK(c.index == static_cast<int>(i));
    CHECK(c.first_segment == next);
    CHECK(c.segments >= 1);
    CHECK(c.start_s == Approx(static_cast<double>(c.first_segment) * segment_s));
    if (i + 1 < spans.size()) {
      CHECK(c.end_s == Approx(static_cast<double>(c.first_segment + c.segments) * segment_s));
      CHECK(spans[i + 1].start_s == c.end_s);
    } else {
      CHECK(std::isinf(c.end_s));
    }
    next += c.segments;
  }
  // The segments cover the input: the last starts before its end, and no segment starts after it.
  CHECK(static_cast<double>(next - 1) * segment_s < duration_s);
  CHECK(static_cast<double>(next) * segment_s >= duration_s - 1e-3);
}

}  // namespace

TEST_CASE("Chunks::Plan: chunks are whole segments on the grid", "[chunks][plan]") {
  // 1300 s in 6 s segments: 217 segments (the last 4.67 s); 120 s chunks are 20 segments: ten whole
  // chunks and a tail of 17 segments (100 s, more than half a chunk) as its own chunk.
  auto r = plan_chunks(1300, 6, 120);
  REQUIRE(r);
  check_tiles(*r, 1300, 6);
  REQUIRE(r->size() == 11);
  CHECK((*r)[0].segments == 20);
  CHECK((*r)[3].first_segment == 60);
  CHECK((*r)[3].start_s == 360);
  CHECK((*r)[3].end_s == 480);
  CHECK((*r)[10].first_segment == 200);
  CHECK((*r)[10].segments == 17);

  // A chunk length off the grid is rounded to whole segments: 100 s of 6 s segments is 17 (102 s).
  auto off = plan_chunks(1300, 6, 100);
  REQUIRE(off);
  check_tiles(*off, 1300, 6);
  CHECK((*off)[0].segments == 17);
  CHECK((*off)[1].start_s == 102);
}

TEST_CASE("Chunks::Plan: a short tail joins the chunk before it", "[chunks][plan]") {
  // 1230 s: 205 segments; ten chunks of 20 and a 30 s tail (5 segments), under half a chunk.
  auto r = plan_chunks(1230, 6, 120);
  REQUIRE(r);
  check_tiles(*r, 1230, 6);
  REQUIRE(r->size() == 10);
  CHECK(r->back().first_segment == 180);
  CHECK(r->back().segments == 25);
  // A short last segment counts for its length: 13 s in one-segment chunks of 6 s leaves 1 s, which
  // joins the second chunk (two segments, 6-13 s) rather than making a third.
  auto partial = plan_chunks(13, 6, 6);
  REQUIRE(partial);
  check_tiles(*partial, 13, 6);
  REQUIRE(partial->size() == 2);
  CHECK(partial->back().segments == 2);
  // Exactly half a chunk left over (60 s) is a chunk of its own.
  auto half = plan_chunks(1260, 6, 120);
  REQUIRE(half);
  check_tiles(*half, 1260, 6);
  REQUIRE(half->size() == 11);
  CHECK(half->back().segments == 10);
}

TEST_CASE("Chunks::Plan: exact multiples and inputs shorter than one chunk", "[chunks][plan]") {
  // 1200 s = ten chunks of 120 s exactly: no empty eleventh chunk, the last has its 20 segments.
  auto exact = plan_chunks(1200, 6, 120);
  REQUIRE(exact);
  check_tiles(*exact, 1200, 6);
  REQUIRE(exact->size() == 10);
  CHECK(exact->back().segments == 20);
  CHECK(exact->back().start_s == 1080);

  // Shorter than one chunk: one chunk of every segment.
  auto one = plan_chunks(50, 6, 120);
  REQUIRE(one);
  check_tiles(*one, 50, 6);
  REQUIRE(one->size() == 1);
  CHECK(one->front().segments == 9);
  CHECK(one->front().start_s == 0);
  // One and a third chunks: the third is a short tail, so still one chunk.
  auto short_two = plan_chunks(160, 6, 120);
  REQUIRE(short_two);
  REQUIRE(short_two->size() == 1);
  CHECK(short_two->front().segments == 27);

  // Shorter than a segment: one chunk of one segment. A chunk shorter than a segment: one segment each.
  auto tiny = plan_chunks(2.5, 6, 120);
  REQUIRE(tiny);
  REQUIRE(tiny->size() == 1);
  CHECK(tiny->front().segments == 1);
  auto small = plan_chunks(30, 6, 1);
  REQUIRE(small);
  check_tiles(*small, 30, 6);
  CHECK(small->size() == 5);
}

TEST_CASE("Chunks::Plan: bad arguments are refused with a typed error", "[chunks][plan]") {
  const double inf = std::numeric_limits<double>::infinity(), nan = std::nan("");
  for (auto [d, s, c] : {std::tuple{0.0, 6.0, 120.0},
                         {-5.0, 6.0, 120.0},
                         {600.0, 0.0, 120.0},
                         {600.0, 6.0, -1.0},
                         {nan, 6.0, 120.0},
                         {600.0, nan, 120.0},
                         {inf, 6.0, 120.0},
                         {600.0, 6.0, inf},
                         {1e9, 0.5, 120.0}}) {
    INFO(d << " " << s << " " << c);
    auto r = plan_chunks(d, s, c);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == errc::invalid_argument);
    CHECK_FALSE(r.error().what().empty());
  }
}
