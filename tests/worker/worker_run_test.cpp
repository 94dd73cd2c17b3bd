// The worker's runs: one at a time and again after a drain, async_run's initiation and completion,
// what escapes a job or cannot be started, outputs that belong to someone else, and shutdowns that
// do not use up a job's attempts.
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <fstream>
#include <future>
#include <new>
#include <optional>
#include <sstream>
#include <system_error>

#include "core/faults.hpp"
#include "worker_fixture.hpp"

namespace asio = boost::asio;
using namespace worker_test;

namespace {

// Clears every fault hook when the test ends, however it ends.
struct faults_reset {
  ~faults_reset() { spool::detail::faults() = {}; }
};

// Every file under `root` with its bytes, and every directory, by relative path.
std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    auto rel = fs::relative(e.path(), root).string();
    if (e.is_directory()) {
      out[rel + "/"] = "";
      continue;
    }
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    out[rel] = s.str();
  }
  return out;
}

// A plan that takes seconds: a run is still encoding when the test stops it.
const char* slow_plan_json = R"({"video":{"preset":"veryfast","rungs":[{"name":"360p","height":360}]}})";

// How often the job entered `state` (progress updates of one "running" count once).
int count_state(const recorder& r, const std::string& id, job_state state) {
  auto all = r.states();
  auto it = all.find(id);
  return it == all.end() ? 0 : static_cast<int>(std::count(it->second.begin(), it->second.end(), state));
}

}  // namespace

TEST_CASE("Worker::Again: a drained or stopped worker runs again, and each summary is its own run's", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto o = f.options();
  o.exit_when_idle = false;
  spool::worker_runtime w(f.queue, o);

  // Asked to stop before it runs (a signal just before run()): that run ends at once, leasing nothing.
  auto first = f.submit(in, f.dir / "a");
  w.stop();
  spool::worker_summary s;
  REQUIRE_FALSE(w.run(s));
  CHECK(s.succeeded + s.released + s.retried == 0);
  CHECK(f.stats().visible == 1);

  // Each request ends one run: the next works, and is drained in its turn.
  for (int round = 0; round < 2; ++round) {
    auto id = round == 0 ? first : f.submit(in, f.dir / "b");
    spool::error_code ec = spool::errc::internal;
    spool::worker_summary sum;
    std::thread t([&] { ec = w.run(sum); });
    CHECK(eventually([&] { return count_state(*f.events, id, job_state::succeeded) == 1; }));
    w.drain();
    t.join();
    CHECK_FALSE(ec);
    CHECK(sum.succeeded == 1);  // this run's job only, not the rounds before
    CHECK(sum.released + sum.dead + sum.retried == 0);
  }
  require_package(f.dir / "a", first);
  auto st = f.stats();
  CHECK(st.visible + st.in_flight + st.delayed == 0);
}

TEST_CASE("Worker::OneRun: a second run() while one is in progress returns already_running at once", "[worker]") {
  fixture f;
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  auto o = f.options();
  o.exit_when_idle = false;
  spool::worker_runtime w(faulty, o);
  spool::error_code first_ec = spool::errc::internal;
  spool::worker_summary first;
  std::thread t([&] { first_ec = w.run(first); });
  REQUIRE(eventually([&] { return faulty->calls(queue_op::receive) > 0; }, 30s));
  spool::worker_summary second;
  second.succeeded = 99;
  CHECK(w.run(second) == spool::errc::already_running);
  CHECK(second.succeeded == 0);
  CHECK(w.run(second, std::stop_token()) == spool::errc::already_running);
  // The refused calls changed nothing: the first run goes on until drained.
  const int receives = faulty->calls(queue_op::receive);
  CHECK(eventually([&] { return faulty->calls(queue_op::receive) > receives; }, 30s));
  w.drain();
  t.join();
  CHECK_FALSE(first_ec);
  // And afterwards the worker runs again.
  auto in = f.input("in.mp4");
  auto id = f.submit(in, f.dir / "out");
  std::thread t2([&] { first_ec = w.run(first); });
  CHECK(eventually([&] { return count_state(*f.events, id, job_state::succeeded) == 1; }));
  w.drain();
  t2.join();
  CHECK_FALSE(first_ec);
  CHECK(first.succeeded == 1);
}

