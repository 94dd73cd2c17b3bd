// The asynchronous transcoder: completion tokens, the thread the handler runs on, per-operation
// cancellation, the destructor's cancellation, the synchronous cancel flag, and progress reports.
#include <spool/media/transcode.hpp>
#include <spool/transcoder.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;
namespace asio = boost::asio;

namespace {

fs::path short_input(const scratch_dir& dir, double seconds = 2) {
  input_spec spec;
  spec.duration_s = seconds;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  return input;
}

/// Long enough that a cancellation sent at the first progress report lands mid-encode.
fs::path long_input(const scratch_dir& dir) {
  input_spec spec;
  spec.width = 1280;
  spec.height = 720;
  spec.duration_s = 14;
  const fs::path input = dir / "long.mp4";
  make_input(input, spec);
  return input;
}

void check_cancelled(const spool::error_code& ec, const fs::path& out) {
  INFO(describe(ec));
  CHECK(ec == spool::errc::cancelled);
  CHECK(spool::kind_of(ec) == spool::category_kind::cancelled);
  CHECK(ec == spool::condition::cancelled);
  check_failed_cleanly(ec, out);
}

}  // namespace

TEST_CASE("async_transcode with a callback completes on the io_context thread", "[media][async]") {
  scratch_dir dir("async-cb");
  const auto input = short_input(dir);
  const fs::path out = dir / "out";
  asio::io_context ioc;
  spool::transcoder tc(ioc.get_executor());
  const auto io_thread = std::this_thread::get_id();
  std::optional<spool::error_code> got;
  media::transcode_result result;
  std::thread::id handler_thread;
  std::atomic<bool> progress_on_io_thread{false};
  auto options = options_for(small_plan({240}));
  options.on_progress = [&](const media::progress&) {
    if (std::this_thread::get_id() == io_thread) progress_on_io_thread = true;
  };
  bool returned = false;
  tc.async_transcode(input.string(), out, options, [&](spool::error_code ec, media::transcode_result r) {
    CHECK(returned);  // never invoked from within the initiating function
    got = ec;
    result = std::move(r);
    handler_thread = std::this_thread::get_id();
  });
  returned = true;
  ioc.run();
  REQUIRE(got.has_value());
  INFO(describe(*got) << " - " << result.error_detail);
  REQUIRE_FALSE(*got);
  CHECK(handler_thread == io_thread);
  CHECK_FALSE(progress_on_io_thread);  // media work never runs on the host's io_context
  CHECK(result.output == out.string());
  CHECK(fs::is_regular_file(out / "master.m3u8"));
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("async_transcode with use_future", "[media][async]") {
  scratch_dir dir("async-future");
  const auto input = short_input(dir);
  const fs::path out = dir / "out";
  asio::io_context ioc;
  spool::transcoder tc(ioc.get_executor());
  std::future<media::transcode_result> fut =
      tc.async_transcode(input.string(), out, options_for(small_plan({240})), asio::use_future);
  // use_future delivers through its own executor; run the io_context on a second thread anyway
  // so that nothing depends on the caller.
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  media::transcode_result result;
  REQUIRE_NOTHROW(result = fut.get());
  guard.reset();
  runner.join();
  CHECK(result.output == out.string());
  CHECK(fs::is_regular_file(out / "master.m3u8"));
  auto pkg = load_package(out);
  package_expectation expect;
  expect.source_duration = 2;
  expect.fps = 30;
  check_package(pkg, expect);
}

TEST_CASE("async_transcode with use_future reports failures as system_error", "[media][async]") {
  scratch_dir dir("async-future-err");
  const fs::path input = dir / "garbage.mp4";
  write_garbage(input, 4096);
  asio::io_context ioc;
  spool::transcoder tc(ioc.get_executor());
  auto fut = tc.async_transcode(input.string(), dir / "out", options_for(small_plan({240})), asio::use_future);
  auto guard = asio::make_work_guard(ioc);
  std::thread runner([&] { ioc.run(); });
  bool threw = false;
  try {
    fut.get();
  } catch (const boost::system::system_error& e) {
    threw = true;
    INFO(e.what());
    CHECK(spool::kind_of(e.code()) == spool::category_kind::input);
  } catch (const std::system_error& e) {
    threw = true;
    INFO(e.what());
  }
  guard.reset();
  runner.join();
  CHECK(threw);
  CHECK_FALSE(fs::exists(dir / "out"));
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("async_transcode with use_awaitable in a coroutine", "[media][async]") {
  scratch_dir dir("async-coro");
  const auto input = short_input(dir);
  const fs::path out = dir / "out";
  asio::io_context ioc;
  spool::transcoder tc(ioc.get_executor());
  const auto io_thread = std::this_thread::get_id();
  bool done = false;
  std::thread::id resumed_on;
  std::string failure;
  auto options = options_for(small_plan({240}));
  asio::co_spawn(
      ioc,
      [&]() -> asio::awaitable<void> {
        auto r = co_await tc.async_transcode(input.string(), out, options, asio::use_awaitable);
        resumed_on = std::this_thread::get_id();
        if (r.output != out) failure = "unexpected output path " + r.output;
        done = true;
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          failure = ex.what();
        }
      });
  ioc.run();
  INFO(failure);
  CHECK(failure.empty());
  REQUIRE(done);
  CHECK(resumed_on == io_thread);
  CHECK(fs::is_regular_file(out / "master.m3u8"));
}

TEST_CASE("a cancellation signal emitted mid-transcode completes with errc::cancelled and leaves nothing",
          "[media][async][cancel]") {
  scratch_dir dir("async-cancel");
  const auto input = long_input(dir);
  const fs::path out = dir / "out";
  asio::io_context ioc;
  spool::transcoder tc(ioc.get_executor());
  asio::cancellation_signal signal;
  std::atomic<bool> requested{false};
  auto options = options_for(default_plan());
  options.progress_interval = std::chrono::milliseconds(20);
  options.on_progress = [&](const media::progress& p) {
    // From a media thread: hand the cancellation to the io_context, where the signal lives.
    if (p.fraction > 0 && !requested.exchange(true))
      asio::post(ioc, [&] { signal.emit(asio::cancellation_type::terminal); });
  };
  std::optional<spool::error_code> got;
  tc.async_transcode(
      input.string(), out, options,
      asio::bind_cancellation_slot(signal.slot(), [&](spool::error_code ec, media::transcode_result) { got = ec; }));
  ioc.run();
  REQUIRE(got.has_value());
  CHECK(requested);
  check_cancelled(*got, out);
}

TEST_CASE("cancellation from a timer after progress starts", "[media][async][cancel]") {
  scratch_dir dir("async-cancel-timer");
  const auto input = long_input(dir);
  const fs::path out = dir / "out";
  asio::io_context ioc;
  spool::transcoder tc(ioc.get_executor());
  asio::cancellation_signal signal;
  std::atomic<bool> started{false};
  auto options = options_for(default_plan());
  options.progress_interval = std::chrono::milliseconds(20);
  options.on_progress = [&](const media::progress& p) {
    if (p.fraction > 0) started = true;
  };
  std::optional<spool::error_code> got;
  tc.async_transcode(
      input.string(), out, options,
      asio::bind_cancellation_slot(signal.slot(), [&](spool::error_code ec, media::transcode_result) { got = ec; }));
  // Poll on the io_context until the encode is under way, then emit (partial: also honoured).
  asio::steady_timer timer(ioc);
  std::function<void()> poll = [&] {
    if (got) return;
    if (started) {
      signal.emit(asio::cancellation_type::partial);
      return;
    }
    timer.expires_after(std::chrono::milliseconds(10));
    timer.async_wait([&](boost::system::error_code) { poll(); });
  };
  poll();
  ioc.run();
  REQUIRE(got.has_value());
  check_cancelled(*got, out);
}

TEST_CASE("destroying the transcoder cancels running work", "[media][async][cancel]") {
  scratch_dir dir("async-dtor");
  const auto input = long_input(dir);
  const fs::path out = dir / "out";
  asio::io_context ioc;
  std::optional<spool::error_code> got;
  {
    spool::transcoder tc(ioc.get_executor());
    std::promise<void> started;
    std::atomic<bool> once{false};
    auto options = options_for(default_plan());
    options.progress_interval = std::chrono::milliseconds(20);
    options.on_progress = [&](const media::progress& p) {
      if (p.fraction > 0 && !once.exchange(true)) started.set_value();
    };
    tc.async_transcode(input.string(), out, options, [&](spool::error_code ec, media::transcode_result) { got = ec; });
    started.get_future().wait();
  }  // ~transcoder: cancels and joins its pool; the handler is queued on ioc
  ioc.run();
  REQUIRE(got.has_value());
  check_cancelled(*got, out);
}

TEST_CASE("the synchronous cancel flag stops the transcode", "[media][cancel]") {
  scratch_dir dir("sync-cancel");
  const auto input = long_input(dir);
  const fs::path out = dir / "out";
  media::cancel_flag cancel{false};
  auto options = options_for(default_plan());
  options.progress_interval = std::chrono::milliseconds(20);
  options.on_progress = [&](const media::progress& p) {
    if (p.fraction > 0) cancel = true;
  };
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), out, options, result, &cancel);
  check_cancelled(ec, out);
}

