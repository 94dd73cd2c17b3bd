#pragma once
// Internal: the worker's run state and one leased job, shared by worker.cpp (the run loop, the
// ordinary job) and chunked.cpp (splitting a chunked job, its children and its stitch).
#include <spool/job.hpp>
#include <spool/media/transcode.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/worker/worker.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "worker/job_output.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace worker_detail {

using steady = std::chrono::steady_clock;

enum class cancel_reason { none, shutdown, lease_lost };

// One leased job.
struct job {
  queue::delivery delivery;
  std::atomic<bool> cancel{false};
  std::atomic<cancel_reason> why{cancel_reason::none};
  std::atomic<bool> done{false};
  // Heartbeat bookkeeping; only the heartbeat thread touches these after start.
  steady::time_point next_extend{};
  std::atomic<steady::time_point> lease_deadline{};  // also read by the job's own thread
  std::thread thread;
  // The job's own thread only: its spec once parsed, its status once it has an output of its own
  // to report into.
  std::optional<job_spec> spec;
  std::optional<status_channel> status;

  void cancel_for(cancel_reason r) {
    auto none = cancel_reason::none;
    why.compare_exchange_strong(none, r);
    cancel = true;
  }
};

}  // namespace worker_detail

struct worker_runtime::impl {
  using job = worker_detail::job;
  using status_channel = worker_detail::status_channel;
  using output_place = worker_detail::output_place;
  using steady = worker_detail::steady;
  using milliseconds = std::chrono::milliseconds;

  impl(std::shared_ptr<queue::queue_adapter> q, worker_options o) : queue(std::move(q)), options(std::move(o)) {
    if (options.concurrency < 1) options.concurrency = 1;
    if (options.heartbeat.count() <= 0) options.heartbeat = std::max(milliseconds(100), options.lease / 3);
  }

  std::shared_ptr<queue::queue_adapter> queue;
  worker_options options;

  mutable std::mutex mutex;
  std::condition_variable changed;  // a job finished, drain/stop was asked, or a run ended
  std::list<std::shared_ptr<job>> jobs;
  worker_summary summary;  // of the run in progress
  bool active = false;     // a run is in progress
  // Requests of the run in progress (or, made between runs, of the next one); a run clears them
  // when it ends, so the one after starts afresh.
  bool draining = false, stopping = false;
  bool heartbeat_quit = false;
  std::atomic<bool> receive_cancel{false};
  std::condition_variable heartbeat_wake;

  void drain(bool now) {
    {
      std::lock_guard lock(mutex);
      draining = true;
      if (now) stopping = true;
    }
    receive_cancel = true;
    changed.notify_all();
  }

  void count(std::int64_t worker_summary::*field) {
    std::lock_guard lock(mutex);
    ++(summary.*field);
  }

  error_code run(worker_summary& out);
  std::size_t start_jobs(std::vector<queue::delivery>& got);
  void give_back(const queue::delivery& d) noexcept;
  void run_job(const std::shared_ptr<job>& j) noexcept;
  void process(job& j);
  error_code encode_and_publish(job& j, const job_spec& spec, const output_place& out,
                                const media::transcode_options& to, status_channel& status,
                                media::transcode_result& result);
  /// The last steps of every publish: the lease checked once more, the final status put into the
  /// package, the package committed (aborted on any failure).
  error_code publish(job& j, io::package_sink& package, status_channel& status, media::transcode_result& result);
  void acknowledge(job& j);
  void heartbeat_loop() noexcept;
  void heartbeat_once(std::unique_lock<std::mutex>& lock);
  int wanted_concurrency(steady::time_point& next_check, int current);
  bool idle();
  /// Retries, releases or dead-letters a failed job; returns the verdict (dead_letter: it is dead).
  queue::verdict settle(job& j, status_channel& status, const error_code& ec, const std::string& detail);
  void complete_already(job& j, status_channel& status, job_status found, const std::string& job_id);
  void dead_letter_untouched(job& j, const error_code& ec, const std::string& why, const job_status& initial);
  error_code bury(const queue::delivery& d, const std::string& reason, const std::string& last_error_json);

  // Chunked jobs (chunked.cpp).
  /// A whole job whose plan asks for chunking and whose input is long enough: queues its children,
  /// acknowledges it and returns true. False: it is encoded as an ordinary job.
  bool split(job& j, const job_spec& spec, status_channel& status);
  /// A child whose chunked job is already over (dead, or stitched): acknowledged without encoding;
  /// true then.
  bool skip_orphan(job& j, const job_spec& spec);
  /// After a child published: its chunked job ended meanwhile, so its package goes too.
  void drop_if_orphaned(const job_spec& spec);
  /// Removes a chunked job's work area (spec.role.work), best effort.
  void remove_work_area(const job_spec& spec) noexcept;
  void stitch(job& j, const job_spec& spec, const output_place& out, status_channel& status);
  /// A child was dead-lettered: says so in the work area, where its stitch job looks, so the
  /// chunked job fails even when the child could write no status of its own.
  void child_failed(const job& j, const error_code& ec, const std::string& why) noexcept;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
