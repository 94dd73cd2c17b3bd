#include "media/output_dir.hpp"

#include <spool/media/transcode.hpp>
#include <spool/worker/status.hpp>
#include <spool/worker/worker.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <list>
#include <mutex>
#include <sys/random.h>

namespace fs = std::filesystem;

namespace spool {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

enum class cancel_reason { none, shutdown, lease_lost };

std::uint64_t random_u64() {
  std::uint64_t v = 0;
  if (::getrandom(&v, sizeof v, 0) != static_cast<ssize_t>(sizeof v)) v = static_cast<std::uint64_t>(steady::now().time_since_epoch().count());
  return v;
}

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

  void cancel_for(cancel_reason r) {
    auto none = cancel_reason::none;
    why.compare_exchange_strong(none, r);
    cancel = true;
  }
};

// status.json and on_status for one job. Once the final status is in the package being published,
// progress writes stop: they would otherwise land on top of it after the rename.
class status_channel {
 public:
  status_channel(const worker_options& o, fs::path dir, job_status s) : o_(o), dir_(std::move(dir)), s_(std::move(s)) {}

  void set(job_state state, error_code ec = {}, std::string message = {}) {
    std::lock_guard lock(mutex_);
    frozen_ = false;
    s_.state = state;
    s_.error = ec;
    s_.error_message = std::move(message);
    if (state == job_state::succeeded) {
      s_.progress = 1;
      s_.eta_s = 0;
    } else if (state != job_state::running) {
      s_.eta_s = -1;
    }
    publish_locked(dir_);
  }

  void progress(const media::progress& p) {
    std::lock_guard lock(mutex_);
    auto now = steady::now();
    if (frozen_ || (now - last_ < o_.status_interval && p.fraction < 1)) return;
    s_.progress = p.fraction;
    s_.eta_s = p.eta_s;
    publish_locked(dir_);
  }

  // Writes the final status into the staging directory; the package carries it from now on.
  void finish_into(const fs::path& staging) {
    std::lock_guard lock(mutex_);
    s_.state = job_state::succeeded;
    s_.progress = 1;
    s_.eta_s = 0;
    s_.error = {};
    s_.error_message.clear();
    std::string detail;
    if (auto ec = write_status(staging, stamp(), &detail)) throw std::runtime_error("cannot write status: " + detail);
    frozen_ = true;
  }

  // The event for what finish_into() wrote, once the package is really published.
  void announce_current() {
    std::lock_guard lock(mutex_);
    notify(s_);
  }

  // For a job found complete: the event only, status.json already says so.
  void announce(const job_status& s) {
    std::lock_guard lock(mutex_);
    notify(s);
  }

 private:
  const job_status& stamp() {
    s_.updated_at = std::chrono::system_clock::now();
    last_ = steady::now();
    return s_;
  }
  void publish_locked(const fs::path& dir) {
    // A status write that fails (a read-only or full output location) must not fail the job: the
    // transcode reports the real problem with the output.
    write_status(dir, stamp());
    notify(s_);
  }
  void notify(const job_status& s) {
    if (!o_.on_status) return;
    try {
      o_.on_status(s);
    } catch (...) {
      // The host's callback must not take the worker down.
    }
  }

  const worker_options& o_;
  fs::path dir_;
  job_status s_;
  std::mutex mutex_;
  steady::time_point last_{};
  bool frozen_ = false;
};

// Whether `out` holds this job's finished package: published by an earlier delivery that crashed,
// lost its lease or stalled before acknowledging, or by an earlier job with the same idempotency
// key. The status may have been overwritten since by a later delivery's progress; result.json, which
// only a publish puts there, is what says the package is whole.
bool finished_here(const fs::path& out, const std::string& job_id, const std::string& key, job_status& found) {
  std::error_code ec;
  if (read_status(out, found) || !fs::exists(out / "result.json", ec)) return false;
  return found.job_id == job_id || (!key.empty() && found.idempotency_key == key);
}

}  // namespace

struct worker_runtime::impl {
  impl(std::shared_ptr<queue::queue_adapter> q, worker_options o) : queue(std::move(q)), options(std::move(o)) {
    if (options.concurrency < 1) options.concurrency = 1;
    if (options.heartbeat.count() <= 0) options.heartbeat = std::max(milliseconds(100), options.lease / 3);
  }

