#include <spool/json_text.hpp>
#include <spool/media/chunks.hpp>
#include <spool/media/transcode.hpp>
#include <spool/package_layout.hpp>
#include <spool/storage/status.hpp>
#include <spool/storage/store.hpp>
#include <spool/worker/worker.hpp>

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <list>
#include <mutex>
#include <optional>

#include "core/faults.hpp"
#include "queue/ids.hpp"
#include "worker/job_output.hpp"
#include "worker/runtime.hpp"

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

using steady = std::chrono::steady_clock;
using std::chrono::milliseconds;
using worker_detail::cancel_reason;
using worker_detail::job;
using worker_detail::status_channel;

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace

// Dead-letters the delivery. A backend without a dead-letter store has nowhere to keep it: the job
// is acknowledged, and its status (and the host's event) is the only record of why it died.
error_code worker_runtime::impl::bury(const queue::delivery& d, const std::string& reason,
                                      const std::string& last_error_json) {
  if (auto* store = queue->dead_letters()) return store->dead_letter(d, reason, last_error_json).code;
  return queue->ack(d).code;
}

int worker_runtime::impl::wanted_concurrency(steady::time_point& next_check, int current) {
  const auto& o = options;
  if (o.min_concurrency < 0 || o.min_concurrency >= o.concurrency) return o.concurrency;
  auto now = steady::now();
  if (now < next_check) return current;
  next_check = now + std::chrono::seconds(2);
  auto s = queue->stats();
  if (!s) return current;
  auto n = queue::recommended_workers(*s, o.scaling);
  return static_cast<int>(std::clamp<std::int64_t>(n, std::max(o.min_concurrency, 1), o.concurrency));
}

bool worker_runtime::impl::idle() {
  {
    std::lock_guard lock(mutex);
    if (!jobs.empty()) return false;
  }
  auto s = queue->stats();
  // A backend that cannot count: the receive that found nothing, with no job running, is all we know.
  if (!s) return s.error().code == errc::feature_unsupported;
  return s->visible == 0 && s->delayed == 0 && s->in_flight == 0;
}

// Gives a delivery that never started back to the queue, uncounted where the backend can.
void worker_runtime::impl::give_back(const queue::delivery& d) noexcept {
  try {
    if (!queue->release(d)) count(&worker_summary::released);
  } catch (...) {
    // The lease runs out instead and the job is delivered again.
  }
}

// Starts a thread for each delivery; returns how many could not be started (given back instead).
std::size_t worker_runtime::impl::start_jobs(std::vector<queue::delivery>& got) {
  std::size_t i = 0;
  try {
    for (; i < got.size(); ++i) {
      auto j = std::make_shared<job>();
      j->delivery = got[i];
      auto now = steady::now();
      j->next_extend = now + options.heartbeat;
      j->lease_deadline = now + options.lease;
      std::lock_guard lock(mutex);
      if (auto& hook = detail::faults().start_job) hook();
      // Listed only once its thread exists; the thread cannot finish before (it needs the lock).
      j->thread = std::thread([this, j] {
        run_job(j);
        {
          std::lock_guard l(mutex);
          j->done = true;
        }
        changed.notify_all();
      });
      jobs.push_back(std::move(j));
    }
    return 0;
  } catch (...) {
    // No thread (std::system_error) or no memory: this delivery and the rest go back to the queue.
    for (std::size_t k = i; k < got.size(); ++k) give_back(got[k]);
    return got.size() - i;
  }
}

