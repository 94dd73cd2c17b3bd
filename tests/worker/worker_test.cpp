// The worker end to end, in process: real transcodes of generated inputs through mem:// queues, and
// adapters that fail on purpose. Assertions run on the test thread only; worker threads record.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "worker_fixture.hpp"

namespace asio = boost::asio;
using namespace worker_test;

TEST_CASE("Worker::Lifecycle: every job is transcoded, published with status succeeded, and acknowledged", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  std::vector<std::pair<std::string, fs::path>> jobs;
  for (int i = 0; i < 4; ++i) {
    auto out = f.dir / ("out" + std::to_string(i));
    jobs.emplace_back(f.submit(in, out), out);
  }
  auto o = f.options();
  o.concurrency = 2;
  auto summary = run_worker(f.queue, o);

  CHECK(summary.succeeded == 4);
  CHECK(summary.retried + summary.dead + summary.released + summary.lease_lost + summary.already_complete == 0);
  auto st = f.stats();
  CHECK(st.visible + st.in_flight + st.delayed + st.dead == 0);
  auto states = f.events->states();
  for (const auto& [id, out] : jobs) {
    require_package(out, id);
    CHECK(states[id] == std::vector<job_state>{job_state::running, job_state::succeeded});
  }
  // The host's metadata rides along in every event; the worker never ran more than its limit.
  for (const auto& e : f.events->events()) CHECK(e.metadata.at("course") == "cs101");
  CHECK(f.events->max_running() == 2);
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::Options: a lease the backend cannot grant is refused before anything is leased", "[worker]") {
  fixture f;
  f.submit(f.dir / "in.mp4", f.dir / "out");
  auto o = f.options();
  o.lease = f.queue->caps().max_lease + 1s;
  spool::worker_summary summary;
  CHECK(spool::worker_runtime(f.queue, o).run(summary) == spool::errc::invalid_argument);
  o = f.options();
  o.heartbeat = o.lease;
  CHECK(spool::worker_runtime(f.queue, o).run(summary) == spool::errc::invalid_argument);
  CHECK(f.stats().visible == 1);
  CHECK(f.stats().in_flight == 0);
}

TEST_CASE("Worker::Adaptive: concurrency follows the queue's depth between its bounds", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  for (int i = 0; i < 6; ++i) f.submit(in, f.dir / ("deep" + std::to_string(i)));
  auto o = f.options();
  o.concurrency = 3;
  o.min_concurrency = 1;
  o.scaling.jobs_per_worker = 2;  // 6 waiting: ceil(6 / 2) = 3 at once
  auto summary = run_worker(f.queue, o);
  CHECK(summary.succeeded == 6);
  CHECK(f.events->max_running() == 3);

  fixture g;
  auto in2 = g.input("in.mp4");
  for (int i = 0; i < 4; ++i) g.submit(in2, g.dir / ("shallow" + std::to_string(i)));
  o = g.options();
  o.concurrency = 3;
  o.min_concurrency = 1;
  o.scaling.jobs_per_worker = 6;  // never more than ceil(4 / 6) = 1
  summary = run_worker(g.queue, o);
  CHECK(summary.succeeded == 4);
  CHECK(g.events->max_running() == 1);
}

TEST_CASE("Worker::Poison: an input error is dead-lettered on the first attempt, and a redrive then succeeds",
          "[worker]") {
  fixture f;
  auto in = f.dir / "notes.mp4";
  spool::test::write_text(in, "these are lecture notes, not a video\n");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);

  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.dead == 1);
  CHECK(summary.succeeded + summary.retried == 0);
  auto dead = f.dead();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].message_id == id);
  CHECK(dead[0].receive_count == 1);
  auto err = boost::json::parse(dead[0].last_error_json);
  CHECK(err.at("category") == "input");
  // Only its name says mp4: it is not media at all.
  CHECK(err.at("code") == "input_not_media");
  auto s = status_of(out);
  CHECK(s.state == job_state::dead);
  CHECK(s.error == spool::errc::input_not_media);
  CHECK(s.attempt == 1);
  // Nothing but the status is left where the package would have gone.
  CHECK(spool::test::list_dir(out) == std::vector<std::string>{"status.json"});
  CHECK(f.leftovers().empty());

  // The professor uploads the real recording; the operator redrives the job.
  fs::remove(in);
  spool::test::input_spec spec;
  spec.duration_s = 2;
  spool::test::make_input(in, spec);
  auto moved = f.queue->dead_letters()->redrive(id);
  REQUIRE(moved.has_value());
  CHECK(*moved == 1);
  summary = run_worker(f.queue, f.options());
  CHECK(summary.succeeded == 1);
  require_package(out, id);
  CHECK(f.stats().dead == 0);
}

