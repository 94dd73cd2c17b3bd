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
//   others retry after a jittered backoff until retry.max_attempts deliveries. An exception that
//   escapes a job is such a failure (errc::internal, with its message), never the process's end.
// - A job whose output directory holds someone else's files (not empty, no status.json of this job)
//   is dead-lettered with errc::output_exists and the directory is not touched.
// - A job whose output already holds its finished package (status.json says succeeded for this
//   job id, and result.json is there) is acknowledged without encoding again: this is what makes a
//   crash between publish and ack harmless.
// - status.json in the output directory follows every state change and, throttled, the progress;
//   the final one is published inside the package, so a package and its "succeeded" appear at once.
//   on_status receives the same record.
// - A job whose plan asks for chunking and whose input is long enough is split into child jobs on
//   the same queue (chunks, the whole-input part, a stitch job) and acknowledged; any worker runs
//   them (docs/worker.md, "Chunked jobs").
// - drain(): stop receiving; running jobs get drain_grace to finish, then are cancelled and their
//   leases released at once (visible again, not waiting out the lease) with queue_adapter::release(),
//   which does not count the delivery as an attempt where the backend can undo the count
//   (caps().uncounted_release). stop() is drain without grace.
#include <spool/input_policy.hpp>
#include <spool/job.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/queue/retry.hpp>
#include <spool/queue/scaling.hpp>
#include <spool/version.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <stop_token>
#include <system_error>
#include <thread>
#include <utility>

namespace spool::inline SPOOL_ABI_NAMESPACE {

struct SPOOL_API worker_options {
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
  spool::input_policy policy;
  int encode_nice = 10;
  /// As transcode_options::encode_idle: encode only on CPU time the host leaves.
  bool encode_idle = false;
  int encoder_threads = 0;
  /// Progress updates of status.json and on_status are at most this frequent.
  std::chrono::milliseconds status_interval{1'000};
  /// Every status change, from a worker thread; keep it short and thread-safe.
  std::function<void(const job_status&)> on_status;
};

/// What one run() did.
struct SPOOL_API worker_summary {
  std::int64_t succeeded = 0;         ///< transcoded, published and acknowledged
  std::int64_t already_complete = 0;  ///< found finished from an earlier delivery; acknowledged
  std::int64_t retried = 0;           ///< failed, to be delivered again after a backoff
  std::int64_t dead = 0;              ///< dead-lettered
  std::int64_t released = 0;          ///< given back unstarted or cancelled by drain/stop, without counting
  std::int64_t lease_lost = 0;        ///< another delivery took over
  std::int64_t split = 0;             ///< chunked: split into child jobs, then acknowledged
};

/// {"succeeded","already_complete","retried","dead","released","lease_lost","split"}, counts as numbers.
SPOOL_API boost::json::value to_json(const worker_summary& s);

/// The blocking worker. run() occupies the calling thread; jobs, heartbeats and status writes run
/// on threads it owns. One run at a time; when a run returns the worker is ready for the next.
///
/// @par Thread Safety
/// run(), drain(), stop() and running() may be called from any thread (not from a signal handler).
class SPOOL_API worker_runtime {
 public:
  worker_runtime(std::shared_ptr<queue::queue_adapter> queue, worker_options options);
  worker_runtime(const worker_runtime&) = delete;
  worker_runtime& operator=(const worker_runtime&) = delete;
  /// Stops a run in progress and waits for it.
  ~worker_runtime();

  /// Works until drained, stopped, or (with exit_when_idle) idle, and fills `summary` with what this
  /// run did. Returns at once with errc::already_running while another run is in progress, and with
  /// errc::invalid_argument for a lease above the backend's caps().max_lease or a heartbeat not
  /// shorter than the lease (nothing is leased then); errc::out_of_memory when its heartbeat thread
  /// cannot be started; another error only when the queue cannot be used at all. Failures of single
  /// jobs are handled as described above and never end the run.
  error_code run(worker_summary& summary);
  /// As run(), and drains when `drain_when` is asked to stop: from the moment the run starts, also
  /// if it was asked before; a request after the run returned changes nothing.
  error_code run(worker_summary& summary, std::stop_token drain_when);
  /// Ends the run in progress as described above. Asked between runs, it ends the next run as soon
  /// as that starts (so a signal that comes just before run() is not lost); each request ends one run.
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
class SPOOL_API basic_worker {
 public:
  using executor_type = Executor;

