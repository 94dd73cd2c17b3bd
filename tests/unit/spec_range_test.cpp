// Integer fields of a job spec past the range of int: found by fuzz_job_spec (tests/fuzz), whose
// property "every value the spec states is the value the plan holds" failed when a height of
// 4294967312 (2^32 + 16) wrapped around to 16 and was accepted as a 16-pixel rung.
#include <spool/error.hpp>
#include <spool/job.hpp>
#include <spool/plan.hpp>

#include <catch2/catch.hpp>

#include <string>

namespace {

struct field {
  const char* name;
  const char* spec;  ///< a spec setting the field to 2^32 + a valid value
};

// 2^32 + v for a valid v: the low 32 bits alone would pass validation.
const field wrapped[] = {
    {"rung height", R"({"video":{"rungs":[{"height":4294967312}]}})"},
    {"rung crf", R"({"video":{"rungs":[{"height":360,"crf":4294967319}]}})"},
    {"audio bitrate", R"({"audio":{"bitrate_kbps":4294967424}})"},
    {"audio sample rate", R"({"audio":{"sample_rate":4295015296}})"},
    {"audio channels", R"({"audio":{"channels":4294967298}})"},
    {"tile width", R"({"thumbnails":{"tile_width":4294967456}})"},
    {"columns", R"({"thumbnails":{"columns":4294967306}})"},
    {"negative wrap", R"({"video":{"rungs":[{"height":-4294966936}]}})"},
};

}  // namespace

TEST_CASE("Plan::Spec::IntRange: an integer past int's range is invalid_spec, never wrapped into range",
          "[plan][fuzz]") {
  for (const auto& f : wrapped) {
    INFO(f.name << ": " << f.spec);
    auto r = spool::apply_spec(f.spec);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == spool::errc::invalid_spec);
    CHECK(r.error().what().find("out of range") != std::string::npos);
  }
}

TEST_CASE("Plan::Spec::IntRange: a queued job's plan gets the same refusal", "[plan][fuzz]") {
  const std::string job =
      R"({"version":1,"input":"in.mp4","output":"out","plan":{"video":{"rungs":[{"height":4294967312}]}}})";
  auto r = spool::parse_job_spec(job);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == spool::errc::invalid_spec);
  INFO(r.error().what());
  CHECK(r.error().what().find("height") != std::string::npos);
}

TEST_CASE("Plan::Spec::IntRange: the largest values that fit are still judged by validation alone", "[plan][fuzz]") {
  // 2147483647 fits an int: refused for being out of the rung's limits, not as a wrapped integer.
  auto r = spool::apply_spec(R"({"video":{"rungs":[{"height":2147483647}]}})");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == spool::errc::invalid_spec);
  CHECK(r.error().what().find("16..4320") != std::string::npos);
}
