// basic_job_queue: every operation through every kind of completion token, its completion
// messages, its cancellation code, and an executor the host supplies.
#include <spool/queue/job_queue.hpp>
#include <spool/queue/registry.hpp>
#include <spool/test/faulty_queue.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "queue_helpers.hpp"

namespace q = spool::queue;
namespace asio = boost::asio;
using namespace std::chrono_literals;
using spool::errc;
using spool::test::queue_op;

namespace {

std::shared_ptr<q::queue_adapter> fresh_memory_queue() {
  return q::make_memory_queue(queue_test::unique("job-queue-test"));
}

spool::job_spec lecture(const std::string& key = "") {
  spool::job_spec j;
  j.input = "/srv/uploads/lecture.mp4";
  j.output = "/srv/packages/lecture";
  j.idempotency_key = key;
  return j;
}

// An io_context run on a thread of its own, for use_future.
struct running_io {
  asio::io_context io;
  asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
  std::thread runner{[this] { io.run(); }};
  ~running_io() {
    guard.reset();
    runner.join();
  }
};

}  // namespace

TEST_CASE("Queue::JobQueue::Lifecycle: submit, receive and ack with callbacks on the io_context thread",
          "[job_queue]") {
  asio::io_context io;
  auto backend = fresh_memory_queue();
  q::job_queue jobs(io.get_executor(), backend);
  const auto io_thread = std::this_thread::get_id();
  q::submitted sub;
  std::vector<q::delivery> got;
  spool::error_code ack_ec = errc::internal;
  bool on_io_thread = true;
  jobs.async_submit(lecture(), [&](spool::error_code ec, q::submitted s) {
    REQUIRE_FALSE(ec);
    on_io_thread = on_io_thread && std::this_thread::get_id() == io_thread;
    sub = s;
    jobs.async_receive(q::receive_options{}, [&](spool::error_code ec2, q::received r) {
      REQUIRE_FALSE(ec2);
      on_io_thread = on_io_thread && std::this_thread::get_id() == io_thread;
      got = r.deliveries;
      REQUIRE(got.size() == 1);
      jobs.async_ack(got[0], [&](spool::error_code ec3, q::done) { ack_ec = ec3; });
    });
  });
  io.run();
  CHECK_FALSE(sub.job_id.empty());
  CHECK_FALSE(sub.duplicate);
  CHECK(sub.message.empty());
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == sub.job_id);
  auto body = spool::parse_job_spec(got[0].body);
  REQUIRE(body.has_value());
  CHECK(body->input == "/srv/uploads/lecture.mp4");
  CHECK(body->job_id.empty());  // the queue names the job
  CHECK_FALSE(ack_ec);
  CHECK(on_io_thread);
  auto s = queue_test::stats(*backend);
  CHECK(s.visible + s.in_flight + s.delayed == 0);
}

TEST_CASE("Queue::JobQueue::Idempotency: the same key returns the first job's id and queues nothing", "[job_queue]") {
  running_io r;
  q::job_queue jobs(r.io.get_executor(), fresh_memory_queue());
  auto a = jobs.async_submit(lecture("upload-1"), asio::use_future).get();
  auto b = jobs.async_submit(lecture("upload-1"), asio::use_future).get();
  auto c = jobs.async_submit(lecture("upload-2"), asio::use_future).get();
  CHECK(a.job_id == b.job_id);
  CHECK_FALSE(a.duplicate);
  CHECK(b.duplicate);
  CHECK(a.job_id != c.job_id);
  CHECK(jobs.async_stats(asio::use_future).get().stats.visible == 2);
}

