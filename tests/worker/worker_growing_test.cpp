// The worker publishes progressively unless the plan says otherwise: a job's package is playable
// while it encodes and its status says how much; a job that fails after that removes what it
// published and says so.
#include "package_inspect.hpp"
#include "worker_fixture.hpp"

using namespace worker_test;

namespace {

// Two-second segments of one small rung, so a job is playable long before it ends.
const char* growing_plan_json =
    R"({"video":{"preset":"ultrafast","rungs":[{"name":"120p","height":120,"crf":30}]},
        "packaging":{"segment_s":2,"gop_s":2},"thumbnails":{"storyboard":false}})";

}  // namespace

TEST_CASE("Worker::Growing: a job is playable before it succeeds, and its status says how much", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4", 24);
  auto out = f.dir / "out";
  auto id = f.submit(in, out, growing_plan_json);
  auto o = f.options();
  o.status_interval = 20ms;
  auto summary = run_worker(f.queue, o);
  REQUIRE(summary.succeeded == 1);
  require_package(out, id);

  double first_playable = -1;
  bool playable_while_running = false;
  for (const auto& e : f.events->events()) {
    if (e.state != job_state::running || !e.playable) continue;
    playable_while_running = true;
    if (first_playable < 0) first_playable = e.playable_s;
    CHECK(e.playable_s > 0);
    CHECK(e.playable_s < 24);
  }
  CHECK(playable_while_running);
  CHECK(first_playable <= 12);  // told when it became playable, not at the end
  auto last = f.events->events().back();
  CHECK(last.state == job_state::succeeded);
  CHECK(last.playable);
  CHECK(last.playable_s == Approx(24).margin(0.1));
  auto final_status = status_of(out);
  CHECK(final_status.playable);
  CHECK(spool::test::read_file(out / "result.json").find("\"mode\":\"progressive\"") != std::string::npos);
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::Growing: a job that fails after it was playable removes its package and says so", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4", 60, 640, 360);
  auto out = f.dir / "out";
  f.submit(in, out,
           R"({"video":{"preset":"medium","remux":"off","rungs":[{"name":"360p","height":360}]},
               "packaging":{"segment_s":2,"gop_s":2},"thumbnails":{"storyboard":false}})");  // encoded: slow
  auto o = f.options();
  o.status_interval = 20ms;
  o.policy.deadline = 2s;  // past its first segments, long before its end
  o.retry.max_attempts = 1;
  auto summary = run_worker(f.queue, o);
  CHECK(summary.succeeded == 0);
  CHECK(summary.dead == 1);
  bool was_playable = false;
  for (const auto& e : f.events->events()) was_playable = was_playable || e.playable;
  CHECK(was_playable);
  auto s = status_of(out);
  CHECK(s.state == job_state::dead);
  CHECK(s.error == spool::errc::deadline_exceeded);
  CHECK_FALSE(s.playable);
  CHECK(s.error_message.find("removed") != std::string::npos);
  CHECK(spool::test::list_dir(out) == std::vector<std::string>{"status.json"});
  CHECK(f.leftovers().empty());
}
