#pragma once
// Internal: what the worker reads and writes where a job's package goes, through storage only.
#include <spool/io.hpp>
#include <spool/job.hpp>
#include <spool/media/transcode.hpp>
#include <spool/storage/store.hpp>
#include <spool/worker/worker.hpp>

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::worker_detail {

/// Where a job's package goes: a storage backend and the path inside it.
struct output_place {
  std::shared_ptr<storage::store> store;
  std::string path;
};

/// The job's status and on_status for one job. Once the final status is in the package being
/// published, progress writes stop: they would otherwise land on top of it. A channel without a
/// sink only announces.
class status_channel {
 public:
  status_channel(const worker_options& o, std::unique_ptr<io::status_sink> sink, job_status s);

  void set(job_state state, error_code ec = {}, std::string message = {});
  void progress(const media::progress& p);
  /// A chunked job's progress: its children's count and mean progress, written at once.
  void chunks(chunk_count c, double progress);
  /// Puts the final status into the package, which carries it from now on.
  error finish_into(io::package_sink& package, double duration_s);
  /// The event for what finish_into() wrote, once the package is really published.
  void announce_current();
  /// An event only, for a status that already says so or for a job with no output to write to.
  void announce(const job_status& s);
  /// Whether finish_into() put the final status into a package (it is being or was published).
  bool finished() const;

 private:
  const job_status& stamp();
  void publish_locked();
  void notify(const job_status& s);

  const worker_options& o_;
  std::unique_ptr<io::status_sink> sink_;
  job_status s_;
  mutable std::mutex mutex_;
  std::chrono::steady_clock::time_point last_{};
  bool frozen_ = false;
};

/// Whether the output holds this job's finished package: published by an earlier delivery that
/// crashed, lost its lease or stalled before acknowledging, or by an earlier job with the same
/// idempotency key. `found` is its status. `marker` is the file only a publish puts there: result.json,
/// or chunk.json for a chunked job's child.
bool finished_here(const output_place& out, const std::string& job_id, const std::string& key, job_status& found,
                   std::string_view marker);

/// Whether the worker may write there: nothing is there, an empty folder or one holding only a
/// status, or its status names this job (by id or idempotency key). Anyone else's files, or a path
/// that is not a folder, are not this job's to touch. When it cannot tell (the location cannot be
/// read) it says yes: the transcode reports what is wrong.
bool output_is_ours(const output_place& out, const std::string& job_id, const std::string& key);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::worker_detail