error_code worker_runtime::impl::run(worker_summary& out) {
  // Refused before anything is leased: a lease the backend cannot grant, or heartbeats too rare to
  // keep one.
  const auto caps = queue->caps();
  if (options.lease <= milliseconds(0) || options.lease > caps.max_lease || options.heartbeat >= options.lease)
    return errc::invalid_argument;
  std::thread heartbeat;
  try {
    if (auto& hook = detail::faults().start_heartbeat) hook();
    heartbeat = std::thread([this] { heartbeat_loop(); });
  } catch (...) {
    return errc::out_of_memory;  // no thread: the machine, not a job, is short of something
  }
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
  auto back_off = [&] {
    error_backoff = std::min(milliseconds(30'000), std::max(milliseconds(250), error_backoff * 2));
    std::unique_lock lock(mutex);
    changed.wait_for(lock, error_backoff, [this] { return draining; });
  };
  const auto max_batch = std::max<std::size_t>(1, caps.max_batch);
  for (;;) {
    std::vector<queue::delivery> got;
    try {
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
      auto received = queue->receive(ro, &receive_cancel);
      if (received) got = std::move(*received);
      if (auto ec = received ? error_code() : received.error().code) {
        // A queue that is unreachable for a while is waited out; one that can never work is not.
        if (is_permanent(ec) || kind_of(ec) == category_kind::usage) {
          fatal = ec;
          drain(false);
          continue;
        }
        back_off();
        continue;
      }
      if (start_jobs(got) > 0) {
        back_off();
        continue;
      }
      error_backoff = milliseconds(0);
      if (got.empty() && options.exit_when_idle && idle()) break;
    } catch (...) {
      // The adapter threw (or memory ran out) between jobs: the deliveries taken are not lost,
      // and the loop goes on after a pause.
      std::unique_lock lock(mutex);
      for (const auto& d : got) {
        bool started =
            std::any_of(jobs.begin(), jobs.end(), [&](const auto& j) { return j->delivery.receipt == d.receipt; });
        if (!started) {
          lock.unlock();
          give_back(d);
          lock.lock();
        }
      }
      lock.unlock();
      back_off();
    }
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

// The edge of a job's thread: whatever escapes the job is the job's failure, never the process's end.
void worker_runtime::impl::run_job(const std::shared_ptr<job>& j) noexcept {
  try {
    if (auto& hook = detail::faults().in_job) hook(j->delivery.message_id);
    process(*j);
    return;
  } catch (...) {
    try {
      const std::string detail = "unexpected exception: " + what_of(std::current_exception());
      // After the final status went into the package, the next delivery finds it published.
      if (j->status && j->status->finished()) return;
      if (!j->status) {  // it had no output of its own yet: the event and the queue carry it
        job_status s;
        s.job_id = j->delivery.message_id;
        s.attempt = j->delivery.receive_count;
        j->status.emplace(options, nullptr, std::move(s));
      }
      settle(*j, *j->status, errc::internal, detail);
    } catch (...) {
      // Not even that: the lease runs out and the job is delivered again (and counted).
    }
  }
}

void worker_runtime::impl::dead_letter_untouched(job& j, const error_code& ec, const std::string& why,
                                                 const job_status& initial) {
  auto decision = queue::decide(options.retry, ec, j.delivery.receive_count, 0);
  auto qec = bury(j.delivery, decision.reason + ": " + why, to_json_text(error_json(ec, why)));
  if (qec == errc::lease_lost) count(&worker_summary::lease_lost);
  if (!qec) {
    count(&worker_summary::dead);
    child_failed(j, ec, why);
    job_status s = initial;
    s.state = job_state::dead;
    s.error = ec;
    s.error_message = why;
    status_channel(options, nullptr, initial).announce(s);
  }
}

void worker_runtime::impl::process(job& j) {
  const auto& d = j.delivery;
  job_status initial;
  initial.job_id = d.message_id;
  initial.attempt = d.receive_count;

  auto parsed = parse_job_spec(d.body);
  if (!parsed) {
    const error_code ec = parsed.error().code;
    const std::string detail = parsed.error().what();
    // No output to report into: the dead-letter record carries the reason.
    status_channel none(options, {}, initial);
    auto err = to_json_text(error_json(ec, detail));
    if (!bury(d, "the job spec is invalid: " + detail, err)) count(&worker_summary::dead);
    initial.state = job_state::dead;
    initial.error = ec;
    initial.error_message = detail;
    none.announce(initial);
    return;
  }
  const job_spec& spec = j.spec.emplace(*std::move(parsed));
  const auto role = spec.role.what;
  initial.metadata = spec.metadata;
  initial.idempotency_key = spec.idempotency_key;
  // A stitch job speaks for its chunked job: the output, its status and the events are that job's.
  if (role == job_role::kind::stitch) {
    initial.job_id = spec.role.parent_id;
    initial.idempotency_key = spec.role.parent_key;
  }
  const std::string& job_id = initial.job_id;
  // A child of a chunked job leaves chunk.json where a package has result.json.
  const bool child = role == job_role::kind::chunk || role == job_role::kind::whole_input;
  const std::string_view complete_marker = child ? media::chunk_manifest : package_layout::result;

  // Where the package goes, through storage: a location that names no writable storage is the
  // job's own fault.
  auto where = storage::resolve(spec.output);
  if (where && !where->backend->caps().write)
    where = error(errc::protocol_not_allowed, "the output " + spec.output + " is not a place packages can be written");
  if (!where) {
    dead_letter_untouched(j, where.error().code, where.error().what(), initial);
    return;
  }
  const worker_detail::output_place out{where->backend, where->path};
  if (child && skip_orphan(j, spec)) return;

  // Someone else's folder: nothing of this job's is written there, not even its status.
  if (!worker_detail::output_is_ours(out, job_id, initial.idempotency_key)) {
    dead_letter_untouched(j, errc::output_exists,
                          spec.output +
                              " holds files that are not this job's (no status.json names it); "
                              "nothing was written there",
                          initial);
    return;
  }
  auto status_sink = out.store->open_status(out.path);
  auto& status = j.status.emplace(options, status_sink ? *std::move(status_sink) : nullptr, initial);

  // Earlier deliveries never reported back: their workers crashed or lost the lease. A job that
  // takes its worker down every time must not do so forever (SQS's maxReceiveCount). Deliveries
  // released by a shutdown are not among them where the backend can uncount them.
  if (d.receive_count > options.retry.max_attempts) {
    error_code ec = errc::internal;
    std::string why = "delivered " + std::to_string(d.receive_count) + " times without finishing (max_attempts " +
                      std::to_string(options.retry.max_attempts) + "); its workers may be crashing on it";
    out.store->remove_leftovers(out.path);  // what the crashed deliveries left
    if (!bury(d, why, to_json_text(error_json(ec, why)))) {
      count(&worker_summary::dead);
      status.set(job_state::dead, ec, why);
      child_failed(j, ec, why);
      if (role == job_role::kind::stitch) remove_work_area(spec);
    }
    return;
  }

  job_status found;
  if (worker_detail::finished_here(out, job_id, initial.idempotency_key, found, complete_marker)) {
    // A delivery killed inside publish left the replaced folder beside the package; a transcode
    // would remove it on its way, this path has to.
    out.store->remove_leftovers(out.path);
    if (role == job_role::kind::stitch) remove_work_area(spec);
    complete_already(j, status, std::move(found), job_id);
    return;
  }
  if (role == job_role::kind::stitch) {
    stitch(j, spec, out, status);
    return;
  }
  status.set(job_state::running);
  if (role == job_role::kind::none && spec.plan.chunking.enabled && split(j, spec, status)) return;

  media::transcode_options to;
  to.plan = spec.plan;
  to.policy = options.policy;
  to.encode_nice = options.encode_nice;
  to.encode_idle = options.encode_idle;
  to.publish_progressively_by_default = !child;
  to.remux_by_default = true;  // a chunk never copies (the engine says why in its result)
  to.encoder_threads = options.encoder_threads;
  to.progress_interval = std::min(options.status_interval, milliseconds(500));
  to.on_progress = [&status](const media::progress& p) { status.progress(p); };
  if (role == job_role::kind::chunk) {
    const auto& r = spec.role;
    to.chunk = media::chunk_span{r.index, r.first_segment, r.segments, r.start_s, r.end_s};
  } else if (role == job_role::kind::whole_input) {
    to.chunk = media::whole_input_span();
  }

  media::transcode_result result;
  auto ec = encode_and_publish(j, spec, out, to, status, result);
  if (ec == errc::output_exists && j.why == cancel_reason::none &&
      worker_detail::finished_here(out, job_id, initial.idempotency_key, found, complete_marker)) {
    // Another delivery of this job published while this one encoded.
    complete_already(j, status, std::move(found), job_id);
    return;
  }
  if (ec) {
    settle(j, status, ec, result.error_detail);
    return;
  }
  if (child) drop_if_orphaned(spec);
  status.announce_current();
  acknowledge(j);
  count(&worker_summary::succeeded);
}

// Published. A failed ack only means another delivery will find the package complete.
void worker_runtime::impl::acknowledge(job& j) {
  for (int tries = 0; tries < 3; ++tries) {
    auto aec = queue->ack(j.delivery).code;
    if (!aec || aec == errc::lease_lost) break;
    std::this_thread::sleep_for(milliseconds(200 << tries));
  }
}

// The job's input read through storage and its package written into a storage sink by the engine;
// then the worker, not the engine, sequences the publish.
error_code worker_runtime::impl::encode_and_publish(job& j, const job_spec& spec,
                                                    const worker_detail::output_place& out,
                                                    const media::transcode_options& to, status_channel& status,
                                                    media::transcode_result& result) {
  auto fail = [&](const error& e) {
    result.error_detail = e.what();
    return e.code;
  };
  auto in = storage::resolve(spec.input);
  if (!in) return fail(in.error());
  storage::source_options so;
  so.policy = options.policy;
  const auto opening = steady::now() + options.policy.deadline_for_opening();
  so.interrupt = [&j, opening]() -> error_code {
    if (j.cancel.load(std::memory_order_relaxed)) return errc::cancelled;
    if (steady::now() > opening) return errc::deadline_exceeded;
    return {};
  };
  auto source = in->backend->open_source(in->path, so);
  if (!source) return fail(source.error());
  auto sink = out.store->open_package(out.path, storage::package_options{});
  if (!sink) return fail(sink.error());
  auto& package = **sink;

  if (auto ec = media::transcode(**source, package, to, result, &j.cancel)) {
    package.abort();
    return ec;
  }
  return publish(j, package, status, result);
}

error_code worker_runtime::impl::publish(job& j, io::package_sink& package, status_channel& status,
                                         media::transcode_result& result) {
  auto fail = [&](const error& e) {
    package.abort();
    result.error_detail = e.what();
    return e.code;
  };
  // The last moment to find out that the lease is gone (a stalled process, a heartbeat that could
  // not get through): publishing now would race the job's newer delivery.
  auto extended = queue->extend(j.delivery, options.lease);
  auto lec = extended ? error_code() : extended.error().code;
  if (lec == errc::lease_lost || (lec && steady::now() + milliseconds(500) >= j.lease_deadline.load())) {
    j.cancel_for(cancel_reason::lease_lost);
    return fail(error(errc::lease_lost, "the lease was lost before publishing"));
  }
  if (auto e = status.finish_into(package, result.duration_s)) return fail(e);
  const auto deadline = result.deadline;
  auto e = package.commit([&j, deadline]() -> error {
    if (j.cancel.load()) return error(errc::cancelled, "cancelled while publishing");
    if (steady::now() > deadline) return error(errc::deadline_exceeded, "the job's deadline passed while publishing");
    return {};
  });
  if (e) return fail(e);
  return {};
}

void worker_runtime::impl::complete_already(job& j, status_channel& status, job_status found,
                                            const std::string& job_id) {
  auto ec = queue->ack(j.delivery).code;
  count(ec ? &worker_summary::lease_lost : &worker_summary::already_complete);
  if (ec) return;
  if (found.state == job_state::succeeded) {
    // The event speaks of this job; the file keeps naming the job that made the package.
    found.job_id = job_id;
    found.attempt = j.delivery.receive_count;
    status.announce(found);
  } else {
    // Whole, but a later delivery's progress overwrote its status.
    status.set(job_state::succeeded);
  }
}

queue::verdict worker_runtime::impl::settle(job& j, status_channel& status, const error_code& ec,
                                            const std::string& detail) {
  const auto& d = j.delivery;
  auto why = j.why.load();
  if (why == cancel_reason::lease_lost) {
    // Another delivery owns the job now; its status is its own to write.
    count(&worker_summary::lease_lost);
    return queue::verdict::release;
  }
  queue::retry_decision decision;
  if (why == cancel_reason::shutdown)
    decision.what = queue::verdict::release;
  else
    decision = queue::decide(options.retry, ec, d.receive_count, queue::detail::random_u64());

  error_code qec;
  switch (decision.what) {
    case queue::verdict::release:
      // Stopped by a shutdown: given back without counting (where the backend can). A job that
      // reports itself cancelled when nobody asked is a failure like any other, and counts.
      qec = (why == cancel_reason::shutdown ? queue->release(d) : queue->nack(d, milliseconds(0))).code;
      if (!qec) {
        count(&worker_summary::released);
        status.set(job_state::queued);
      }
      break;
    case queue::verdict::retry:
      qec = queue->nack(d, decision.delay).code;
      if (!qec) {
        count(&worker_summary::retried);
        status.set(job_state::failed, ec, detail);
      }
      break;
    case queue::verdict::dead_letter:
      qec = bury(d, decision.reason, to_json_text(error_json(ec, detail)));
      if (!qec) {
        count(&worker_summary::dead);
        status.set(job_state::dead, ec, detail);
        child_failed(j, ec, detail);
      }
      break;
  }
  // lease_lost here: the lease ran out while failing; the next delivery decides again.
  if (qec == errc::lease_lost) count(&worker_summary::lease_lost);
  return qec ? queue::verdict::release : decision.what;
}

worker_runtime::worker_runtime(std::shared_ptr<queue::queue_adapter> queue, worker_options options)
    : impl_(std::make_shared<impl>(std::move(queue), std::move(options))) {}

worker_runtime::~worker_runtime() {
  stop();
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait(lock, [this] { return !impl_->active; });
}

error_code worker_runtime::run(worker_summary& summary) { return run(summary, std::stop_token()); }

error_code worker_runtime::run(worker_summary& summary, std::stop_token drain_when) {
  summary = {};
  auto& m = *impl_;
  {
    std::lock_guard lock(m.mutex);
    if (m.active) return errc::already_running;
    m.active = true;
    m.summary = {};
    m.heartbeat_quit = false;
  }
  error_code ec;
  {
    // Registered once the run is active: a request made before is acted on here, at once.
    std::stop_callback on_request(drain_when, [&m] { m.drain(false); });
    ec = m.run(summary);
  }  // from here on a request no longer reaches this run, nor the next
  {
    std::lock_guard lock(m.mutex);
    m.draining = m.stopping = false;
    m.receive_cancel = false;
    m.active = false;
  }
  m.changed.notify_all();
  return ec;
}

void worker_runtime::drain() noexcept { impl_->drain(false); }
void worker_runtime::stop() noexcept { impl_->drain(true); }

std::size_t worker_runtime::running() const noexcept {
  std::lock_guard lock(impl_->mutex);
  return static_cast<std::size_t>(
      std::count_if(impl_->jobs.begin(), impl_->jobs.end(), [](const auto& j) { return !j->done.load(); }));
}

boost::json::value to_json(const worker_summary& s) {
  return boost::json::object{{"succeeded", s.succeeded}, {"already_complete", s.already_complete},
                             {"retried", s.retried},     {"dead", s.dead},
                             {"released", s.released},   {"lease_lost", s.lease_lost},
                             {"split", s.split}};
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