TEST_CASE(
    "Worker::MinimalBackend: without a dead-letter store or stats, a dead job is acknowledged and its status "
    "says why; an idle run still ends",
    "[worker]") {
  fixture f;
  auto minimal = std::make_shared<faulty_queue>(f.queue);
  minimal->withdraw(queue_op::dead_letter);
  minimal->withdraw(queue_op::stats);
  REQUIRE(minimal->dead_letters() == nullptr);
  auto in = f.dir / "notes.mp4";
  spool::test::write_text(in, "these are lecture notes, not a video\n");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  auto summary = run_worker(minimal, f.options());  // exit_when_idle: ends without stats
  CHECK(summary.dead == 1);
  CHECK(minimal->calls(queue_op::ack) == 1);
  CHECK(minimal->calls(queue_op::dead_letter) == 0);
  auto s = status_of(out);
  CHECK(s.job_id == id);
  CHECK(s.state == job_state::dead);
  CHECK(s.error == spool::errc::input_not_media);
  auto st = f.stats();  // the backend underneath: nothing left, nothing kept
  CHECK(st.visible + st.in_flight + st.delayed + st.dead == 0);
}

TEST_CASE("Worker::Invalid: a job whose body is not a job spec is dead-lettered with the reason", "[worker]") {
  fixture f;
  auto r = f.queue->send({R"({"version":1,"input":"/x.mp4"})", "", 0ms});
  REQUIRE(r.has_value());
  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.dead == 1);
  auto dead = f.dead();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].reason.find("output") != std::string::npos);
  CHECK(boost::json::parse(dead[0].last_error_json).at("code") == "invalid_spec");
  REQUIRE(f.events->states()[r->message_id] == std::vector<job_state>{job_state::dead});
}

TEST_CASE("Worker::Crashes: a job whose deliveries keep dying is dead-lettered once its attempts are used up",
          "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  auto o = f.options();
  o.retry.max_attempts = 3;
  // Three deliveries that never report back, as if each worker had been killed mid-job.
  for (int i = 0; i < 3; ++i) {
    q::receive_options ro;
    ro.lease = 1ms;
    auto d = f.queue->receive(ro);
    REQUIRE(d.has_value());
    REQUIRE(d->size() == 1);
    std::this_thread::sleep_for(5ms);
  }
  auto summary = run_worker(f.queue, o);
  CHECK(summary.dead == 1);
  CHECK(summary.succeeded == 0);
  auto dead = f.dead();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].message_id == id);
  CHECK(dead[0].receive_count == 4);
  CHECK(dead[0].reason.find("without finishing") != std::string::npos);
  auto s = status_of(out);
  CHECK(s.state == job_state::dead);
  CHECK(s.error == spool::errc::internal);
  CHECK_FALSE(fs::exists(out / "master.m3u8"));
}

