// worker: takes jobs from a queue and encodes them until told to stop.
#include <spool/queue/registry.hpp>
#include <spool/spool.hpp>
#include <spool/worker/worker.hpp>

#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "args.hpp"
#include "report.hpp"

namespace spool::cli {
namespace {

class worker_command final : public command {
 public:
  po::options_description options() override {
    auto& o = options_;
    auto d = option_group("options");
    d.add_options()  //
        ("concurrency", number(o.concurrency)->at_least(1),
         "jobs encoded at once (the most, with --min-concurrency)")  //
        ("min-concurrency", number(o.min_concurrency)->at_least(1)->default_text(""),
         "grow and shrink between this and --concurrency by queue depth")  //
        ("jobs-per-worker", number(o.scaling.jobs_per_worker)->value_name("X")->at_least(0.001),
         "the backlog one job slot may carry, for growing and shrinking")                                //
        ("lease", seconds(o.lease)->at_least(1), "how long a job is leased; renewed every third of it")  //
        ("grace", seconds(o.drain_grace), "what running jobs get to finish when draining")               //
        ("poll", seconds(o.poll_wait), "how long one receive waits for a job")                           //
        ("max-attempts", number(o.retry.max_attempts)->at_least(1),
         "deliveries before a job that keeps failing is dead-lettered")                                   //
        ("retry-base", seconds(o.retry.base), "the first retry's backoff ceiling; it doubles each time")  //
        ("exit-when-idle", flag(o.exit_when_idle), "exit once nothing is visible, delayed or in flight")  //
        ("progress", flag(progress_), "print every status update, not only changes of state")             //
        ("quiet,q", flag(quiet_), "print no job status lines");
    d.add(queue_options(queue_));
    d.add(encoder_options(o.encode_nice, o.encode_idle, o.encoder_threads));
    d.add(input_policy_options(o.policy));
    return d;
  }

  int run(const std::vector<std::string>&) override;

 private:
  std::string queue_;
  spool::worker_options options_;
  bool progress_ = false, quiet_ = false;
};

int worker_command::run(const std::vector<std::string>&) {
  if (options_.min_concurrency > options_.concurrency) throw usage_error("--min-concurrency is above --concurrency");

  // Signals are taken by one thread with sigwait, so every other thread (jobs, encoders) runs with
  // them blocked and the worker sees them as plain events.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto q = spool::queue::open_queue(queue_);
  if (!q) return report_error(q.error());

  auto out_mutex = std::make_shared<std::mutex>();
  auto last_state = std::make_shared<std::map<std::string, spool::job_state>>();
  if (!quiet_)
    options_.on_status = [out_mutex, last_state, progress = progress_](const spool::job_status& s) {
      std::lock_guard lock(*out_mutex);
      auto it = last_state->find(s.job_id);
      bool changed = it == last_state->end() || it->second != s.state;
      if (!changed && !progress) return;
      (*last_state)[s.job_id] = s.state;
      print_json(spool::to_json(s));
    };

  // Shared with the signal thread, which may outlive run().
  auto worker = std::make_shared<spool::worker_runtime>(*q, options_);
  std::thread signals([worker, set] {
    int sig = 0;
    for (int n = 0; sigwait(&set, &sig) == 0; ++n) {
      if (n == 0) {
        fmt::print(stderr, "spool worker: draining (signal {}); a second signal releases running jobs now\n", sig);
        worker->drain();
      } else {
        worker->stop();
      }
    }
  });
  signals.detach();

  spool::worker_summary sum;
  auto ec = worker->run(sum);
  if (!ec) {
    std::lock_guard lock(*out_mutex);
    print_json(boost::json::object{{"summary", spool::to_json(sum)}});
  }
  if (ec == errc::invalid_argument) {
    auto heartbeat = options_.heartbeat.count() > 0 ? options_.heartbeat : options_.lease / 3;
    using secs = std::chrono::duration<double>;
    return report_error(
        ec, fmt::format("the queue cannot grant a {:g} s lease with {:g} s heartbeats (its most: {:g} s)",
                        secs(options_.lease).count(), secs(heartbeat).count(), secs((*q)->caps().max_lease).count()));
  }
  if (ec == errc::out_of_memory) return report_error(ec, "cannot start the worker's heartbeat thread");
  if (ec) return report_error(ec, "the queue cannot be used");
  return ok;
}

constexpr command_entry table[] = {
    {"worker", "", "Takes jobs from the queue and encodes them; prints their status as JSON lines.",
     R"(The worker runs until SIGTERM or SIGINT; then it drains: no new jobs, running ones get --grace
seconds, then are released for another worker; a second signal releases them at once. With
--exit-when-idle it also ends when nothing is visible, delayed or in flight.
It prints each job's status as a JSON line when its state changes (--progress: every update) and a
final {"summary":{"succeeded","already_complete","retried","dead","released","lease_lost","split"}}.
An https:// input is read only from a host named by --allow-https-host (see spool probe --help).
)",
     make_command<worker_command>},
};

}  // namespace

std::span<const command_entry> worker_commands() { return table; }

}  // namespace spool::cli