  std::shared_ptr<queue::queue_adapter> queue;
  worker_options options;

  mutable std::mutex mutex;
  std::condition_variable changed;  // a job finished, or drain/stop was asked
  std::list<std::shared_ptr<job>> jobs;
  worker_summary summary;
  bool draining = false, stopping = false, heartbeat_quit = false;
  int runs = 0;  // run() calls in progress; the destructor waits for them
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
  void process(job& j);
  void heartbeat_loop();
  int wanted_concurrency(steady::time_point& next_check, int current);
  bool idle();
  void settle(job& j, status_channel& status, const error_code& ec, const std::string& detail);
  void complete_already(job& j, status_channel& status, job_status found);
};

int worker_runtime::impl::wanted_concurrency(steady::time_point& next_check, int current) {
  const auto& o = options;
  if (o.min_concurrency < 0 || o.min_concurrency >= o.concurrency) return o.concurrency;
  auto now = steady::now();
  if (now < next_check) return current;
  next_check = now + std::chrono::seconds(2);
  queue::queue_stats s;
  if (queue->stats(s)) return current;
  auto n = queue::recommended_workers(s, o.scaling);
  return static_cast<int>(std::clamp<std::int64_t>(n, std::max(o.min_concurrency, 1), o.concurrency));
}

bool worker_runtime::impl::idle() {
  {
    std::lock_guard lock(mutex);
    if (!jobs.empty()) return false;
  }
  queue::queue_stats s;
  if (queue->stats(s)) return false;
  return s.visible == 0 && s.delayed == 0 && s.in_flight == 0;
}

