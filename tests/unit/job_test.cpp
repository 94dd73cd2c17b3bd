#include <spool/job.hpp>
#include <spool/version.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <cmath>
#include <functional>
#include <limits>

#include "catch_result.hpp"

using spool::errc;

TEST_CASE("Job::Spec: a job round-trips through JSON with its whole plan", "[job]") {
  spool::job_spec j;
  j.job_id = "abc";
  j.idempotency_key = "upload-42";
  j.input = "/srv/uploads/lecture.mp4";
  j.output = "/srv/packages/lecture";
  j.plan = spool::resolve_plan("hls-ladder", nullptr).value();
  j.plan.video.rungs.resize(1);
  j.plan.video.rungs[0].name = "360p";
  j.plan.video.rungs[0].height = 360;
  j.metadata = boost::json::parse(R"({"course":"MATH101","user":7})");
  const std::string text = boost::json::serialize(spool::to_json(j));
  auto message = boost::json::parse(text).as_object();
  CHECK(message.at("version") == 2);
  CHECK(message.at("resolved_by").as_string() == spool::version_string());
  CHECK_FALSE(message.contains("preset"));  // resolved: nothing is looked up again by the worker
  auto back = spool::parse_job_spec(text);
  REQUIRE(back.has_value());
  CHECK(back->job_id == "abc");
  CHECK(back->idempotency_key == "upload-42");
  CHECK(back->input == j.input);
  CHECK(back->output == j.output);
  CHECK(back->metadata == j.metadata);
  CHECK(back->resolved_by == spool::version_string());
  REQUIRE(back->plan.video.rungs.size() == 1);
  CHECK(back->plan.video.rungs[0].height == 360);
  CHECK(spool::to_json(back->plan) == spool::to_json(j.plan));
}

TEST_CASE("Job::Spec: a version 2 job is encoded as resolved, whatever this version's presets say", "[job]") {
  // A worker must not re-resolve: every setting comes from the message, none from a preset.
  auto plan = spool::resolve_plan("hls-ladder", nullptr).value();
  plan.video.preset = "medium";
  plan.video.rungs = {{"only", 240, 30, 500, 1000}};
  plan.audio.bitrate_kbps = 64;
  spool::job_spec j;
  j.input = "in.mp4";
  j.output = "out";
  j.plan = plan;
  j.resolved_by = "9.9.9";
  auto back = spool::parse_job_spec(boost::json::serialize(spool::to_json(j))).value();
  CHECK(back.resolved_by == "9.9.9");
  CHECK(back.plan.video.preset == "medium");
  REQUIRE(back.plan.video.rungs.size() == 1);
  CHECK(back.plan.video.rungs[0].name == "only");
  CHECK(back.plan.audio.bitrate_kbps == 64);
}

TEST_CASE("Job::Spec: a version 1 job queued by spool 0.1 is resolved by the reader", "[job]") {
  auto back = spool::parse_job_spec(
      R"({"version":1,"job_id":"","input":"/i.mp4","output":"/o","preset":"hls-ladder",
          "plan":{"video":{"rungs":[{"name":"360p","height":360}]}}})");
  REQUIRE(back.has_value());
  REQUIRE(back->plan.video.rungs.size() == 1);
  CHECK(back->plan.video.rungs[0].height == 360);
  CHECK(back->plan.audio.bitrate_kbps == 128);  // the rest from the preset
  auto bare = spool::parse_job_spec(R"({"version":1,"input":"/i.mp4","output":"/o"})");
  REQUIRE(bare.has_value());
  CHECK(bare->plan.video.rungs.size() == 4);
}

