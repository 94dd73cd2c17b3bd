// Submitting in one process, working in another: the two halves meet only in a durable file://
// queue, so the submitting side (a web backend) and the working side (a `spool worker`-like
// process, here the blocking worker_runtime without Asio) start, stop and crash independently.
//
//   submit_and_work submit QUEUE_DB INPUT OUTDIR   queues the job; prints its id and returns at once
//   submit_and_work work QUEUE_DB                  works until the queue is empty; Ctrl-C drains
//
// Submitting the same OUTDIR twice queues nothing new (the idempotency key), and the submit half uses
// only spool::core: a host that never encodes need not link FFmpeg.
#include <spool/spool.hpp>

#include <pthread.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>

namespace {

std::string absolute(const char* p) { return std::filesystem::absolute(p).lexically_normal().string(); }

int submit(const std::string& queue_uri, const char* input, const char* output) {
  auto q = spool::queue::open_queue(queue_uri);
  if (!q) {
    std::fprintf(stderr, "cannot open the queue: %s\n", q.error().what().c_str());
    return 1;
  }
  spool::job_spec job;
  job.input = absolute(input);
  job.output = absolute(output);
  job.idempotency_key = "output:" + job.output;
  auto submitted = spool::queue::submit(**q, job);
  if (!submitted) {
    std::fprintf(stderr, "submit failed: %s\n", submitted.error().what().c_str());
    return 1;
  }
  std::printf("%s %s\n", submitted->job_id.c_str(), submitted->duplicate ? "already queued" : "queued");
  return 0;
}

int work(const std::string& queue_uri) {
  // Signals go to one thread that waits for them; every thread started after this has them blocked.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto q = spool::queue::open_queue(queue_uri);
  if (!q) {
    std::fprintf(stderr, "cannot open the queue: %s\n", q.error().what().c_str());
    return 1;
  }
  spool::worker_options options;
  options.exit_when_idle = true;
  options.on_status = [](const spool::job_status& s) {  // a worker thread: print and return
    std::fprintf(stderr, "[work] %s %s %.0f%%\n", s.job_id.substr(0, 8).c_str(),
                 std::string(to_string(s.state)).c_str(), s.progress * 100);
  };
  spool::worker_runtime worker(*q, options);

  std::stop_source drain;
  std::thread waiter([&drain, set] {
    int sig = 0;
    if (sigwait(&set, &sig) == 0) drain.request_stop();
  });

  spool::worker_summary summary;
  auto ec = worker.run(summary, drain.get_token());  // blocks until idle or drained
  // Wake the waiter so it can be joined: it is the only thread that takes SIGTERM.
  if (!drain.stop_requested()) pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  if (ec) {
    std::fprintf(stderr, "worker failed: %s\n", ec.message().c_str());
    return 1;
  }
  std::printf("%s\n", spool::to_json_text(boost::json::object{{"summary", spool::to_json(summary)}}).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view mode = argc > 1 ? argv[1] : "";
  if (mode == "submit" && argc == 5) return submit("file://" + absolute(argv[2]), argv[3], argv[4]);
  if (mode == "work" && argc == 3) {
    spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::error);
    return work("file://" + absolute(argv[2]));
  }
  std::fprintf(stderr, "usage: %s submit QUEUE_DB INPUT OUTDIR\n       %s work QUEUE_DB\n", argv[0], argv[0]);
  return 2;
}
