#pragma once
// The worker: the one place that composes queue and media. For each job:
//
//   receive (leased) -> status "running" -> heartbeat keeps the lease -> transcode -> publish -> ack
//
// - The lease is short (60 s by default) and extended every lease/3 while the job runs, so a crashed
//   worker's job is visible again within a minute and a healthy one keeps a multi-hour encode.
//   When the lease is lost (the extension is refused, or cannot be made before expiry) the transcode
//   is cancelled: another delivery owns the job now.
// - A failure goes through queue::decide(): input/policy/unsupported errors dead-letter at once,
//   others retry after a jittered backoff until retry.max_attempts deliveries, a cancelled job is
//   released at once.
// - A job whose output already holds its finished package (status.json says succeeded for this
//   job id, and result.json is there) is acknowledged without encoding again: this is what makes a
//   crash between publish and ack harmless.
// - status.json in the output directory follows every state change and, throttled, the progress;
//   the final one is published inside the package, so a package and its "succeeded" appear at once.
//   on_status receives the same record.
// - drain(): stop receiving; running jobs get drain_grace to finish, then are cancelled and their
//   leases released at once (visible again, not waiting out the lease). stop() is drain without grace.
#include <spool/job.hpp>
#include <spool/media/policy.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/queue/retry.hpp>
#include <spool/queue/scaling.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <utility>

namespace spool {

struct worker_options {
  /// Jobs transcoded at once; the most when min_concurrency is set below it.
  int concurrency = 1;
  /// Below `concurrency`: the worker grows and shrinks between the two by queue depth, as
  /// queue::recommended_workers(stats, scaling) says. -1: always `concurrency`.
  int min_concurrency = -1;
  queue::scaling_policy scaling;
  std::chrono::milliseconds lease{60'000};
  /// How often a running job's lease is extended; 0 = lease / 3.
  std::chrono::milliseconds heartbeat{0};
  /// Long-poll wait of one receive.
  std::chrono::milliseconds poll_wait{2'000};
  /// What drain() gives running jobs before it cancels them.
  std::chrono::milliseconds drain_grace{30'000};
  /// run() returns once nothing is visible, delayed or in flight and no job is running.
  bool exit_when_idle = false;
  queue::retry_policy retry;
  media::input_policy policy;
  int encode_nice = 10;
  int encoder_threads = 0;
  /// Progress updates of status.json and on_status are at most this frequent.
  std::chrono::milliseconds status_interval{1'000};
  /// Every status change, from a worker thread; keep it short and thread-safe.
  std::function<void(const job_status&)> on_status;
};

/// What one run() did.
struct worker_summary {
  std::int64_t succeeded = 0;        ///< transcoded, published and acknowledged
  std::int64_t already_complete = 0; ///< found finished from an earlier delivery; acknowledged
  std::int64_t retried = 0;          ///< failed, to be delivered again after a backoff
  std::int64_t dead = 0;             ///< dead-lettered
  std::int64_t released = 0;         ///< cancelled by drain/stop, lease given back
  std::int64_t lease_lost = 0;       ///< another delivery took over
};

/// The blocking worker. run() occupies the calling thread; jobs, heartbeats and status writes run
/// on threads it owns.
///
/// @par Thread Safety
/// drain(), stop() and running() may be called from any thread (not from a signal handler).
class worker_runtime {
 public:
  worker_runtime(std::shared_ptr<queue::queue_adapter> queue, worker_options options);
  worker_runtime(const worker_runtime&) = delete;
  worker_runtime& operator=(const worker_runtime&) = delete;
  /// Stops a run in progress and waits for it.
  ~worker_runtime();

  /// Works until drained, stopped, or (with exit_when_idle) idle. Returns an error only when the
  /// queue cannot be used at all, or errc::invalid_spec at once for a lease above the backend's
  /// caps().max_lease or a heartbeat not shorter than the lease; failures of single jobs are
  /// handled as described above.
  error_code run(worker_summary& summary);
  void drain() noexcept;
  void stop() noexcept;
  /// Jobs in progress.
  std::size_t running() const noexcept;

 private:
  struct impl;
  std::shared_ptr<impl> impl_;
};

/// The worker as an Asio I/O object: async_run takes any completion token.
template <class Executor = boost::asio::any_io_executor>
class basic_worker {
 public:
  using executor_type = Executor;

  basic_worker(const executor_type& ex, std::shared_ptr<queue::queue_adapter> queue, worker_options options)
      : ex_(ex), runtime_(std::make_unique<worker_runtime>(std::move(queue), std::move(options))) {}
  basic_worker(const basic_worker&) = delete;
  basic_worker& operator=(const basic_worker&) = delete;
  /// Stops a run in progress (jobs released) and waits for it; its handler still runs.
  ~basic_worker() {
    runtime_->stop();
    if (thread_.joinable()) thread_.join();
  }

  executor_type get_executor() const noexcept { return ex_; }

  /// Runs the worker on a thread of its own until it is drained, stopped or idle. One run at a time.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::worker_summary)`
  ///
  /// @par Per-Operation Cancellation
  /// Any cancellation type drains: no new jobs; running ones get drain_grace, then are released.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_run(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return boost::asio::async_initiate<Token, void(error_code, worker_summary)>(
        [this](auto handler) {
          auto slot = boost::asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected())
            slot.assign([rt = runtime_.get()](boost::asio::cancellation_type t) {
              if (t != boost::asio::cancellation_type::none) rt->drain();
            });
          auto guard = boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, ex_));
          if (thread_.joinable()) thread_.join();
          thread_ = std::thread([rt = runtime_.get(), handler = std::move(handler), guard = std::move(guard)]() mutable {
            worker_summary summary;
            auto ec = rt->run(summary);
            auto ex = guard.get_executor();
            boost::asio::dispatch(ex, [handler = std::move(handler), ec, summary]() mutable {
              boost::asio::get_associated_cancellation_slot(handler).clear();
              std::move(handler)(ec, summary);
            });
            guard.reset();
          });
        },
        token);
  }

  void drain() noexcept { runtime_->drain(); }
  void stop() noexcept { runtime_->stop(); }
  std::size_t running() const noexcept { return runtime_->running(); }

 private:
  executor_type ex_;
  std::unique_ptr<worker_runtime> runtime_;
  std::thread thread_;
};

using worker = basic_worker<>;

}  // namespace spool
