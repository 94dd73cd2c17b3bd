#include <spool/job.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

using spool::errc;

TEST_CASE("Job::Spec: a job round-trips through JSON", "[job]") {
  spool::job_spec j;
  j.job_id = "abc";
  j.idempotency_key = "upload-42";
  j.input = "/srv/uploads/lecture.mp4";
  j.output = "/srv/packages/lecture";
  j.plan = boost::json::parse(R"({"video":{"rungs":[{"name":"360p","height":360}]}})");
  j.metadata = boost::json::parse(R"({"course":"MATH101","user":7})");
  spool::job_spec back;
  std::string detail;
  REQUIRE_FALSE(spool::parse_job_spec(boost::json::serialize(spool::to_json(j)), back, &detail));
  CHECK(back.job_id == "abc");
  CHECK(back.idempotency_key == "upload-42");
  CHECK(back.input == j.input);
  CHECK(back.output == j.output);
  CHECK(back.metadata == j.metadata);
  spool::plan p;
  REQUIRE_FALSE(spool::make_plan(back, p));
  REQUIRE(p.video.rungs.size() == 1);
  CHECK(p.video.rungs[0].height == 360);
}

TEST_CASE("Job::Spec: malformed jobs are invalid_spec with a reason", "[job]") {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"output":"/o"})", "input"},
      {R"({"input":"/i"})", "output"},
      {R"({"input":"/i","output":"/o","version":2})", "version"},
      {R"({"input":"/i","output":"/o","colour":"red"})", "colour"},
      {R"({"input":"/i","output":"/o","preset":"nope"})", "preset"},
      {R"({"input":"/i","output":"/o","plan":{"packaging":{"segment_s":5}}})", "multiple"},
      {R"([1,2])", "object"},
      {R"({"input":)", "JSON"},
  };
  for (const auto& [text, word] : cases) {
    INFO(text);
    spool::job_spec j;
    std::string detail;
    CHECK(spool::parse_job_spec(text, j, &detail) == errc::invalid_spec);
    CHECK(detail.find(word) != std::string::npos);
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
