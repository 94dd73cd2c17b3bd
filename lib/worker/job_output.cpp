#include "worker/job_output.hpp"

#include <spool/worker/status.hpp>

#include <stdexcept>
#include <system_error>

#include "media/output_dir.hpp"

namespace fs = std::filesystem;

namespace spool::worker_detail {

status_channel::status_channel(const worker_options& o, fs::path dir, job_status s)
    : o_(o), dir_(std::move(dir)), s_(std::move(s)) {}

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
  publish_locked();
}

void status_channel::progress(const media::progress& p) {
  std::lock_guard lock(mutex_);
  auto now = std::chrono::steady_clock::now();
  if (frozen_ || (now - last_ < o_.status_interval && p.fraction < 1)) return;
  s_.progress = p.fraction;
  s_.eta_s = p.eta_s;
  publish_locked();
}

void status_channel::finish_into(const fs::path& staging) {
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
  if (!dir_.empty()) write_status(dir_, stamp());
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

bool finished_here(const fs::path& out, const std::string& job_id, const std::string& key, job_status& found) {
  // The status may have been overwritten since by a later delivery's progress; result.json, which
  // only a publish puts there, is what says the package is whole.
  std::error_code ec;
  if (read_status(out, found) || !fs::exists(out / "result.json", ec)) return false;
  return found.job_id == job_id || (!key.empty() && found.idempotency_key == key);
}

bool output_is_ours(const fs::path& out, const std::string& job_id, const std::string& key) {
  std::error_code ec;
  const auto st = fs::symlink_status(out, ec);
  if (st.type() == fs::file_type::not_found || st.type() == fs::file_type::none) return true;
  if (st.type() != fs::file_type::directory) return false;
  fs::directory_iterator it(out, ec);
  if (ec) return true;
  bool foreign = false;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name != media::status_file_name && name.rfind(media::status_tmp_prefix, 0) != 0) {
      foreign = true;
      break;
    }
  }
  if (ec) return true;
  job_status s;
  auto read = read_status(out, s);
  // Empty, or a status location (a status.json of spool's, of any job): spool's to write. A
  // status.json that is not spool's is someone else's file.
  if (!foreign) return !read || read == errc::input_unreadable;
  return !read && (s.job_id == job_id || (!key.empty() && s.idempotency_key == key));
}

}  // namespace spool::worker_detail