TEST_CASE("Job::Spec: malformed jobs are invalid_spec with a reason", "[job]") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"version":2,"output":"/o","plan":{}})", "input"},
      {R"({"version":2,"input":"/i","plan":{}})", "output"},
      {R"({"input":"/i","output":"/o"})", "version"},
      {R"({"input":"/i","output":"/o","version":3})", "version"},
      {R"({"version":2,"input":"/i","output":"/o"})", "plan"},
      {R"({"version":2,"input":"/i","output":"/o","plan":{},"preset":"hls-ladder"})", "preset"},
      {R"({"version":1,"input":"/i","output":"/o","resolved_by":"0.2.0"})", "resolved_by"},
      {R"({"version":2,"input":"/i","output":"/o","plan":{},"colour":"red"})", "colour"},
      {R"({"version":1,"input":"/i","output":"/o","preset":"nope"})", "preset"},
      {R"({"version":1,"input":"/i","output":"/o","plan":{"packaging":{"segment_s":5}}})", "multiple"},
      {R"({"version":2,"input":"/i","output":"/o","plan":{"packaging":{"segment_s":5}}})", "multiple"},
      {R"([1,2])", "object"},
      {R"({"input":)", "JSON"},
  };
  for (const auto& [text, word] : cases) {
    INFO(text);
    auto r = spool::parse_job_spec(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_spec);
    INFO(r.error().what());
    CHECK(r.error().what().find(word) != std::string::npos);
  }
}

TEST_CASE("Job::Status: status JSON has the documented fields", "[job]") {
  spool::job_status s;
  s.job_id = "j1";
  s.state = spool::job_state::failed;
  s.attempt = 2;
  s.progress = 0.5;
  s.error = errc::no_space;
  s.error_message = "disk full";
  s.updated_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'123));
  auto v = spool::to_json(s).as_object();
  CHECK(v.at("state") == "failed");
  CHECK(v.at("attempt") == 2);
  CHECK(v.at("updated_at") == "2023-11-14T22:13:20.123Z");
  CHECK(v.at("error").at("code") == "no_space");
  CHECK(v.at("error").at("category") == "resource");
  CHECK(v.at("error").at("message") == "disk full");
  spool::job_state st;
  CHECK(spool::parse_job_state("dead", st));
  CHECK(st == spool::job_state::dead);
  CHECK_FALSE(spool::parse_job_state("zombie", st));
}

TEST_CASE("Job::Spec: metadata holding a number past a double's range is invalid_spec, in both versions",
          "[job][fuzz]") {
  // fuzz_job_spec: a message whose metadata said {"user":411e308} was accepted with the number read as
  // an infinity, which no JSON writer can hand back: the job's own to_json no longer read back.
  for (const char* text : {R"({"version":1,"input":"/i","output":"/o","metadata":{"user":411e308}})",
                           R"({"version":2,"input":"/i","output":"/o","plan":{},"metadata":[1,{"x":-1e999}]})"}) {
    INFO(text);
    auto r = spool::parse_job_spec(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_spec);
    CHECK(r.error().what().find("metadata") != std::string::npos);
  }
  // The largest doubles are numbers like any other, and come back as they went.
  auto big = spool::parse_job_spec(R"({"version":1,"input":"/i","output":"/o","metadata":{"user":1.5e308}})");
  REQUIRE(big.has_value());
  auto back = spool::parse_job_spec(boost::json::serialize(spool::to_json(*big)));
  REQUIRE(back.has_value());
  CHECK(back->metadata.at("user").as_double() == 1.5e308);
}

namespace {

spool::job_spec chunk_child() {
  spool::job_spec j;
  j.input = "/srv/uploads/lecture.mp4";
  j.output = "/srv/packages/lecture.chunks-m-1/chunk-0002";
  j.idempotency_key = "chunked:m-1:chunk-2";
  j.role.what = spool::job_role::kind::chunk;
  j.role.parent_id = "m-1";
  j.role.parent_key = "upload-42";
  j.role.parent_output = "/srv/packages/lecture";
  j.role.work = "/srv/packages/lecture.chunks-m-1";
  j.role.chunks = 4;
  j.role.index = 2;
  j.role.first_segment = 40;
  j.role.segments = 20;
  j.role.start_s = 240;
  j.role.end_s = 360;
  return j;
}

}  // namespace