TEST_CASE("a cancel flag set before the start cancels at once", "[media][cancel]") {
  scratch_dir dir("sync-precancel");
  const auto input = short_input(dir);
  const fs::path out = dir / "out";
  media::cancel_flag cancel{true};
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), out, options_for(small_plan()), result, &cancel);
  check_cancelled(ec, out);
}

TEST_CASE("progress reports are monotonic and bounded per rendition and end at 1", "[media][progress]") {
  scratch_dir dir("progress");
  input_spec spec;
  spec.width = 640;
  spec.height = 360;
  spec.duration_s = 8;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan({360, 240});
  auto options = options_for(plan);
  options.progress_interval = std::chrono::milliseconds(50);
  std::mutex mutex;
  std::vector<media::progress> reports;
  options.on_progress = [&](const media::progress& p) {
    std::lock_guard lock(mutex);
    reports.push_back(p);
  };
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), dir / "out", options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  REQUIRE_FALSE(reports.empty());
  INFO(reports.size() << " progress reports");
  double last = 0, last_elapsed = 0;
  std::map<std::string, double> last_per;
  for (std::size_t i = 0; i < reports.size(); ++i) {
    const auto& p = reports[i];
    INFO("report " << i << ": fraction " << p.fraction << " elapsed " << p.elapsed_s);
    CHECK(p.fraction >= 0);
    CHECK(p.fraction <= 1);
    CHECK(p.fraction >= last);
    CHECK(p.elapsed_s >= last_elapsed);
    CHECK(p.out_time_s >= 0);
    CHECK(p.out_time_s <= 8 + 0.5);
    last = p.fraction;
    last_elapsed = p.elapsed_s;
    for (const auto& r : p.renditions) {
      INFO("rendition " << r.name << " fraction " << r.fraction);
      CHECK(r.fraction >= 0);
      CHECK(r.fraction <= 1);
      CHECK(r.fraction >= last_per[r.name]);
      last_per[r.name] = r.fraction;
      // The overall fraction is the slowest rendition's.
      CHECK(p.fraction <= r.fraction + 1e-9);
    }
  }
  CHECK(reports.back().fraction == Approx(1).margin(1e-6));
  // Every rendition reported, and finished.
  for (std::string name : {"360p", "240p", "audio"}) {
    INFO("rendition " << name);
    REQUIRE(last_per.count(name) == 1);
    CHECK(last_per[name] == Approx(1).margin(1e-6));
  }
  // Exactly one report at 100%.
  int at_one = 0;
  for (const auto& p : reports)
    if (p.fraction >= 1) ++at_one;
  CHECK(at_one == 1);
}