TEST_CASE("Queue::JobQueue::InvalidJob: a job a worker would refuse is refused, with the reason, before it is queued",
          "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  auto job = lecture();
  job.plan.packaging.segment_s = 5;  // not a multiple of the 2 s GOP
  spool::error_code got;
  q::submitted s;
  jobs.async_submit(job, [&](spool::error_code ec, q::submitted r) {
    got = ec;
    s = r;
  });
  auto no_input = lecture();
  no_input.input.clear();
  spool::error_code got2;
  std::string why2;
  jobs.async_submit(no_input, [&](spool::error_code ec, q::submitted r) {
    got2 = ec;
    why2 = r.message;
  });
  q::counted c;
  jobs.async_stats([&](spool::error_code, q::counted r) { c = r; });
  io.run();
  CHECK(got == errc::invalid_spec);
  CHECK(s.job_id.empty());
  CHECK(s.message.find("multiple") != std::string::npos);
  CHECK(got2 == errc::invalid_spec);
  CHECK(why2.find("input") != std::string::npos);
  CHECK(c.stats.visible == 0);
}

TEST_CASE("Queue::JobQueue::SubmitBatch: one entry per job in order, keys deduplicated within the batch",
          "[job_queue]") {
  running_io r;
  q::job_queue jobs(r.io.get_executor(), fresh_memory_queue());
  auto first = jobs.async_submit(lecture("upload-1"), asio::use_future).get();
  auto out = jobs.async_submit_batch({lecture("upload-1"), lecture("upload-2"), lecture(), lecture("upload-2")},
                                     asio::use_future)
                 .get();
  REQUIRE(out.size() == 4);
  CHECK(out[0].job_id == first.job_id);
  CHECK(out[0].duplicate);
  CHECK(out[1].job_id != first.job_id);
  CHECK(out[2].job_id != first.job_id);
  CHECK(out[2].job_id != out[1].job_id);
  CHECK(out[3].job_id == out[1].job_id);
  CHECK(out[3].duplicate);
  CHECK(jobs.async_stats(asio::use_future).get().stats.visible == 3);
  auto got = jobs.async_receive(q::receive_options{10, 0ms, 60s}, asio::use_future).get().deliveries;
  REQUIRE(got.size() == 3);
  for (const auto& d : got) {
    auto body = spool::parse_job_spec(d.body);
    REQUIRE(body.has_value());
    CHECK(body->input == "/srv/uploads/lecture.mp4");
    CHECK(std::any_of(out.begin(), out.end(), [&](const q::submitted& s) { return s.job_id == d.message_id; }));
  }
  CHECK(jobs.async_submit_batch({}, asio::use_future).get().empty());
}

TEST_CASE("Queue::JobQueue::SubmitBatchInvalid: one bad job fails the batch, says which, and nothing is queued",
          "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  auto bad = lecture("upload-3");
  bad.plan.packaging.segment_s = 5;
  spool::error_code got;
  std::vector<q::submitted> out;
  jobs.async_submit_batch({lecture("upload-1"), lecture(), bad},
                          [&](spool::error_code ec, std::vector<q::submitted> r) {
                            got = ec;
                            out = r;
                          });
  io.run();
  CHECK(got == errc::invalid_spec);
  REQUIRE(out.size() == 3);
  for (const auto& s : out) CHECK(s.job_id.empty());
  CHECK(out[2].message.find("job 3 of 3") != std::string::npos);
  CHECK(out[2].message.find("multiple") != std::string::npos);
  CHECK(out[0].message.find("job 3 of 3 is invalid") != std::string::npos);
}

TEST_CASE("Queue::JobQueue::CancelReceive: a cancelled long poll ends promptly with errc::cancelled", "[job_queue]") {
  asio::io_context io;
  q::job_queue jobs(io.get_executor(), fresh_memory_queue());
  asio::cancellation_signal signal;
  asio::steady_timer timer(io, 100ms);
  timer.async_wait([&](boost::system::error_code) { signal.emit(asio::cancellation_type::terminal); });
  q::receive_options o;
  o.wait = 30s;
  spool::error_code got;
  q::received r{{q::delivery{}}, {}};
  auto t0 = std::chrono::steady_clock::now();
  jobs.async_receive(o, asio::bind_cancellation_slot(signal.slot(), [&](spool::error_code ec, q::received x) {
                       got = ec;
                       r = x;
                     }));
  io.run();
  auto took = std::chrono::steady_clock::now() - t0;
  CHECK(got == errc::cancelled);
  CHECK(got == spool::condition::cancelled);
  CHECK(r.deliveries.empty());
  CHECK_FALSE(r.message.empty());
  CHECK(took < 5s);
}

