#include <spool/queue/job_queue.hpp>
#include <spool/queue/registry.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace q = spool::queue;
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

std::shared_ptr<q::queue_adapter> fresh_memory_queue() {
  static std::atomic<int> n{0};
  return q::make_memory_queue("job-queue-test-" + std::to_string(n++));
}

spool::job_spec lecture(const std::string& key = "") {
  spool::job_spec j;
  j.input = "/srv/uploads/lecture.mp4";
  j.output = "/srv/packages/lecture";
  j.idempotency_key = key;
  return j;
}

}  // namespace

TEST_CASE("Queue::JobQueue::Lifecycle: submit, receive and ack with callbacks on the io_context thread", "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  const auto io_thread = std::this_thread::get_id();
  std::string id;
  std::vector<q::delivery> got;
  spool::error_code ack_ec = spool::errc::internal;
  bool on_io_thread = true;
  jobs.async_submit(lecture(), [&](spool::error_code ec, std::string job_id) {
    REQUIRE_FALSE(ec);
    on_io_thread = on_io_thread && std::this_thread::get_id() == io_thread;
    id = job_id;
    jobs.async_receive(q::receive_options{}, [&](spool::error_code ec2, std::vector<q::delivery> d) {
      REQUIRE_FALSE(ec2);
      on_io_thread = on_io_thread && std::this_thread::get_id() == io_thread;
      got = d;
      REQUIRE(got.size() == 1);
      jobs.async_ack(got[0], [&](spool::error_code ec3) { ack_ec = ec3; });
    });
  });
  io.run();
  CHECK_FALSE(id.empty());
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == id);
  auto body = spool::parse_job_spec(got[0].body);
  REQUIRE(body.has_value());
  CHECK(body->input == "/srv/uploads/lecture.mp4");
  CHECK_FALSE(ack_ec);
  CHECK(on_io_thread);
  q::queue_stats s;
  REQUIRE_FALSE(jobs.adapter().stats(s));
  CHECK(s.visible + s.in_flight + s.delayed == 0);
}

TEST_CASE("Queue::JobQueue::Idempotency: the same key returns the first job's id and queues nothing", "[job_queue]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  auto a = jobs.async_submit(lecture("upload-1"), asio::use_future).get();
  auto b = jobs.async_submit(lecture("upload-1"), asio::use_future).get();
  auto c = jobs.async_submit(lecture("upload-2"), asio::use_future).get();
  CHECK(a == b);
  CHECK(a != c);
  q::queue_stats s;
  REQUIRE_FALSE(jobs.adapter().stats(s));
  CHECK(s.visible == 2);
  guard.reset();
  runner.join();
}

TEST_CASE("Queue::JobQueue::InvalidJob: a job with a bad plan is refused before it is queued", "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  auto job = lecture();
  job.plan.packaging.segment_s = 5;  // not a multiple of the 2 s GOP
  spool::error_code got;
  jobs.async_submit(job, [&](spool::error_code ec, std::string) { got = ec; });
  io.run();
  CHECK(got == spool::errc::invalid_spec);
  q::queue_stats s;
  REQUIRE_FALSE(jobs.adapter().stats(s));
  CHECK(s.visible == 0);
}

TEST_CASE("Queue::JobQueue::SubmitBatch: one id per job in order, keys deduplicated within the batch", "[job_queue]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  auto first = jobs.async_submit(lecture("upload-1"), asio::use_future).get();
  auto ids = jobs.async_submit_batch({lecture("upload-1"), lecture("upload-2"), lecture(), lecture("upload-2")},
                                     asio::use_future)
                 .get();
  REQUIRE(ids.size() == 4);
  CHECK(ids[0] == first);
  CHECK(ids[1] != first);
  CHECK(ids[2] != first);
  CHECK(ids[2] != ids[1]);
  CHECK(ids[3] == ids[1]);
  q::queue_stats s;
  REQUIRE_FALSE(jobs.adapter().stats(s));
  CHECK(s.visible == 3);
  auto got = jobs.async_receive(q::receive_options{10, 0ms, 60s}, asio::use_future).get();
  REQUIRE(got.size() == 3);
  for (const auto& d : got) {
    auto body = spool::parse_job_spec(d.body);
    REQUIRE(body.has_value());
    CHECK(body->input == "/srv/uploads/lecture.mp4");
    CHECK(std::find(ids.begin(), ids.end(), d.message_id) != ids.end());
  }
  CHECK(jobs.async_submit_batch({}, asio::use_future).get().empty());
  guard.reset();
  runner.join();
}