TEST_CASE("Worker::Retry: a resource failure is retried after a backoff and then succeeds", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  // The output's parent is a file for now: creating the package fails with an I/O error.
  auto parent = f.dir / "packages";
  spool::test::write_text(parent, "in the way\n");
  auto out = parent / "lecture";
  auto id = f.submit(in, out);
  auto o = f.options();
  o.on_status = [e = f.events, parent](const spool::job_status& s) {
    (*e)(s);
    if (s.state == job_state::failed && fs::is_regular_file(parent)) {
      fs::remove(parent);
      fs::create_directory(parent);
    }
  };
  auto summary = run_worker(f.queue, o);
  CHECK(summary.retried >= 1);
  CHECK(summary.succeeded == 1);
  CHECK(summary.dead == 0);
  auto s = status_of(out);
  CHECK(s.state == job_state::succeeded);
  CHECK(s.attempt >= 2);
  bool failed_with_io = false;
  for (const auto& e : f.events->events())
    failed_with_io = failed_with_io || (e.state == job_state::failed && e.error == spool::errc::io_error);
  CHECK(failed_with_io);
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::Heartbeat: a job longer than its lease keeps it and runs once, with two workers", "[worker]") {
  fixture f;
  // Seconds of encoding against a lease of well under one.
  auto in = f.input("long.mp4", 12, 640, 360);
  auto out = f.dir / "out";
  auto id = f.submit(
      in, out,
      R"({"video":{"preset":"medium","remux":"off","rungs":[{"name":"120p","height":120},{"name":"360p","height":360}]}})");
  auto o = f.options();
  o.lease = 700ms;
  auto started = std::chrono::steady_clock::now();
  spool::worker_summary a, b;
  spool::error_code b_ec = spool::errc::internal;
  std::thread second([&] {  // no assertions off the test thread
    spool::worker_runtime w(f.queue, o);
    b_ec = w.run(b);
  });
  a = run_worker(f.queue, o);
  second.join();
  CHECK_FALSE(b_ec);
  auto took = std::chrono::steady_clock::now() - started;

  CHECK(took > 2 * o.lease);  // otherwise the test proves nothing
  CHECK(a.succeeded + b.succeeded == 1);
  CHECK(a.already_complete + b.already_complete == 0);
  CHECK(a.lease_lost + b.lease_lost == 0);
  auto s = status_of(out);
  CHECK(s.state == job_state::succeeded);
  CHECK(s.attempt == 1);
  CHECK(f.events->states()[id] == std::vector<job_state>{job_state::running, job_state::succeeded});
}

TEST_CASE("Worker::LeaseLost: a refused extension cancels the transcode and leaves the job alone", "[worker]") {
  fixture f;
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  faulty->fail_next(queue_op::extend, -1, {spool::errc::lease_lost, "the queue refuses every heartbeat"});
  auto in = f.input("long.mp4", 12, 640, 360);
  auto out = f.dir / "out";
  f.submit(in, out, R"({"video":{"preset":"veryfast","rungs":[{"name":"360p","height":360}]}})");
  auto o = f.options();
  o.lease = 3s;
  o.heartbeat = 200ms;
  o.exit_when_idle = false;
  spool::worker_runtime w(faulty, o);
  spool::worker_summary summary;
  spool::error_code ec;
  std::thread t([&] { ec = w.run(summary); });
  CHECK(eventually([&] { return faulty->failures(queue_op::extend) > 0 && w.running() == 0; }, 60s));
  w.stop();
  t.join();
  CHECK_FALSE(ec);
  CHECK(summary.lease_lost == 1);
  CHECK(summary.succeeded + summary.retried + summary.released + summary.dead == 0);
  // Not acknowledged, not released: the newer delivery decides.
  CHECK(f.stats().in_flight == 1);
  CHECK_FALSE(fs::exists(out / "master.m3u8"));
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::AlreadyComplete: a redelivered job whose package is published is acknowledged, not encoded",
          "[worker]") {
  fixture f;
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  faulty->fail_next(queue_op::ack, 3, spool::errc::io_error);  // every try of the first acknowledgement fails
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  auto o = f.options();
  o.lease = 1s;
  auto summary = run_worker(faulty, o);
  CHECK(summary.succeeded == 1);
  CHECK(summary.already_complete == 1);
  CHECK(faulty->failures(queue_op::ack) == 3);
  CHECK(faulty->calls(queue_op::ack) == 4);
  auto st = f.stats();
  CHECK(st.visible + st.in_flight + st.delayed + st.dead == 0);
  require_package(out, id);
  // Encoded once: the second delivery only announced the finished state.
  CHECK(f.events->states()[id] == std::vector<job_state>{job_state::running, job_state::succeeded});
}