TEST_CASE("Worker::AsyncRun: the initiating call never blocks, a second run completes with already_running",
          "[worker]") {
  fixture f;
  auto o = f.options();
  o.exit_when_idle = false;
  asio::io_context io;
  spool::worker w(io.get_executor(), f.queue, o);

  asio::cancellation_signal cancel;
  std::optional<spool::error_code> first;
  w.async_run(
      asio::bind_cancellation_slot(cancel.slot(), [&](spool::error_code ec, spool::worker_summary) { first = ec; }));
  // Started while the first runs: the call returns (a hang here is the bug), and the handler is not
  // invoked inside it but from the executor.
  std::optional<spool::error_code> second;
  auto call = std::async(std::launch::async, [&] {
    w.async_run([&](spool::error_code ec, spool::worker_summary s) {
      second = ec;
      CHECK(s.succeeded == 0);
    });
  });
  const bool returned = call.wait_for(60s) == std::future_status::ready;
  if (!returned) w.stop();  // lets a blocked call return, so the test fails instead of hanging
  CHECK(returned);
  call.get();
  CHECK_FALSE(second.has_value());
  io.run_for(200ms);
  REQUIRE(second.has_value());
  CHECK(*second == spool::errc::already_running);
  CHECK_FALSE(first.has_value());

  // Cancelling the first drains it; a later run works and is that run's alone.
  cancel.emit(asio::cancellation_type::terminal);
  io.restart();
  for (int i = 0; i < 600 && !first; ++i) io.run_for(100ms);
  REQUIRE(first.has_value());
  CHECK_FALSE(*first);
  auto in = f.input("in.mp4");
  auto id = f.submit(in, f.dir / "out");
  std::optional<spool::worker_summary> third;
  w.async_run([&](spool::error_code ec, spool::worker_summary s) {
    CHECK_FALSE(ec);
    third = s;
  });
  io.restart();
  for (int i = 0; i < 1200 && count_state(*f.events, id, job_state::succeeded) == 0; ++i) io.run_for(100ms);
  w.drain();
  io.restart();
  for (int i = 0; i < 600 && !third; ++i) io.run_for(100ms);
  REQUIRE(third.has_value());
  CHECK(third->succeeded == 1);
}

TEST_CASE("Worker::AsyncRun: the handler runs on its associated executor", "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto id = f.submit(in, f.dir / "out");
  asio::io_context worker_io, handler_io;
  auto handler_guard = asio::make_work_guard(handler_io);
  std::thread handler_thread([&] { handler_io.run(); });
  std::promise<bool> ran_on_handler_io;
  {
    spool::worker w(worker_io.get_executor(), f.queue, f.options());  // exit_when_idle
    w.async_run(asio::bind_executor(handler_io, [&](spool::error_code ec, spool::worker_summary s) {
      ran_on_handler_io.set_value(!ec && s.succeeded == 1 && handler_io.get_executor().running_in_this_thread());
    }));
    auto done = ran_on_handler_io.get_future();
    REQUIRE(done.wait_for(120s) == std::future_status::ready);
    CHECK(done.get());
  }
  handler_guard.reset();
  handler_thread.join();
  require_package(f.dir / "out", id);
}

TEST_CASE("Worker::AsyncRun: a cancellation after the worker is gone reaches nothing that is gone", "[worker]") {
  fixture f;
  auto o = f.options();
  o.exit_when_idle = false;
  asio::io_context io;
  asio::cancellation_signal cancel;
  bool completed = false;
  {
    spool::worker w(io.get_executor(), f.queue, o);
    w.async_run(asio::bind_cancellation_slot(cancel.slot(),
                                             [&](spool::error_code, spool::worker_summary) { completed = true; }));
    // The destructor stops the run; its handler is queued on the io_context, not yet run.
  }
  CHECK_FALSE(completed);
  // The slot is still connected until the handler runs: this must not touch the destroyed worker
  // (AddressSanitizer reports it if it does).
  cancel.emit(asio::cancellation_type::terminal);
  io.run_for(30s);
  CHECK(completed);
}