TEST_CASE("Queue::JobQueue::Coroutine: extend, nack and the optional operations from a coroutine", "[job_queue]") {
  asio::io_context io;
  auto backend = fresh_memory_queue();
  q::job_queue jobs(io.get_executor(), backend);
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        auto sub = co_await jobs.async_submit(lecture(), asio::use_awaitable);
        q::receive_options o;
        o.lease = 200ms;
        auto d = (co_await jobs.async_receive(o, asio::use_awaitable)).deliveries;
        REQUIRE(d.size() == 1);
        auto until = co_await jobs.async_extend(d[0], 60s, asio::use_awaitable);
        CHECK(until.expires_at > q::clock::now() + 50s);
        co_await jobs.async_nack(d[0], 0ms, asio::use_awaitable);
        auto again = (co_await jobs.async_receive(q::receive_options{}, asio::use_awaitable)).deliveries;
        REQUIRE(again.size() == 1);
        CHECK(again[0].receive_count == 2);
        // The first delivery is stale now: acking it fails (as_tuple: the code and its message).
        auto [stale, why] = co_await jobs.async_ack(d[0], asio::as_tuple(asio::use_awaitable));
        CHECK(stale == errc::lease_lost);
        CHECK(why.message.find(d[0].message_id) != std::string::npos);
        // Released: visible at once, not counted (mem:// can uncount).
        co_await jobs.async_release(again[0], asio::use_awaitable);
        auto third = (co_await jobs.async_receive(q::receive_options{}, asio::use_awaitable)).deliveries;
        REQUIRE(third.size() == 1);
        CHECK(third[0].receive_count == 2);
        // Dead-lettered, listed a page at a time, redriven.
        co_await jobs.async_dead_letter(third[0], "gave up", "", asio::use_awaitable);
        auto counted = co_await jobs.async_stats(asio::use_awaitable);
        CHECK(counted.stats.dead == 1);
        auto listed = co_await jobs.async_list_dead("", 10, asio::use_awaitable);
        REQUIRE(listed.page.records.size() == 1);
        CHECK(listed.page.records[0].message_id == sub.job_id);
        CHECK(listed.page.records[0].reason == "gave up");
        CHECK(listed.page.next.empty());
        auto moved = co_await jobs.async_redrive(sub.job_id, asio::use_awaitable);
        CHECK(moved.moved == 1);
        auto last = (co_await jobs.async_receive(q::receive_options{}, asio::use_awaitable)).deliveries;
        REQUIRE(last.size() == 1);
        CHECK(last[0].receive_count == 1);
        co_await jobs.async_ack(last[0], asio::use_awaitable);
        done = true;
      },
      asio::detached);
  io.run();
  CHECK(done);
  auto s = queue_test::stats(*backend);
  CHECK(s.visible + s.in_flight + s.delayed + s.dead == 0);
}

TEST_CASE("Queue::JobQueue::Shutdown: destroying the queue ends a waiting receive with errc::cancelled",
          "[job_queue]") {
  running_io r;
  std::future<q::received> pending;
  auto t0 = std::chrono::steady_clock::now();
  {
    q::job_queue jobs(r.io.get_executor(), fresh_memory_queue());
    q::receive_options o;
    o.wait = 30s;
    pending = jobs.async_receive(o, asio::use_future);
    std::this_thread::sleep_for(50ms);
  }
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
  spool::error_code got;
  try {
    pending.get();
  } catch (const boost::system::system_error& e) {
    got = e.code();
  }
  CHECK(got == errc::cancelled);
}

