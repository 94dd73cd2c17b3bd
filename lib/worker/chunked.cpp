// A chunked job: the worker that receives it splits it into children on the same queue (a chunk job
// per time range, one whole-input job, one stitch job); any worker encodes any child into the work
// area beside the output; the stitch job waits for them, writes the package over their segments,
// publishes the job's final status and removes the work area.
//
// Everything goes through the queue adapter and storage: nothing here knows a backend. Children are
// queued with idempotency keys made from the chunked job's id, so a chunked job delivered again
// queues nothing twice; each child is an ordinary job for retries, leases and dead letters, and
// publishes atomically, so a chunk lost with its worker is simply encoded again.
#include <spool/json_text.hpp>
#include <spool/media/chunks.hpp>
#include <spool/package_layout.hpp>
#include <spool/queue/submit.hpp>
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "worker/runtime.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

using std::chrono::milliseconds;
using kind = job_role::kind;

constexpr std::string_view key_prefix = "spool-chunked:";

std::string trimmed(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

// The queue names jobs; a name becomes part of a path only with what is safe in one.
std::string path_safe(std::string_view id) {
  std::string s(id);
  for (auto& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') c = '_';
  if (s.empty() || s[0] == '.') s.insert(0, "j");
  return s;
}

std::string work_area(const std::string& output, const std::string& job_id) {
  // Beside the output, one folder per chunked job: removing it leaves nothing behind.
  return trimmed(output) + ".chunks-" + path_safe(job_id);
}

// Where a child's package goes: chunk-0003, or whole-input for index whole_input_index.
std::string child_output(const std::string& work, int index) {
  return index == media::whole_input_index ? work + "/whole-input" : fmt::format("{}/chunk-{:04d}", work, index);
}

std::string child_key(const std::string& parent_id, std::string_view what) {
  return std::string(key_prefix) + parent_id + ":" + std::string(what);
}

std::string child_name(int index, int chunks) {
  return index == media::whole_input_index ? std::string("the whole-input part")
                                           : fmt::format("chunk {} of {}", index + 1, chunks);
}

// Where a child that failed for good says so: a status of its own beside the children's packages.
std::string failed_marker(const std::string& work) { return work + "/failed"; }

std::optional<job_status> read_status_at(const std::shared_ptr<storage::store>& store, const std::string& path) {
  auto sink = store->open_status(path);
  if (!sink) return std::nullopt;
  auto s = (*sink)->read();
  if (!s || !*s) return std::nullopt;
  return **s;
}

// How often a stitch job looks at its children: often enough for the status to follow them, rarely
// enough to cost a queue little.
milliseconds stitch_poll(const worker_options& o) {
  return std::clamp(o.status_interval * 2, milliseconds(250), milliseconds(10'000));
}

// The chunked job's status, read where its package goes.
std::optional<job_status> parent_status(const job_spec& spec, const std::shared_ptr<storage::store>& store,
                                        const std::string& parent_path) {
  auto s = read_status_at(store, parent_path);
  if (!s || s->job_id != spec.role.parent_id) return std::nullopt;
  return s;
}

// What became of the chunked job a child belongs to: still under way (nullopt), or over: dead or
// succeeded (stitched and published), as its status says, or, with `marker`, dead because a child
// said so in the work area (the stitch job has not made the job dead yet).
std::optional<job_state> chunked_job_over(const job_spec& spec, bool marker) {
  if (marker) {
    auto work = storage::resolve(spec.role.work);
    if (auto failed = work ? read_status_at(work->backend, failed_marker(work->path)) : std::nullopt;
        failed && failed->state == job_state::dead)
      return job_state::dead;
  }
  auto parent = storage::resolve(spec.role.parent_output);
  if (!parent) return std::nullopt;
  auto s = parent_status(spec, parent->backend, parent->path);
  if (s && (s->state == job_state::dead || s->state == job_state::succeeded)) return s->state;
  return std::nullopt;
}

}  // namespace

bool worker_runtime::impl::split(job& j, const job_spec& spec, status_channel& status) {
  const auto& c = spec.plan.chunking;
  auto probed = spool::probe(spec.input, options.policy, &j.cancel);
  // What cannot be probed is the ordinary encode's to report, with its own error.
  if (!probed || !(probed->duration_s >= c.min_duration_s)) return false;
  // Chunks divide the video rungs' work; a recording without video (or a plan without rungs) has none.
  if (probed->video_index < 0 || spec.plan.video.rungs.empty()) return false;
  auto spans = media::plan_chunks(probed->duration_s, spec.plan.packaging.segment_s, c.chunk_s);
  if (!spans || spans->size() < 2) return false;

  const std::string& id = j.delivery.message_id;
  job_role role;
  role.parent_id = id;
  role.parent_key = spec.idempotency_key;
  role.parent_output = spec.output;
  role.work = work_area(spec.output, id);
  role.chunks = static_cast<int>(spans->size());
  auto child = [&](kind what, int index, std::string key) {
    job_spec s;
    s.input = spec.input;
    s.plan = spec.plan;
    s.resolved_by = spec.resolved_by;
    s.metadata = spec.metadata;
    s.role = role;
    s.role.what = what;
    s.role.index = std::max(index, 0);
    s.output = what == kind::stitch ? spec.output : child_output(role.work, index);
    s.idempotency_key = std::move(key);
    return s;
  };
  std::vector<job_spec> children;
  for (const auto& span : *spans) {
    auto s = child(kind::chunk, span.index, child_key(id, fmt::format("chunk-{}", span.index)));
    s.role.first_segment = span.first_segment;
    s.role.segments = span.segments;
    s.role.start_s = span.start_s;
    s.role.end_s = span.end_s;
    children.push_back(std::move(s));
  }
  children.push_back(child(kind::whole_input, media::whole_input_index, child_key(id, "whole-input")));
  const auto stitcher = child(kind::stitch, 0, child_key(id, "stitch-0"));

  auto failed = [&](const error& e) {
    settle(j, status, e.code, "cannot queue the chunks: " + e.what());
    return true;
  };
  for (auto& r : queue::submit_batch(*queue, children))
    if (!r) return failed(r.error());
  // The stitch job first looks after a pause: nothing can be done before.
  auto body = to_json_text(to_json(stitcher));
  auto sent = queue->send({std::move(body), stitcher.idempotency_key, stitch_poll(options)});
  if (!sent) return failed(sent.error());

  status.chunks(chunk_count{0, role.chunks}, 0);
  acknowledge(j);
  count(&worker_summary::split);
  return true;
}

bool worker_runtime::impl::skip_orphan(job& j, const job_spec& spec) {
  // Its chunked job failed, or was stitched while this delivery of the child waited (an earlier
  // one published and could not acknowledge): encoding would only leave files behind.
  const auto over = chunked_job_over(spec, true);
  if (!over) return false;
  if (queue->ack(j.delivery))
    count(&worker_summary::lease_lost);
  else if (*over == job_state::succeeded)
    count(&worker_summary::already_complete);
  return true;
}

void worker_runtime::impl::drop_if_orphaned(const job_spec& spec) {
  // Published after the stitch job removed the work area: removed again. Not on a child's word
  // alone: the stitch job reads it there to make the job dead.
  if (chunked_job_over(spec, false)) remove_work_area(spec);
}

void worker_runtime::impl::remove_work_area(const job_spec& spec) noexcept {
  try {
    if (auto work = storage::resolve(spec.role.work)) (void)work->backend->remove_all(work->path);
  } catch (...) {
    // Best effort: what is left is a folder of finished packages beside the output.
  }
}

void worker_runtime::impl::child_failed(const job& j, const error_code& ec, const std::string& why) noexcept {
  try {
    if (!j.spec) return;
    const auto& spec = *j.spec;
    if (spec.role.what != kind::chunk && spec.role.what != kind::whole_input) return;
    auto where = storage::resolve(spec.role.work);
    if (!where) return;
    auto sink = where->backend->open_status(failed_marker(where->path));
    if (!sink) return;
    job_status s;
    s.job_id = j.delivery.message_id;
    s.state = job_state::dead;
    s.error = ec ? ec : error_code(errc::internal);
    s.error_message =
        child_name(spec.role.what == kind::chunk ? spec.role.index : media::whole_input_index, spec.role.chunks) +
        " failed for good: " + why;
    s.updated_at = std::chrono::system_clock::now();
    (void)(*sink)->write(s);
  } catch (...) {
    // Best effort: the child's own dead status, where it could write one, says the same.
  }
}

void worker_runtime::impl::stitch(job& j, const job_spec& spec, const output_place& out, status_channel& status) {
  const auto& r = spec.role;
  // The work area, where the children's packages are; the job's own output is `out`.
  auto work = storage::resolve(r.work);
  if (!work) {
    settle(j, status, work.error().code, "the work area " + r.work + ": " + work.error().what());
    return;
  }
  const auto& store = work->backend;
  auto fail_chunked = [&](const error_code& ec, const std::string& why) {
    // The chunked job is dead, and this stitch job with it; what the children made goes. Dead is
    // said first: a child that publishes after the removal finds it and removes its package.
    status.set(job_state::dead, ec, why);
    remove_work_area(spec);
    if (!bury(j.delivery, why, to_json_text(error_json(ec, why)))) count(&worker_summary::dead);
  };
  if (auto failed = read_status_at(store, failed_marker(work->path)); failed && failed->state == job_state::dead)
    return fail_chunked(failed->error ? failed->error : error_code(errc::internal), failed->error_message);
  // Every child's status, from its own package's folder in the work area.
  int chunks_done = 0;
  bool whole_input_done = false;
  double progress = 0;
  for (int i = media::whole_input_index; i < r.chunks; ++i) {
    auto s = read_status_at(store, child_output(work->path, i));
    if (!s) continue;  // not started yet
    if (s->state == job_state::dead)
      return fail_chunked(s->error ? s->error : error_code(errc::internal),
                          child_name(i, r.chunks) + " failed for good: " + s->error_message);
    const bool done = s->state == job_state::succeeded;
    progress += done ? 1 : std::clamp(s->progress, 0.0, 1.0);
    if (done && i == media::whole_input_index) whole_input_done = true;
    if (done && i != media::whole_input_index) ++chunks_done;
  }
  const double mean = progress / (r.chunks + 1);

  if (chunks_done < r.chunks || !whole_input_done) {
    status.chunks(chunk_count{chunks_done, r.chunks}, mean);
    // Not yet: the stitch job comes back after a pause as a new message, so that waiting is never
    // counted as a failed delivery (nor reaches a backend's own limit of receives).
    job_spec next = spec;
    next.role.wait = r.wait + 1;
    next.idempotency_key = child_key(r.parent_id, fmt::format("stitch-{}", next.role.wait));
    auto sent = queue->send({to_json_text(to_json(next)), next.idempotency_key, stitch_poll(options)});
    if (sent)
      acknowledge(j);
    else
      (void)queue->nack(j.delivery, stitch_poll(options));
    return;
  }

  status.chunks(chunk_count{r.chunks, r.chunks}, mean);
  media::transcode_result stitched;
  auto fail = [&](const error& e) {
    if (settle(j, status, e.code, e.what()) == queue::verdict::dead_letter) remove_work_area(spec);
  };
  media::stitch_input parts;
  auto read = [&](int index, std::string_view name) -> result<std::string> {
    const std::string path = child_output(work->path, index) + "/" + std::string(name);
    auto got = store->read_file(path);
    if (!got) return got.error();
    if (!*got) return error(errc::internal, child_name(index, r.chunks) + " has no " + std::string(name));
    return **std::move(got);
  };
  for (int i = 0; i < r.chunks; ++i) {
    auto text = read(i, media::chunk_manifest);
    if (!text) return fail(text.error());
    parts.chunk_json.push_back(*std::move(text));
  }
  auto whole = read(media::whole_input_index, media::chunk_manifest);
  if (!whole) return fail(whole.error());
  parts.whole_input_json = *std::move(whole);

  auto sink = out.store->open_package(out.path, storage::package_options{});
  if (!sink) return fail(sink.error());
  auto& package = **sink;
  if (auto e = media::stitch(spec.plan, parts, read, package, stitched)) {
    package.abort();
    return fail(e);
  }
  if (auto ec = publish(j, package, status, stitched)) {
    if (settle(j, status, ec, stitched.error_detail) == queue::verdict::dead_letter) remove_work_area(spec);
    return;
  }
  remove_work_area(spec);
  status.announce_current();
  acknowledge(j);
  count(&worker_summary::succeeded);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
