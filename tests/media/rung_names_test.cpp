// A rung's name is its directory in the package, so it may not take the name of a package file
// (master.m3u8, audio, poster.jpg, ...) nor of another rung's progressive MP4: such plans are
// invalid_spec up front, instead of an EISDIR io_error (retried) halfway through the package.
#include <spool/media/transcode.hpp>
#include <spool/plan.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <string_view>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

spool::plan with_rungs(std::vector<std::string> names, std::string progressive = "") {
  spool::plan p = small_plan({});
  int h = 240;
  for (auto& n : names) {
    spool::rung r;
    r.name = std::move(n);
    r.height = h;
    h -= 40;
    p.video.rungs.push_back(r);
  }
  p.packaging.progressive = std::move(progressive);
  return p;
}

}  // namespace

TEST_CASE("rung names that are package files are invalid_spec, naming the rung", "[media][spec][names]") {
  for (const char* name :
       {"master.m3u8", "manifest.mpd", "result.json", "status.json", "poster.jpg", "storyboard.jpg", "storyboard.vtt",
        "audio", "Audio", "MASTER.M3U8", "Poster.JPG", ".hidden", ".status.json.tmp-x", ".", ".."}) {
    INFO("rung name '" << name << "'");
    auto e = spool::validate(with_rungs({"240p", name}));
    INFO("detail: " << e.what());
    CHECK(e.code == spool::errc::invalid_spec);
    CHECK(e.what().find(std::string("'") + name + "'") != std::string::npos);
  }
  // The same through a JSON spec.
  auto r = spool::apply_spec(std::string_view(R"({"video": {"rungs": [{"name": "result.json", "height": 240}]}})"));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == spool::errc::invalid_spec);
  CHECK(r.error().what().find("result.json") != std::string::npos);
}

TEST_CASE("with a progressive MP4, no rung may be named like a rung's MP4", "[media][spec][names]") {
  struct named_case {
    std::vector<std::string> rungs;
    std::string progressive;
    bool ok;
  };
  const named_case cases[] = {
      {{"720p", "720p.mp4"}, "720p", false},     // the named rung's file
      {{"a", "b", "a.mp4"}, "b", false},         // the file of a rung the fallback may pick
      {{"720P.MP4", "720p"}, "720p", false},     // ignoring case
      {{"720p", "720p.mp4"}, "", true},          // no progressive MP4: no file to collide with
      {{"720p", "x.mp4"}, "720p", true},         // no rung "x"
      {{"720p", "720p.mp4.mp4"}, "720p", true},  // another name
  };
  for (const auto& c : cases) {
    std::string list;
    for (const auto& r : c.rungs) list += r + " ";
    INFO("rungs " << list << "progressive '" << c.progressive << "'");
    auto e = spool::validate(with_rungs(c.rungs, c.progressive));
    INFO("detail: " << e.what());
    if (c.ok) {
      CHECK_FALSE(e);
    } else {
      CHECK(e.code == spool::errc::invalid_spec);
      CHECK(e.what().find("progressive MP4") != std::string::npos);
    }
  }
}

TEST_CASE("rung names differing only in case are the same directory on some file systems", "[media][spec][names]") {
  auto e = spool::validate(with_rungs({"720p", "720P"}));
  CHECK(e.code == spool::errc::invalid_spec);
  CHECK(e.what().find("twice") != std::string::npos);
}

TEST_CASE("a plan with a reserved rung name fails before anything is written", "[media][spec][names]") {
  scratch_dir dir("names");
  input_spec spec;
  spec.duration_s = 1;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  for (const char* name : {"poster.jpg", "master.m3u8", "storyboard.vtt"}) {
    INFO("rung named " << name);
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto ec = spool::transcode(input.string(), out, options_for(with_rungs({name})), result);
    CHECK(ec == spool::errc::invalid_spec);
    CHECK(spool::is_permanent(ec));
    CHECK(result.error_detail.find(name) != std::string::npos);
    check_failed_cleanly(ec, out);
  }
  // A rung named like another rung's MP4 works without a progressive MP4.
  media::transcode_result result;
  auto pkg = transcode_ok(input, dir / "ok", options_for(with_rungs({"240p", "240p.mp4"})), result);
  CHECK(fs::is_directory(dir / "ok" / "240p.mp4"));
}