TEST_CASE("Worker::Exceptions: an exception that escapes a job is an internal failure, retried", "[worker]") {
  fixture f;
  faults_reset reset;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  std::atomic<int> thrown{0};
  spool::detail::faults().in_job = [&](const std::string&) {
    switch (thrown++) {
      case 0: throw std::runtime_error("the directory iterator threw");
      case 1: throw std::bad_alloc();
      case 2: throw 42;  // not even a std::exception
      default: return;
    }
  };
  auto o = f.options();
  o.retry.max_attempts = 5;
  auto summary = run_worker(f.queue, o);
  CHECK(thrown == 4);
  CHECK(summary.retried == 3);
  CHECK(summary.succeeded == 1);
  std::vector<std::string> messages;
  for (const auto& e : f.events->events()) {
    if (e.state != job_state::failed) continue;
    CHECK(e.job_id == id);
    CHECK(e.error == spool::errc::internal);
    messages.push_back(e.error_message);
  }
  REQUIRE(messages.size() == 3);
  CHECK(messages[0].find("the directory iterator threw") != std::string::npos);
  CHECK(messages[1].find("bad_alloc") != std::string::npos);
  CHECK(messages[2].find("not a std::exception") != std::string::npos);
  require_package(out, id);
  CHECK(status_of(out).attempt == 4);
}

TEST_CASE("Worker::Exceptions: a job that always throws is dead-lettered after max_attempts", "[worker]") {
  fixture f;
  faults_reset reset;
  auto in = f.input("in.mp4");
  auto id = f.submit(in, f.dir / "out");
  spool::detail::faults().in_job = [](const std::string&) { throw std::logic_error("a bug in a host callback"); };
  auto o = f.options();
  o.retry.max_attempts = 3;
  auto summary = run_worker(f.queue, o);
  CHECK(summary.retried == 2);
  CHECK(summary.dead == 1);
  auto dead = f.dead();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].message_id == id);
  CHECK(dead[0].receive_count == 3);
  auto err = boost::json::parse(dead[0].last_error_json);
  CHECK(err.at("code") == "internal");
  CHECK(std::string(err.at("message").as_string()).find("a bug in a host callback") != std::string::npos);
}

TEST_CASE("Worker::Threads: no heartbeat thread is an error of run(), and nothing is leased", "[worker]") {
  fixture f;
  faults_reset reset;
  auto in = f.input("in.mp4");
  auto id = f.submit(in, f.dir / "out");
  spool::detail::faults().start_heartbeat = [] {
    throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again), "pthread_create");
  };
  spool::worker_runtime w(f.queue, f.options());
  spool::worker_summary s;
  auto ec = w.run(s);
  CHECK(ec == spool::errc::out_of_memory);
  CHECK(spool::kind_of(ec) == spool::category_kind::resource);
  CHECK(f.stats().visible == 1);
  CHECK(f.stats().in_flight == 0);
  // Threads again: the same worker runs.
  spool::detail::faults().start_heartbeat = nullptr;
  REQUIRE_FALSE(w.run(s));
  CHECK(s.succeeded == 1);
  require_package(f.dir / "out", id);
}

TEST_CASE("Worker::Threads: a job thread that cannot start gives the job back uncounted and backs off", "[worker]") {
  fixture f;
  faults_reset reset;
  auto in = f.input("in.mp4");
  auto out = f.dir / "out";
  auto id = f.submit(in, out);
  std::atomic<int> refused{0};
  spool::detail::faults().start_job = [&] {
    if (refused++ < 2)
      throw std::system_error(std::make_error_code(std::errc::resource_unavailable_try_again), "pthread_create");
  };
  auto summary = run_worker(f.queue, f.options());
  CHECK(refused == 3);
  CHECK(summary.released == 2);
  CHECK(summary.succeeded == 1);
  // Given back twice, never run: the delivery that ran is still the first attempt.
  CHECK(status_of(out).attempt == 1);
  require_package(out, id);
}

