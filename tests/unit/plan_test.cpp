#include <spool/plan.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "catch_result.hpp"

using spool::errc;

TEST_CASE("Plan::Preset: hls-ladder is the documented default", "[plan]") {
  auto preset = spool::make_preset("hls-ladder");
  REQUIRE(preset.has_value());
  const spool::plan& p = *preset;
  REQUIRE(p.video.rungs.size() == 4);
  CHECK(p.video.rungs[0].name == "1080p");
  CHECK(p.video.rungs[0].maxrate_kbps == 5000);
  CHECK(p.video.rungs[0].bufsize_kbps == 10000);
  CHECK(p.video.rungs[3].height == 360);
  CHECK(p.video.rungs[3].maxrate_kbps == 800);
  CHECK(p.video.codec == "libx264");
  CHECK(p.video.preset == "veryfast");
  CHECK(p.audio.bitrate_kbps == 128);
  CHECK(p.audio.sample_rate == 48000);
  CHECK(p.packaging.segment_s == 6);
  CHECK(p.packaging.gop_s == 2);
  CHECK_FALSE(spool::validate(p));
  auto unknown = spool::make_preset("nope");
  REQUIRE_FALSE(unknown.has_value());
  CHECK(unknown.error().code == errc::invalid_spec);
  CHECK(unknown.error().what().find("nope") != std::string::npos);
}

TEST_CASE("Plan::Spec: overrides apply on top of the preset", "[plan]") {
  auto r = spool::apply_spec(R"({"version":1,"preset":"hls-ladder",
      "video":{"rungs":[{"name":"small","height":240,"crf":28,"maxrate_kbps":400}]},
      "packaging":{"segment_s":4,"dash":false},"audio":{"bitrate_kbps":96}})");
  REQUIRE(r.has_value());
  const spool::plan& p = *r;
  REQUIRE(p.video.rungs.size() == 1);
  CHECK(p.video.rungs[0].name == "small");
  CHECK(p.video.rungs[0].crf == 28);
  CHECK(p.packaging.segment_s == 4);
  CHECK_FALSE(p.packaging.dash);
  CHECK(p.audio.bitrate_kbps == 96);
}

TEST_CASE("Plan::Spec: bad specs are typed errors with a reason, and change nothing", "[plan]") {
  struct bad_case {
    const char* json;
    const char* words;
  };
  const bad_case cases[] = {
      {R"({"version":2})", "version"},
      {R"({"vidio":{}})", "vidio"},
      {R"({"video":{"rungs":[{"height":"tall"}]}})", "height"},
      {R"({"video":{"rungs":[{"height":721}]}})", "even"},
      {R"({"video":{"rungs":[{"name":"../x","height":720}]}})", "name"},
      {R"({"video":{"rungs":[{"name":"a","height":720},{"name":"a","height":360}]}})", "twice"},
      {R"({"packaging":{"segment_s":5,"gop_s":2}})", "multiple"},
      {R"({"packaging":{"hls":false,"dash":false}})", "nothing"},
      {R"({"video":{"codec":"mpeg2video"}})", "codec"},
      {R"({"preset":"unknown"})", "preset"},
      {R"(not json)", "JSON"},
  };
  for (const auto& c : cases) {
    INFO(c.json);
    auto r = spool::apply_spec(c.json);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_spec);
    CHECK(r.error().what().find(c.words) != std::string::npos);
  }
}

TEST_CASE("Plan::RoundTrip: to_json reads back to the same plan", "[plan]") {
  auto p = spool::apply_spec(R"({"video":{"codec":"libx265","rungs":[{"name":"hd","height":720,"crf":26}]},
                                   "packaging":{"progressive":"hd"}})")
               .value();
  auto q = spool::apply_spec(spool::to_json(p)).value();
  CHECK(boost::json::serialize(spool::to_json(q)) == boost::json::serialize(spool::to_json(p)));
  CHECK(q.video.codec == "libx265");
  CHECK(q.packaging.progressive == "hd");
}

TEST_CASE("Plan::Chunking: off by default, read and written both ways, checked", "[plan][chunking]") {
  spool::plan defaults;
  CHECK_FALSE(defaults.chunking.enabled);
  CHECK(defaults.chunking.min_duration_s == 1200);
  CHECK(defaults.chunking.chunk_s == 120);

  auto p = spool::apply_spec(R"({"packaging":{"segment_s":2},
                                   "chunking":{"enabled":true,"min_duration_s":10,"chunk_s":6}})");
  REQUIRE(p.has_value());
  CHECK(p->chunking.enabled);
  CHECK(p->chunking.min_duration_s == 10);
  CHECK(p->chunking.chunk_s == 6);
  const auto written = spool::to_json(*p);
  const auto& c = written.at("chunking").as_object();
  CHECK(c.at("enabled").as_bool());
  CHECK(c.at("min_duration_s").to_number<double>() == 10);
  CHECK(c.at("chunk_s").to_number<double>() == 6);
  auto back = spool::apply_spec(written);
  REQUIRE(back.has_value());
  CHECK(back->chunking.enabled);
  CHECK(back->chunking.chunk_s == 6);

  // Only the keys given change: the rest keep the base plan's values.
  auto partial = spool::apply_spec(R"({"chunking":{"enabled":true}})");
  REQUIRE(partial.has_value());
  CHECK(partial->chunking.min_duration_s == 1200);

  const std::pair<const char*, const char*> bad[] = {
      {R"({"chunking":{"enabled":"yes"}})", "enabled"},
      {R"({"chunking":{"chunk":60}})", "chunk"},
      {R"({"chunking":{"min_duration_s":-1}})", "min_duration_s"},
      {R"({"chunking":[]})", "chunking"},
      // A chunk holds at least one segment.
      {R"({"packaging":{"segment_s":6},"chunking":{"chunk_s":4}})", "chunk_s"},
  };
  for (const auto& [json, words] : bad) {
    INFO(json);
    auto r = spool::apply_spec(json);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_spec);
    CHECK(r.error().what().find(words) != std::string::npos);
  }
}