TEST_CASE("Worker::Idempotency: a resubmitted key runs once, also through a queue that does not deduplicate",
          "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto first = f.submit(in, out, small_plan_json, "upload-42");
  CHECK(f.submit(in, out, small_plan_json, "upload-42") == first);  // still queued: the same job
  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.succeeded == 1);
  CHECK(status_of(out).idempotency_key == "upload-42");
  // The host retries after the job finished: the queue still knows the key (its dedup window).
  CHECK(f.submit(in, out, small_plan_json, "upload-42") == first);
  CHECK(f.stats().visible == 0);

  // A backend without deduplication queues it again; the worker finds the package by its key.
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  faulty->no_dedup = true;
  spool::job_spec j;
  j.idempotency_key = "upload-42";
  j.input = in.string();
  j.output = out.string();
  j.plan = spool::apply_spec(boost::json::parse(small_plan_json)).value();
  auto sent = faulty->send({boost::json::serialize(spool::to_json(j)), "upload-42", 0ms});
  REQUIRE(sent.has_value());
  const auto again = *sent;
  REQUIRE(again.message_id != first);
  summary = run_worker(faulty, f.options());
  CHECK(summary.already_complete == 1);
  CHECK(summary.succeeded + summary.dead == 0);
  auto states = f.events->states();
  CHECK(states[first] == std::vector<job_state>{job_state::running, job_state::succeeded});
  CHECK(states[again.message_id] == std::vector<job_state>{job_state::succeeded});
  CHECK(status_of(out).job_id == first);  // the package is the first job's
  auto st = f.stats();
  CHECK(st.visible + st.in_flight + st.delayed + st.dead == 0);
}

TEST_CASE("Worker::LeaseBeforePublish: a lease found lost at the last moment publishes nothing", "[worker]") {
  fixture f;
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  faulty->fail_next(queue_op::extend, -1, {spool::errc::lease_lost, "the queue refuses every heartbeat"});
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  f.submit(in, out);
  auto o = f.options();
  o.lease = 60s;
  o.heartbeat = 59s;  // no heartbeat during a job this short: only the check before publishing
  o.exit_when_idle = false;
  spool::worker_runtime w(faulty, o);
  spool::worker_summary summary;
  spool::error_code ec = spool::errc::internal;
  std::thread t([&] { ec = w.run(summary); });
  CHECK(eventually([&] { return faulty->failures(queue_op::extend) > 0 && w.running() == 0; }, 60s));
  w.stop();
  t.join();
  CHECK_FALSE(ec);
  CHECK(faulty->calls(queue_op::extend) == 1);
  CHECK(summary.lease_lost == 1);
  CHECK(summary.succeeded == 0);
  CHECK_FALSE(fs::exists(out / "master.m3u8"));
  CHECK_FALSE(f.events->saw(job_state::succeeded));
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::PublishedMeanwhile: a package another delivery published for this job is taken as done",
          "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  auto o = f.options();
  // While this delivery starts, a stalled older delivery of the same job completes its publish.
  o.on_status = [e = f.events, out, id](const spool::job_status& s) {
    (*e)(s);
    if (s.state == job_state::running && !fs::exists(out / "result.json")) {
      spool::test::write_text(out / "result.json", "{}");
      spool::job_status done;
      done.job_id = id;
      done.state = job_state::succeeded;
      done.progress = 1;
      write_status(out, done);
    }
  };
  auto summary = run_worker(f.queue, o);
  CHECK(summary.already_complete == 1);
  CHECK(summary.dead + summary.retried + summary.succeeded == 0);
  auto s = status_of(out);
  CHECK(s.state == job_state::succeeded);
  CHECK(s.job_id == id);
  auto st = f.stats();
  CHECK(st.visible + st.in_flight + st.delayed + st.dead == 0);
}