namespace {

// Runs one operation to completion on `io` and gives what it completed with.
template <class R, class Op>
std::pair<spool::error_code, R> complete(asio::io_context& io, Op op) {
  std::pair<spool::error_code, R> out;
  op([&](spool::error_code ec, R r) { out = {ec, std::move(r)}; });
  io.restart();
  io.run();
  return out;
}

}  // namespace

TEST_CASE("Queue::JobQueue::BackendErrors: a backend's failure reaches the handler with its code and message",
          "[job_queue]") {
  asio::io_context io;
  auto faulty = std::make_shared<spool::test::faulty_queue>(fresh_memory_queue());
  q::job_queue jobs(io.get_executor(), faulty);
  faulty->fail_nth(queue_op::send, 1, {errc::no_space, "the disk under the queue is full"});
  auto [ec, s] = complete<q::submitted>(io, [&](auto h) { jobs.async_submit(lecture(), h); });
  CHECK(ec == errc::no_space);
  CHECK(s.job_id.empty());
  CHECK(s.message == "the disk under the queue is full");
  // The next call goes through.
  auto [ok_ec, ok] = complete<q::submitted>(io, [&](auto h) { jobs.async_submit(lecture(), h); });
  CHECK_FALSE(ok_ec);
  CHECK_FALSE(ok.job_id.empty());
  CHECK(faulty->calls(queue_op::send) == 2);

  // Without the optional operations: feature_unsupported, naming what is missing.
  faulty->withdraw(queue_op::stats);
  faulty->withdraw(queue_op::dead_letter);
  auto [sec, counted] = complete<q::counted>(io, [&](auto h) { jobs.async_stats(h); });
  CHECK(sec == errc::feature_unsupported);
  CHECK(counted.message.find("stats") != std::string::npos);
  auto [lec, listed] = complete<q::listed>(io, [&](auto h) { jobs.async_list_dead("", 10, h); });
  CHECK(lec == errc::feature_unsupported);
  CHECK(listed.message.find("dead-letter store") != std::string::npos);
  CHECK_FALSE(jobs.caps().stats);
}

namespace {

// Notes which threads the backend was called on.
class thread_recorder : public spool::test::queue_wrapper {
 public:
  using queue_wrapper::queue_wrapper;
  spool::result<q::send_result> send(const q::outgoing_message& m) override {
    note();
    return queue_wrapper::send(m);
  }
  spool::result<std::vector<q::delivery>> receive(const q::receive_options& o, const std::atomic<bool>* c) override {
    note();
    return queue_wrapper::receive(o, c);
  }
  spool::error ack(const q::delivery& d) override {
    note();
    return queue_wrapper::ack(d);
  }
  std::set<std::thread::id> threads() {
    std::lock_guard lock(mutex_);
    return threads_;
  }

 private:
  void note() {
    std::lock_guard lock(mutex_);
    threads_.insert(std::this_thread::get_id());
  }
  std::mutex mutex_;
  std::set<std::thread::id> threads_;
};

}  // namespace

TEST_CASE("Queue::JobQueue::HostExecutor: the backend's calls run on the executor the host supplies", "[job_queue]") {
  running_io r;
  asio::thread_pool blocking(1);
  const auto pool_thread = asio::post(blocking, asio::use_future([] { return std::this_thread::get_id(); })).get();
  auto recorder = std::make_shared<thread_recorder>(fresh_memory_queue());
  {
    q::job_queue jobs(r.io.get_executor(), recorder, blocking.get_executor());
    jobs.async_submit(lecture(), asio::use_future).get();
    auto got = jobs.async_receive(q::receive_options{}, asio::use_future).get();
    REQUIRE(got.deliveries.size() == 1);
    jobs.async_ack(got.deliveries[0], asio::use_future).get();
  }
  CHECK(recorder->threads() == std::set<std::thread::id>{pool_thread});
  blocking.join();
}
