// A host that reads the worker's progress events and passes them on: here as JSON lines on stdout,
// the shape a log shipper, a server-sent-events endpoint or a websocket would forward.
//
// on_status runs on the worker's threads, several at once with concurrency > 1. The host does not
// touch its own state there: it posts each event to a strand of its io_context, where the latest
// status per job is kept and a line goes out only when something a reader cares about changed (a
// state, or a whole percent of progress). Every job ends with one line in its final state.
//
// Usage: progress_events OUTROOT INPUT...   (each INPUT's package goes to OUTROOT/<n>)
#include <spool/spool.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

namespace asio = boost::asio;

namespace {

// What the host last published for one job.
struct published {
  spool::job_state state;
  int percent;
};

class progress_feed {
 public:
  explicit progress_feed(asio::any_io_executor ex) : strand_(asio::make_strand(ex)) {}

  // Called on a worker thread: copy the event and hop to the host's strand.
  void on_status(const spool::job_status& s) {
    asio::post(strand_, [this, s] { publish(s); });
  }
  // After the run: queued behind every event posted before it, so the summary is the last line.
  void finish(const spool::worker_summary& summary) {
    asio::post(strand_, [summary] {
      std::printf("%s\n", spool::to_json_text(boost::json::object{{"summary", spool::to_json(summary)}}).c_str());
    });
  }

 private:
  void publish(const spool::job_status& s) {
    const int percent = static_cast<int>(std::floor(s.progress * 100));
    auto it = last_.find(s.job_id);
    if (it != last_.end() && it->second.state == s.state && it->second.percent == percent) return;
    last_[s.job_id] = {s.state, percent};
    std::printf("%s\n", spool::to_json_text(spool::to_json(s)).c_str());
    std::fflush(stdout);
  }

  asio::strand<asio::any_io_executor> strand_;
  std::map<std::string, published> last_;  // touched on the strand only
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUTROOT INPUT...\n", argv[0]);
    return 2;
  }
  spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::error);
  const auto root = std::filesystem::absolute(argv[1]).lexically_normal();

  // mem://: the queue lives in this process, which is enough for a host that submits and works.
  auto q = spool::queue::open_queue("mem://progress-events");
  if (!q) {
    std::fprintf(stderr, "cannot open the queue: %s\n", q.error().what().c_str());
    return 1;
  }
  for (int i = 2; i < argc; ++i) {
    spool::job_spec job;
    job.input = std::filesystem::absolute(argv[i]).lexically_normal().string();
    job.output = (root / std::to_string(i - 1)).string();
    if (auto submitted = spool::queue::submit(**q, job); !submitted) {
      std::fprintf(stderr, "submit failed: %s\n", submitted.error().what().c_str());
      return 1;
    }
  }

  asio::io_context io;
  progress_feed feed(io.get_executor());
  spool::worker_options options;
  options.concurrency = 2;
  options.exit_when_idle = true;
  options.status_interval = std::chrono::milliseconds(200);
  options.on_status = [&feed](const spool::job_status& s) { feed.on_status(s); };
  spool::worker worker(io.get_executor(), *q, options);

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&worker](boost::system::error_code ec, int) {
    if (!ec) worker.drain();
  });
  int exit_code = 1;
  worker.async_run([&](spool::error_code ec, spool::worker_summary summary) {
    signals.cancel();
    if (ec) {
      std::fprintf(stderr, "worker failed: %s\n", ec.message().c_str());
      return;
    }
    feed.finish(summary);
    exit_code = summary.dead == 0 && summary.retried == 0 ? 0 : 1;
  });
  io.run();
  return exit_code;
}
