#pragma once
// Internal: what the worker reads and writes in a job's output directory.
#include <spool/job.hpp>
#include <spool/media/transcode.hpp>
#include <spool/worker/worker.hpp>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>

namespace spool::worker_detail {

/// status.json and on_status for one job. Once the final status is in the package being published,
/// progress writes stop: they would otherwise land on top of it after the rename. A channel without
/// a directory only announces.
class status_channel {
 public:
  status_channel(const worker_options& o, std::filesystem::path dir, job_status s);

  void set(job_state state, error_code ec = {}, std::string message = {});
  void progress(const media::progress& p);
  /// Writes the final status into the staging directory; the package carries it from now on.
  void finish_into(const std::filesystem::path& staging);
  /// The event for what finish_into() wrote, once the package is really published.
  void announce_current();
  /// An event only, for a status.json that already says so or for a job with no output to write to.
  void announce(const job_status& s);
  /// Whether finish_into() wrote the final status (the package is being or was published).
  bool finished() const;

 private:
  const job_status& stamp();
  void publish_locked();
  void notify(const job_status& s);

  const worker_options& o_;
  std::filesystem::path dir_;
  job_status s_;
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  bool frozen_ = false;
};

/// Whether `out` holds this job's finished package: published by an earlier delivery that crashed,
/// lost its lease or stalled before acknowledging, or by an earlier job with the same idempotency
/// key. `found` is its status.
bool finished_here(const std::filesystem::path& out, const std::string& job_id, const std::string& key,
                   job_status& found);

/// Whether the worker may write into `out`: it does not exist, is an empty directory or one holding
/// only status files, or its status.json names this job (by id or idempotency key). A directory with
/// anyone else's files, or a path that is not a directory, is not this job's to touch. When it
/// cannot tell (the directory cannot be read) it says yes: the transcode reports what is wrong.
bool output_is_ours(const std::filesystem::path& out, const std::string& job_id, const std::string& key);

}  // namespace spool::worker_detail