  basic_worker(const executor_type& ex, std::shared_ptr<queue::queue_adapter> queue, worker_options options)
      : ex_(ex), state_(std::make_shared<state>(std::move(queue), std::move(options))) {}
  basic_worker(const basic_worker&) = delete;
  basic_worker& operator=(const basic_worker&) = delete;
  /// Stops a run in progress (jobs released) and waits for it; its handler still runs, on its executor.
  ~basic_worker() {
    std::unique_lock lock(state_->mutex);
    if (state_->busy) state_->runtime.stop();
    state_->idle.wait(lock, [this] { return !state_->busy; });
  }

  executor_type get_executor() const noexcept { return ex_; }

  /// Runs the worker on a thread of its own until it is drained, stopped or idle. Never blocks the
  /// caller. One run at a time: while one is in progress, another completes at once (through its
  /// handler) with errc::already_running. When the thread cannot be started it completes with
  /// errc::out_of_memory. The handler runs on its associated executor.
  ///
  /// @par Completion Signature
  /// `void(spool::error_code, spool::worker_summary)`
  ///
  /// @par Per-Operation Cancellation
  /// Any cancellation type drains: no new jobs; running ones get drain_grace, then are released.
  template <class Token = boost::asio::default_completion_token_t<executor_type>>
  auto async_run(Token&& token = boost::asio::default_completion_token_t<executor_type>()) {
    return boost::asio::async_initiate<Token, void(error_code, worker_summary)>(
        [st = state_, ex = ex_](auto handler) { start(st, ex, std::move(handler)); }, token);
  }

  /// As worker_runtime::drain() and stop(): between runs they end the next one.
  void drain() noexcept { state_->runtime.drain(); }
  void stop() noexcept { state_->runtime.stop(); }
  std::size_t running() const noexcept { return state_->runtime.running(); }

 private:
  // Shared by the object and its run's thread, which may finish after the object is gone.
  struct state {
    state(std::shared_ptr<queue::queue_adapter> q, worker_options o) : runtime(std::move(q), std::move(o)) {}
    worker_runtime runtime;
    std::mutex mutex;
    std::condition_variable idle;
    bool busy = false;  // a run's thread exists
  };

  template <class Handler>
  struct operation {
    operation(Handler h, const executor_type& ex)
        : handler(std::move(h)),
          work(boost::asio::make_work_guard(boost::asio::get_associated_executor(handler, ex))) {}
    Handler handler;
    boost::asio::executor_work_guard<boost::asio::associated_executor_t<Handler, executor_type>> work;
  };

  // Completes the operation on its handler's executor: posted when called from the initiating
  // function (never inside it), dispatched from the run's thread. Only a slot this operation
  // assigned is cleared.
  template <class Handler>
  static void complete(const std::shared_ptr<operation<Handler>>& op, error_code ec, worker_summary summary,
                       bool from_initiation, bool slot_assigned) {
    auto work = std::move(op->work);
    auto ex = work.get_executor();
    auto fn = [op, ec, summary, slot_assigned]() mutable {
      if (slot_assigned) boost::asio::get_associated_cancellation_slot(op->handler).clear();
      std::move(op->handler)(ec, summary);
    };
    if (from_initiation)
      boost::asio::post(ex, std::move(fn));
    else
      boost::asio::dispatch(ex, std::move(fn));
    work.reset();
  }

  template <class Handler>
  static void start(const std::shared_ptr<state>& st, const executor_type& ex, Handler handler) {
    auto op = std::make_shared<operation<Handler>>(std::move(handler), ex);
    bool was_busy;
    {
      std::lock_guard lock(st->mutex);
      was_busy = st->busy;
      st->busy = true;
    }
    if (was_busy) {
      complete(op, errc::already_running, {}, true, false);
      return;
    }
    // The slot holds the stop source (a shared handle), never a pointer into the worker.
    std::stop_source drain_request;
    auto slot = boost::asio::get_associated_cancellation_slot(op->handler);
    const bool assigned = slot.is_connected();
    if (assigned)
      slot.assign([drain_request](boost::asio::cancellation_type t) mutable {
        if (t != boost::asio::cancellation_type::none) drain_request.request_stop();
      });
    try {
      std::thread([st, op, token = drain_request.get_token(), assigned] {
        worker_summary summary;
        error_code ec = st->runtime.run(summary, token);
        {
          std::lock_guard lock(st->mutex);
          st->busy = false;
        }
        st->idle.notify_all();
        complete(op, ec, summary, false, assigned);
      }).detach();
    } catch (...) {  // std::system_error when no thread can be created; bad_alloc
      {
        std::lock_guard lock(st->mutex);
        st->busy = false;
      }
      st->idle.notify_all();
      complete(op, errc::out_of_memory, {}, true, assigned);
    }
  }

  executor_type ex_;
  std::shared_ptr<state> state_;
};

using worker = basic_worker<>;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
