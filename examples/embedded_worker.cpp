// The pattern spool exists for, in one process: a host acknowledges an upload by queueing a job on a
// durable file:// queue and returns at once; a worker embedded in the same process takes the job,
// transcodes it at lower CPU priority, publishes the package and acknowledges it. Everything runs on
// one io_context thread; the transcode itself runs on threads spool owns.
//
// Kill it mid-transcode and run it again: the submit finds the same idempotency key and queues
// nothing new, the first job is still on the queue (its lease expires within a minute and it is
// delivered again), and the half-written package was never visible.
//
// Usage: embedded_worker INPUT OUTDIR QUEUE_DB
#include <spool/spool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <string>

namespace asio = boost::asio;

namespace {

// on_status runs on a worker thread: print and return.
void print_status(const spool::job_status& s) {
  if (s.state == spool::job_state::running)
    std::fprintf(stderr, "\r[worker] %s running  %5.1f%%  eta %s ", s.job_id.substr(0, 8).c_str(), s.progress * 100,
                 s.eta_s < 0 ? "?" : (std::to_string(static_cast<int>(s.eta_s)) + "s").c_str());
  else
    std::fprintf(stderr, "\n[worker] %s %s%s%s\n", s.job_id.substr(0, 8).c_str(),
                 std::string(to_string(s.state)).c_str(), s.error ? ": " : "", s.error ? s.error_message.c_str() : "");
}

asio::awaitable<int> host(std::string input, std::string output, std::string queue_db) {
  auto ex = co_await asio::this_coro::executor;
  auto opened = spool::queue::open_queue("file://" + queue_db);
  if (!opened) {
    std::fprintf(stderr, "cannot open the queue: %s\n", opened.error().what().c_str());
    co_return 1;
  }
  std::shared_ptr<spool::queue::queue_adapter> adapter = *opened;

  // The web request: queue the job and answer at once.
  spool::queue::job_queue jobs(ex, adapter);
  spool::job_spec job;
  job.input = input;
  job.output = output;
  job.idempotency_key = "upload:" + std::filesystem::path(input).filename().string();
  job.metadata = boost::json::object{{"course", "demo-101"}};
  auto [sec, submitted] = co_await jobs.async_submit(job, asio::as_tuple(asio::use_awaitable));
  if (sec) {
    std::fprintf(stderr, "submit failed: %s\n", submitted.message.c_str());
    co_return 1;
  }
  std::printf("[host]   upload accepted, job %s %s\n", submitted.job_id.c_str(),
              submitted.duplicate ? "was queued before" : "queued");
  std::fflush(stdout);

  // The embedded worker: until the queue is empty, or Ctrl-C (which drains).
  spool::worker_options options;
  options.exit_when_idle = true;
  options.on_status = print_status;
  spool::worker worker(ex, adapter, options);
  asio::signal_set signals(ex, SIGINT, SIGTERM);
  signals.async_wait([&worker](auto ec, int) {
    if (!ec) worker.drain();
  });
  auto [wec, summary] = co_await worker.async_run(asio::as_tuple(asio::use_awaitable));
  signals.cancel();
  if (wec) {
    std::fprintf(stderr, "worker failed: %s\n", wec.message().c_str());
    co_return 1;
  }

  auto found = spool::read_status(output);
  if (!found.has_value() || !*found) {
    std::fprintf(stderr, "no status: %s\n", found.has_value() ? "none written" : found.error().what().c_str());
    co_return 1;
  }
  const spool::job_status& status = **found;
  std::printf("[host]   job %s is %s (attempt %d); worker: %lld done, %lld already complete, %lld dead\n",
              status.job_id.c_str(), std::string(to_string(status.state)).c_str(), status.attempt,
              static_cast<long long>(summary.succeeded), static_cast<long long>(summary.already_complete),
              static_cast<long long>(summary.dead));
  co_return status.state == spool::job_state::succeeded ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s INPUT OUTDIR QUEUE_DB\n", argv[0]);
    return 2;
  }
  auto absolute = [](const char* p) { return std::filesystem::absolute(p).lexically_normal().string(); };
  spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::error);  // encoder statistics are noise here
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, host(absolute(argv[1]), absolute(argv[2]), absolute(argv[3])),
                 [&status](const std::exception_ptr& e, int s) {
                   if (e) std::rethrow_exception(e);
                   status = s;
                 });
  io.run();
  return status;
}