TEST_CASE("Worker::ForeignOutput: a directory with someone else's files is dead-lettered and left untouched",
          "[worker]") {
  fixture f;
  auto in = f.input("in.mp4");
  auto foreign = f.dir / "home";
  fs::create_directories(foreign / "photos");
  spool::test::write_text(foreign / "thesis.tex", "\\documentclass{article}\n");
  spool::test::write_text(foreign / "photos" / "cat.jpg", "not really a jpeg");
  // Another job's finished package, status.json and all.
  auto other = f.dir / "other";
  fs::create_directories(other);
  spool::test::write_text(other / "result.json", "{}");
  spool::job_status theirs;
  theirs.job_id = "0000000000000000000000000000beef";
  theirs.state = job_state::succeeded;
  REQUIRE_FALSE(write_status(other, theirs));
  // A status.json that is not spool's.
  auto app = f.dir / "app";
  fs::create_directories(app);
  spool::test::write_text(app / "status.json", "{\"healthy\":true}\n");

  const auto before_foreign = snapshot(foreign), before_other = snapshot(other), before_app = snapshot(app);
  std::set<std::string> ids{f.submit(in, foreign), f.submit(in, other), f.submit(in, app)};
  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.dead == 3);
  CHECK(summary.succeeded == 0);
  CHECK(snapshot(foreign) == before_foreign);
  CHECK(snapshot(other) == before_other);
  CHECK(snapshot(app) == before_app);
  CHECK(f.leftovers().empty());
  auto dead = f.dead();
  REQUIRE(dead.size() == 3);
  for (const auto& d : dead) {
    CHECK(ids.count(d.message_id) == 1);
    auto err = boost::json::parse(d.last_error_json);
    CHECK(err.at("code") == "output_exists");
    CHECK(err.at("category") == "policy");
  }
  // The host still hears of it.
  int dead_events = 0;
  for (const auto& e : f.events->events())
    if (e.state == job_state::dead && e.error == spool::errc::output_exists) ++dead_events;
  CHECK(dead_events == 3);
  CHECK_FALSE(f.events->saw(job_state::running));

  // A directory holding only a status.json of spool's (another job's, or this one's) is a status
  // location, and the job runs.
  auto reused = f.dir / "reused";
  spool::job_status old;
  old.job_id = "0000000000000000000000000000dead";
  old.state = job_state::dead;
  REQUIRE_FALSE(write_status(reused, old));
  auto id = f.submit(in, reused);
  summary = run_worker(f.queue, f.options());
  CHECK(summary.succeeded == 1);
  require_package(reused, id);
}

TEST_CASE("Worker::Shutdowns: a job drained more often than max_attempts is not dead-lettered", "[worker]") {
  fixture f;
  auto in = f.input("long.mp4", 12, 640, 360);
  auto out = f.dir / "out";
  auto id = f.submit(in, out, slow_plan_json);
  auto o = f.options();
  o.retry.max_attempts = 5;
  o.exit_when_idle = false;
  o.drain_grace = 0ms;  // every rolling deploy cuts the encode short
  spool::worker_runtime w(f.queue, o);
  for (int deploy = 1; deploy <= 6; ++deploy) {
    spool::worker_summary s;
    spool::error_code ec = spool::errc::internal;
    std::thread t([&] { ec = w.run(s); });
    CHECK(eventually([&] { return count_state(*f.events, id, job_state::running) == deploy; }));
    w.drain();
    t.join();
    CHECK_FALSE(ec);
    CHECK(s.released == 1);
    CHECK(s.dead == 0);
  }
  for (const auto& e : f.events->events())
    if (e.state == job_state::running) CHECK(e.attempt == 1);  // no release counted
  auto o2 = f.options();
  o2.retry.max_attempts = 5;
  auto summary = run_worker(f.queue, o2);
  CHECK(summary.succeeded == 1);
  CHECK(summary.dead == 0);
  require_package(out, id, "360p");
  // A crash still counts: the same job abandoned max_attempts times (Worker::Crashes) is dead-lettered.
}