error_code worker_runtime::impl::run(worker_summary& out) {
  // Refused before anything is leased: a lease the backend cannot grant, or heartbeats too rare to
  // keep one.
  const auto caps = queue->caps();
  if (options.lease <= milliseconds(0) || options.lease > caps.max_lease || options.heartbeat >= options.lease)
    return errc::invalid_spec;
  {
    std::lock_guard lock(mutex);
    heartbeat_quit = false;
  }
  std::thread heartbeat([this] { heartbeat_loop(); });
  auto reap = [this](std::unique_lock<std::mutex>& lock) {
    for (auto it = jobs.begin(); it != jobs.end();) {
      if (!(*it)->done) {
        ++it;
        continue;
      }
      auto j = *it;
      it = jobs.erase(it);
      lock.unlock();
      j->thread.join();
      lock.lock();
    }
  };

  error_code fatal;
  int allowed = options.concurrency;
  auto next_scale_check = steady::time_point{};
  milliseconds error_backoff{0};
  const auto max_batch = std::max<std::size_t>(1, caps.max_batch);
  for (;;) {
    std::size_t free = 0;
    {
      std::unique_lock lock(mutex);
      reap(lock);
      if (draining) break;
      lock.unlock();
      allowed = wanted_concurrency(next_scale_check, allowed);
      lock.lock();
      if (jobs.size() >= static_cast<std::size_t>(allowed)) {
        changed.wait_for(lock, std::chrono::seconds(1));
        continue;
      }
      free = static_cast<std::size_t>(allowed) - jobs.size();
    }

    queue::receive_options ro;
    ro.max_messages = std::min(free, max_batch);
    ro.wait = options.poll_wait;
    ro.lease = options.lease;
    std::vector<queue::delivery> got;
    auto ec = queue->receive(ro, got, &receive_cancel);
    if (ec) {
      // A queue that is unreachable for a while is waited out; one that can never work is not.
      if (is_permanent(ec)) {
        fatal = ec;
        drain(false);
        continue;
      }
      error_backoff = std::min(milliseconds(30'000), std::max(milliseconds(250), error_backoff * 2));
      std::unique_lock lock(mutex);
      changed.wait_for(lock, error_backoff, [this] { return draining; });
      continue;
    }
    error_backoff = milliseconds(0);
    for (auto& d : got) {
      auto j = std::make_shared<job>();
      j->delivery = std::move(d);
      auto now = steady::now();
      j->next_extend = now + options.heartbeat;
      j->lease_deadline = now + options.lease;
      std::lock_guard lock(mutex);
      jobs.push_back(j);
      j->thread = std::thread([this, j] {
        process(*j);
        {
          std::lock_guard l(mutex);
          j->done = true;
        }
        changed.notify_all();
      });
    }
    if (got.empty() && options.exit_when_idle && idle()) break;
  }

  // Drain: running jobs get the grace period, then are cancelled and released.
  {
    std::unique_lock lock(mutex);
    auto all_done = [this] {
      return std::all_of(jobs.begin(), jobs.end(), [](const auto& j) { return j->done.load(); });
    };
    auto deadline = steady::now() + options.drain_grace;
    while (!all_done() && !stopping && steady::now() < deadline) changed.wait_until(lock, deadline);
    for (auto& j : jobs)
      if (!j->done) j->cancel_for(cancel_reason::shutdown);
    changed.wait(lock, all_done);
    reap(lock);
    heartbeat_quit = true;
  }
  heartbeat_wake.notify_all();
  heartbeat.join();
  std::lock_guard lock(mutex);
  out = summary;
  return fatal;
}

void worker_runtime::impl::heartbeat_loop() {
  std::unique_lock lock(mutex);
  while (!heartbeat_quit) {
    heartbeat_wake.wait_for(lock, milliseconds(100));
    auto now = steady::now();
    std::vector<std::shared_ptr<job>> due;
    for (auto& j : jobs)
      if (!j->done && !j->cancel && now >= j->next_extend) due.push_back(j);
    lock.unlock();
    for (auto& j : due) {
      queue::clock::time_point expires{};
      auto ec = queue->extend(j->delivery, options.lease, expires);
      auto after = steady::now();
      if (!ec) {
        j->next_extend = after + options.heartbeat;
        j->lease_deadline = now + options.lease;
      } else if (ec == errc::lease_lost || after + milliseconds(500) >= j->lease_deadline.load()) {
        // Refused, or not renewed in time: the job may be delivered again, so this copy stops.
        j->cancel_for(cancel_reason::lease_lost);
      } else {
        j->next_extend = after + std::min(milliseconds(1'000), options.heartbeat);
      }
    }
    lock.lock();
  }
}

void worker_runtime::impl::process(job& j) {
  const auto& d = j.delivery;
  job_status initial;
  initial.job_id = d.message_id;
  initial.attempt = d.receive_count;

  job_spec spec;
  std::string detail;
  if (auto ec = parse_job_spec(d.body, spec, &detail)) {
    // No output to report into: the dead-letter record carries the reason.
    status_channel none(options, {}, initial);
    auto err = boost::json::serialize(error_json(ec, detail));
    if (!queue->dead_letter(d, "the job spec is invalid: " + detail, err)) count(&worker_summary::dead);
    initial.state = job_state::dead;
    initial.error = ec;
    initial.error_message = detail;
    none.announce(initial);
    return;
  }
  initial.metadata = spec.metadata;
  initial.idempotency_key = spec.idempotency_key;
  fs::path out = spec.output;

  // Earlier deliveries never reported back: their workers crashed or lost the lease. A job that
  // takes its worker down every time must not do so forever (SQS's maxReceiveCount).
  if (d.receive_count > options.retry.max_attempts) {
    error_code ec = errc::internal;
    std::string why = "delivered " + std::to_string(d.receive_count) + " times without finishing (max_attempts " +
                      std::to_string(options.retry.max_attempts) + "); its workers may be crashing on it";
    status_channel status(options, out, initial);
    media::remove_stale_staging(out);  // what the crashed deliveries left
    if (!queue->dead_letter(d, why, boost::json::serialize(error_json(ec, why)))) {
      count(&worker_summary::dead);
      status.set(job_state::dead, ec, why);
    }
    return;
  }

  status_channel status(options, out, initial);
  job_status found;
  if (finished_here(out, d.message_id, spec.idempotency_key, found)) {
    // A delivery killed inside publish left the replaced directory beside the package; a transcode
    // would remove it on its way, this path has to.
    media::remove_stale_staging(out);
    complete_already(j, status, std::move(found));
    return;
  }
  status.set(job_state::running);

  media::transcode_options to;
  if (auto ec = make_plan(spec, to.plan, &detail)) {
    settle(j, status, ec, detail);
    return;
  }
  to.policy = options.policy;
  to.encode_nice = options.encode_nice;
  to.encoder_threads = options.encoder_threads;
  to.progress_interval = std::min(options.status_interval, milliseconds(500));
  to.on_progress = [&status](const media::progress& p) { status.progress(p); };
  to.before_publish = [this, &j, &status](const fs::path& staging) {
    // The last moment to find out that the lease is gone (a stalled process, a heartbeat that could
    // not get through): publishing now would race the job's newer delivery.
    queue::clock::time_point expires{};
    auto lec = queue->extend(j.delivery, options.lease, expires);
    if (lec == errc::lease_lost || (lec && steady::now() + milliseconds(500) >= j.lease_deadline.load())) {
      j.cancel_for(cancel_reason::lease_lost);
      throw std::runtime_error("the lease was lost before publishing");
    }
    status.finish_into(staging);
  };

  media::transcode_result result;
  auto ec = media::transcode(spec.input, out, to, result, &j.cancel);
  if (ec == errc::output_exists && j.why == cancel_reason::none &&
      finished_here(out, d.message_id, spec.idempotency_key, found)) {
    // Another delivery of this job published while this one encoded.
    complete_already(j, status, std::move(found));
    return;
  }
  if (ec) {
    settle(j, status, ec, result.error_detail);
    return;
  }
  status.announce_current();
  // Published. A failed ack only means another delivery will find the package complete.
  for (int tries = 0; tries < 3; ++tries) {
    auto aec = queue->ack(d);
    if (!aec || aec == errc::lease_lost) break;
    std::this_thread::sleep_for(milliseconds(200 << tries));
  }
  count(&worker_summary::succeeded);
}

void worker_runtime::impl::complete_already(job& j, status_channel& status, job_status found) {
  auto ec = queue->ack(j.delivery);
  count(ec ? &worker_summary::lease_lost : &worker_summary::already_complete);
  if (ec) return;
  if (found.state == job_state::succeeded) {
    // The event speaks of this job; the file keeps naming the job that made the package.
    found.job_id = j.delivery.message_id;
    found.attempt = j.delivery.receive_count;
    status.announce(found);
  } else {
    // Whole, but a later delivery's progress overwrote its status.
    status.set(job_state::succeeded);
  }
}

void worker_runtime::impl::settle(job& j, status_channel& status, const error_code& ec, const std::string& detail) {
  const auto& d = j.delivery;
  auto why = j.why.load();
  if (why == cancel_reason::lease_lost) {
    // Another delivery owns the job now; its status is its own to write.
    count(&worker_summary::lease_lost);
    return;
  }
  queue::retry_decision decision;
  if (why == cancel_reason::shutdown) decision.what = queue::verdict::release;
  else decision = queue::decide(options.retry, ec, d.receive_count, random_u64());

  error_code qec;
  switch (decision.what) {
    case queue::verdict::release:
      qec = queue->nack(d, milliseconds(0));
      if (!qec) {
        count(&worker_summary::released);
        status.set(job_state::queued);
      }
      break;
    case queue::verdict::retry:
      qec = queue->nack(d, decision.delay);
      if (!qec) {
        count(&worker_summary::retried);
        status.set(job_state::failed, ec, detail);
      }
      break;
    case queue::verdict::dead_letter:
      qec = queue->dead_letter(d, decision.reason, boost::json::serialize(error_json(ec, detail)));
      if (!qec) {
        count(&worker_summary::dead);
        status.set(job_state::dead, ec, detail);
      }
      break;
  }
  // lease_lost here: the lease ran out while failing; the next delivery decides again.
  if (qec == errc::lease_lost) count(&worker_summary::lease_lost);
}

worker_runtime::worker_runtime(std::shared_ptr<queue::queue_adapter> queue, worker_options options)
    : impl_(std::make_shared<impl>(std::move(queue), std::move(options))) {}

worker_runtime::~worker_runtime() {
  stop();
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [this] { return impl_->runs == 0; });
}

error_code worker_runtime::run(worker_summary& summary) {
  summary = {};
  {
    std::lock_guard lock(impl_->mutex);
    ++impl_->runs;
  }
  auto ec = impl_->run(summary);
  {
    std::lock_guard lock(impl_->mutex);
    --impl_->runs;
  }
  impl_->changed.notify_all();
  return ec;
}

void worker_runtime::drain() noexcept { impl_->drain(false); }
void worker_runtime::stop() noexcept { impl_->drain(true); }

std::size_t worker_runtime::running() const noexcept {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(
      std::count_if(impl_->jobs.begin(), impl_->jobs.end(), [](const auto& j) { return !j->done.load(); }));
}

}  // namespace spool