TEST_CASE("Worker::Leftovers: a staging directory left by a killed delivery is removed by the next", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  // The last delivery was killed inside publish: package in place, the old directory beside it.
  fs::create_directories(out / "120p");
  spool::test::write_text(out / "result.json", "{}");
  spool::job_status done;
  done.job_id = id;
  done.state = job_state::succeeded;
  REQUIRE_FALSE(write_status(out, done));
  auto stale = f.dir / ".out.spool-tmp-K1ll3d";
  fs::create_directories(stale);
  spool::test::write_text(stale / "status.json", "{}");
  fs::permissions(stale, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.already_complete == 1);
  CHECK_FALSE(fs::exists(stale));
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::Drain: running jobs finish within the grace period", "[worker]") {
  fixture f;
  auto in = f.input("long.mp4", 6, 640, 360);
  auto out = f.dir / "out";
  auto id = f.submit(in, out, R"({"video":{"preset":"veryfast","rungs":[{"name":"360p","height":360}]}})");
  auto o = f.options();
  o.exit_when_idle = false;
  o.drain_grace = 300s;
  spool::worker_runtime w(f.queue, o);
  spool::worker_summary summary;
  spool::error_code ec = spool::errc::internal;
  std::thread t([&] { ec = w.run(summary); });
  CHECK(eventually([&] { return f.events->saw(job_state::running); }));
  w.drain();
  t.join();
  CHECK_FALSE(ec);
  CHECK(summary.succeeded == 1);
  CHECK(summary.released == 0);
  require_package(out, id, "360p");
}

TEST_CASE("Worker::Stop: running jobs are cancelled and released at once for another worker", "[worker]") {
  fixture f;
  auto in = f.input("long.mp4", 12, 640, 360);
  auto out = f.dir / "out";
  auto id = f.submit(in, out, R"({"video":{"preset":"veryfast","rungs":[{"name":"360p","height":360}]}})");
  auto o = f.options();
  o.exit_when_idle = false;
  o.lease = 600s;        // a release must not wait for this
  o.drain_grace = 600s;  // nor stop() for this
  {
    spool::worker_runtime w(f.queue, o);
    spool::worker_summary summary;
    spool::error_code ec = spool::errc::internal;
    std::thread t([&] { ec = w.run(summary); });
    CHECK(eventually([&] { return f.events->saw(job_state::running); }));
    w.stop();
    t.join();  // with drain(), this would wait for the whole encode
    CHECK_FALSE(ec);
    CHECK(summary.released == 1);
    CHECK(summary.succeeded == 0);
  }
  auto st = f.stats();
  CHECK(st.visible == 1);
  CHECK(st.in_flight == 0);
  CHECK(status_of(out).state == job_state::queued);
  CHECK(spool::test::list_dir(out) == std::vector<std::string>{"status.json"});
  CHECK(f.leftovers().empty());

  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.succeeded == 1);
  auto s = status_of(out);
  CHECK(s.state == job_state::succeeded);
  CHECK(s.job_id == id);
  CHECK(s.attempt == 1);  // the stopped delivery was given back without counting
}

TEST_CASE("Worker::Async: basic_worker::async_run with use_future, and cancellation drains", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  asio::io_context io;
  {
    spool::worker w(io.get_executor(), f.queue, f.options());
    auto done = w.async_run(asio::use_future);
    std::thread runner([&] { io.run(); });
    auto summary = done.get();
    runner.join();
    CHECK(summary.succeeded == 1);
    require_package(out, id);
  }

  // An idle worker that would wait forever stops when its operation is cancelled.
  io.restart();
  auto o = f.options();
  o.exit_when_idle = false;
  spool::worker w(io.get_executor(), f.queue, o);
  asio::cancellation_signal cancel;
  asio::steady_timer timer(io, 200ms);
  timer.async_wait([&](auto) { cancel.emit(asio::cancellation_type::total); });
  bool completed = false;
  spool::error_code result = spool::errc::internal;
  w.async_run(asio::bind_cancellation_slot(cancel.slot(), [&](spool::error_code ec, spool::worker_summary) {
    completed = true;
    result = ec;
  }));
  io.run_for(30s);
  CHECK(completed);
  CHECK_FALSE(result);
}

TEST_CASE("Worker::File: jobs through a durable file:// queue", "[worker]") {
  fixture f;
  auto opened = q::make_file_queue((f.dir / "jobs.db").string());
  REQUIRE(opened.has_value());
  f.queue = *opened;
  auto in = f.input("in.mp4");
  auto id1 = f.submit(in, f.dir / "a");
  auto id2 = f.submit(in, f.dir / "b");
  auto o = f.options();
  o.concurrency = 2;
  auto summary = run_worker(f.queue, o);
  CHECK(summary.succeeded == 2);
  require_package(f.dir / "a", id1);
  require_package(f.dir / "b", id2);
  auto st = f.stats();
  CHECK(st.visible + st.in_flight + st.delayed + st.dead == 0);
}