TEST_CASE("Queue::JobQueue::SubmitBatchInvalid: one bad job fails the batch and nothing is queued", "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  auto bad = lecture("upload-3");
  bad.plan.packaging.segment_s = 5;
  spool::error_code got;
  std::size_t n = 99;
  jobs.async_submit_batch({lecture("upload-1"), lecture(), bad},
                          [&](spool::error_code ec, std::vector<std::string> ids) {
                            got = ec;
                            n = ids.size();
                          });
  io.run();
  CHECK(got == spool::errc::invalid_spec);
  CHECK(n == 0);
  q::queue_stats s;
  REQUIRE_FALSE(jobs.adapter().stats(s));
  CHECK(s.visible == 0);
}

TEST_CASE("Queue::JobQueue::CancelReceive: a cancelled long poll ends promptly with operation_aborted", "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  asio::cancellation_signal signal;
  asio::steady_timer timer(io, 100ms);
  timer.async_wait([&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
  q::receive_options o;
  o.wait = 30s;
  spool::error_code got;
  std::size_t n = 99;
  auto t0 = std::chrono::steady_clock::now();
  jobs.async_receive(o, asio::bind_cancellation_slot(signal.slot(), [&](spool::error_code ec, std::vector<q::delivery> d) {
                       got = ec;
                       n = d.size();
                     }));
  io.run();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(got == asio::error::operation_aborted);
  CHECK(spool::kind_of(got) == spool::category_kind::cancelled);
  CHECK(n == 0);
  CHECK(took < 5s);
}

TEST_CASE("Queue::JobQueue::Coroutine: extend and nack from a coroutine", "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await jobs.async_submit(lecture(), asio::use_awaitable);
        q::receive_options o;
        o.lease = 200ms;
        auto d = co_await jobs.async_receive(o, asio::use_awaitable);
        REQUIRE(d.size() == 1);
        auto until = co_await jobs.async_extend(d[0], 60s, asio::use_awaitable);
        CHECK(until > q::clock::now() + 50s);
        co_await jobs.async_nack(d[0], 0ms, asio::use_awaitable);
        auto again = co_await jobs.async_receive(q::receive_options{}, asio::use_awaitable);
        REQUIRE(again.size() == 1);
        CHECK(again[0].receive_count == 2);
        // The first delivery is stale now: acking it must fail, the current one succeeds.
        bool stale_failed = false;
        try {
          co_await jobs.async_ack(d[0], asio::use_awaitable);
        } catch (const boost::system::system_error& e) {
          stale_failed = e.code() == spool::errc::lease_lost;
        }
        CHECK(stale_failed);
        co_await jobs.async_ack(again[0], asio::use_awaitable);
        done = true;
      },
      asio::detached);
  io.run();
  CHECK(done);
}

TEST_CASE("Queue::JobQueue::Shutdown: destroying the queue ends a waiting receive", "[job_queue]") {
  asio::io_context io;
  auto guard = asio::make_work_guard(io);
  std::thread runner([&] { io.run(); });
  std::future<std::vector<q::delivery>> pending;
  auto t0 = std::chrono::steady_clock::now();
  {
    q::job_queue jobs(io.get_executor(), fresh_memory_queue());
    q::receive_options o;
    o.wait = 30s;
    pending = jobs.async_receive(o, asio::use_future);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  bool aborted = false;
  try {
    pending.get();
  } catch (const boost::system::system_error& e) {
    aborted = e.code() == asio::error::operation_aborted;
  }
  CHECK(aborted);
  guard.reset();
  runner.join();
}