TEST_CASE("Job::Role: a chunked job's children carry their role through JSON", "[job][chunking]") {
  auto j = chunk_child();
  const std::string text = boost::json::serialize(spool::to_json(j));
  const auto role = boost::json::parse(text).at("role");
  CHECK(role.at("kind") == "chunk");
  CHECK(role.at("first_segment") == 40);
  auto back = spool::parse_job_spec(text);
  REQUIRE(back.has_value());
  const auto& r = back->role;
  CHECK(r.what == spool::job_role::kind::chunk);
  CHECK(r.parent_id == "m-1");
  CHECK(r.parent_key == "upload-42");
  CHECK(r.parent_output == "/srv/packages/lecture");
  CHECK(r.work == "/srv/packages/lecture.chunks-m-1");
  CHECK(r.chunks == 4);
  CHECK(r.index == 2);
  CHECK(r.first_segment == 40);
  CHECK(r.segments == 20);
  CHECK(r.start_s == 240);
  CHECK(r.end_s == 360);

  // The last chunk runs to the end of the input: JSON has no infinity, null says so.
  j.role.end_s = std::numeric_limits<double>::infinity();
  const std::string last = boost::json::serialize(spool::to_json(j));
  CHECK(boost::json::parse(last).at("role").at("end_s").is_null());
  auto last_back = spool::parse_job_spec(last);
  REQUIRE(last_back.has_value());
  CHECK(std::isinf(last_back->role.end_s));

  // A stitch job carries how often it waited; an ordinary job has no role at all.
  auto s = chunk_child();
  s.role.what = spool::job_role::kind::stitch;
  s.role.wait = 7;
  auto s_back = spool::parse_job_spec(boost::json::serialize(spool::to_json(s)));
  REQUIRE(s_back.has_value());
  CHECK(s_back->role.what == spool::job_role::kind::stitch);
  CHECK(s_back->role.wait == 7);
  spool::job_spec plain = chunk_child();
  plain.role = {};
  CHECK_FALSE(spool::to_json(plain).as_object().contains("role"));
  CHECK(spool::parse_job_spec(boost::json::serialize(spool::to_json(plain)))->role.what == spool::job_role::kind::none);
}

TEST_CASE("Job::Role: a malformed role is invalid_spec naming what is wrong", "[job][chunking]") {
  const std::string good = boost::json::serialize(spool::to_json(chunk_child()));
  auto with_role = [&](const std::function<void(boost::json::object&)>& change) {
    auto v = boost::json::parse(good);
    change(v.as_object()["role"].as_object());
    return boost::json::serialize(v);
  };
  const std::pair<std::string, const char*> bad[] = {
      {with_role([](auto& r) { r["kind"] = "none"; }), "kind"},
      {with_role([](auto& r) { r["kind"] = "encode"; }), "kind"},
      {with_role([](auto& r) { r.erase("kind"); }), "kind"},
      {with_role([](auto& r) { r.erase("parent_id"); }), "parent_id"},
      {with_role([](auto& r) { r["index"] = 4; }), "index"},
      {with_role([](auto& r) { r["segments"] = 0; }), "segments"},
      {with_role([](auto& r) { r["start_s"] = -1; }), "start_s"},
      {with_role([](auto& r) { r["end_s"] = 100; }), "end_s"},
      {with_role([](auto& r) { r.erase("first_segment"); }), "first_segment"},
      {with_role([](auto& r) { r["colour"] = "red"; }), "colour"},
      {with_role([](auto& r) { r["chunks"] = "four"; }), "chunks"},
  };
  for (const auto& [text, words] : bad) {
    INFO(text);
    auto r = spool::parse_job_spec(text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_spec);
    CHECK(r.error().what().find(words) != std::string::npos);
  }
}

TEST_CASE("Job::Status: a chunked job's status counts its chunks, an ordinary one has none", "[job][chunking]") {
  spool::job_status s;
  s.job_id = "m-1";
  s.state = spool::job_state::running;
  s.progress = 0.5;
  CHECK_FALSE(spool::to_json(s).as_object().contains("chunks"));
  CHECK_FALSE(spool::parse_job_status(boost::json::serialize(spool::to_json(s)))->chunks);
  s.chunks = spool::chunk_count{3, 5};
  const auto text = boost::json::serialize(spool::to_json(s));
  CHECK(boost::json::parse(text).at("chunks") == boost::json::parse(R"({"done":3,"total":5})"));
  auto back = spool::parse_job_status(text);
  REQUIRE(back.has_value());
  REQUIRE(back->chunks);
  CHECK(back->chunks->done == 3);
  CHECK(back->chunks->total == 5);
}
