#include "worker/job_output.hpp"

#include <spool/json_text.hpp>
#include <spool/package_layout.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::worker_detail {
namespace {

std::string child(const std::string& path, std::string_view name) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p + "/" + std::string(name);
}

}  // namespace

status_channel::status_channel(const worker_options& o, std::unique_ptr<io::status_sink> sink, job_status s)
    : o_(o), sink_(std::move(sink)), s_(std::move(s)) {}

void status_channel::set(job_state state, error_code ec, std::string message) {
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
  if (state != job_state::succeeded && state != job_state::running) {
    // A failed progressive job's package was removed with it, and the status says so.
    if (s_.playable) s_.error_message += " (the package published while it ran was removed)";
    s_.playable = false;
    s_.playable_s = 0;
  }
  publish_locked();
}

void status_channel::progress(const media::progress& p) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  // Becoming playable is news: it is told at once, not at the next interval.
  bool news = p.playable_s > 0 && !s_.playable;
  if (frozen_ || (now - last_ < o_.status_interval && p.fraction < 1 && !news)) return;
  s_.progress = p.fraction;
  s_.eta_s = p.eta_s;
  if (p.playable_s > 0) {
    s_.playable = true;
    s_.playable_s = p.playable_s;
  }
  publish_locked();
}

void status_channel::chunks(chunk_count c, double progress) {
  std::lock_guard lock(mutex_);
  frozen_ = false;
  s_.state = job_state::running;
  s_.chunks = c;
  s_.progress = progress;
  s_.eta_s = -1;
  s_.error = {};
  s_.error_message.clear();
  publish_locked();
}

error status_channel::finish_into(io::package_sink& package, double duration_s) {
  std::lock_guard lock(mutex_);
  s_.state = job_state::succeeded;
  s_.progress = 1;
  s_.eta_s = 0;
  s_.playable = true;
  s_.playable_s = duration_s;
  s_.error = {};
  s_.error_message.clear();
  if (auto e = package.put_manifest(package_layout::status, to_json_text(to_json(stamp())) + "\n"))
    return error(e.code, "cannot write the final status: " + e.what());
  frozen_ = true;
  return {};
}

void status_channel::announce_current() {
  std::lock_guard lock(mutex_);
  notify(s_);
}

void status_channel::announce(const job_status& s) {
  std::lock_guard lock(mutex_);
  notify(s);
}

bool status_channel::finished() const {
  std::lock_guard lock(mutex_);
  return frozen_;
}

const job_status& status_channel::stamp() {
  s_.updated_at = std::chrono::system_clock::now();
  last_ = std::chrono::steady_clock::now();
  return s_;
}

void status_channel::publish_locked() {
  // A status write that fails (a read-only or full output location) must not fail the job: the
  // transcode reports the real problem with the output.
  if (sink_)
    (void)sink_->write(stamp());
  else
    stamp();
  notify(s_);
}

void status_channel::notify(const job_status& s) {
  if (!o_.on_status) return;
  try {
    o_.on_status(s);
  } catch (...) {
    // The host's callback must not take the worker down.
  }
}

bool finished_here(const output_place& out, const std::string& job_id, const std::string& key, job_status& found,
                   std::string_view marker) {
  // The status may have been overwritten since by a later delivery's progress; result.json, which
  // only a publish puts there, is what says the package is whole.
  auto sink = out.store->open_status(out.path);
  if (!sink) return false;
  auto s = (*sink)->read();
  if (!s || !*s) return false;
  auto result = out.store->read_file(child(out.path, marker));
  if (!result || !*result) return false;
  found = **s;
  return found.job_id == job_id || (!key.empty() && found.idempotency_key == key);
}

bool output_is_ours(const output_place& out, const std::string& job_id, const std::string& key) {
  auto names = out.store->list(out.path);
  if (!names) return names.error().code != errc::output_exists;  // not a folder: not ours; unreadable: can't tell
  if (!*names) return true;                                      // nothing there yet
  bool foreign = false;
  for (const auto& n : **names) foreign = foreign || n != package_layout::status;
  auto sink = out.store->open_status(out.path);
  if (!sink) return !foreign;
  auto s = (*sink)->read();
  // Empty, or a status location (a status.json of spool's, of any job): spool's to write. A
  // status.json that is not spool's is someone else's file.
  if (!foreign) return s.has_value();
  return s.has_value() && *s && ((*s)->job_id == job_id || (!key.empty() && (*s)->idempotency_key == key));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::worker_detail
