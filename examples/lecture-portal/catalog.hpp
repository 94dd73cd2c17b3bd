#pragma once
// The portal's videos: one record per upload, kept in memory and in DIR/videos/ID.json (replaced
// whole on every change, so a restart finds every video where it was). Thread-safe. Watchers are told
// of each change; they run under no lock and must return quickly.
#include <spool/job.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace portal {

enum class video_state { uploading, queued, running, succeeded, failed, dead };
std::string_view to_string(video_state s) noexcept;
bool is_final(video_state s) noexcept;

struct video {
  std::string id;
  std::string filename;
  std::int64_t size = 0;
  std::string content_type;
  video_state state = video_state::uploading;
  double progress = 0;
  double eta_s = -1;
  bool playable = false;  // the worker says so: published progressively, or finished
  double playable_s = 0;
  boost::json::value error;  // null, or {"code","category","message"}
  std::chrono::system_clock::time_point created_at{}, updated_at{};
  std::string job_id;
  std::int64_t upload_expires = 0;                    // unix seconds; the upload URL's expiry
  std::chrono::system_clock::time_point status_at{};  // the newest worker status taken
  std::uint64_t version = 0;                          // bumped on every change
};

/// The record as the API shows it (adds the package and player URLs).
boost::json::object to_json(const video& v);

/// Ids are 16 lowercase hex digits: the only form a path may take.
bool valid_id(std::string_view id) noexcept;
std::string new_id();

class catalog {
 public:
  using watcher = std::function<void(const video&)>;

  /// Loads DIR/videos/*.json; a record that cannot be read is reported on stderr and skipped.
  explicit catalog(std::filesystem::path dir);

  /// Adds a record; false when `limit` records exist already.
  bool add(video v, std::size_t limit);
  std::optional<video> get(std::string_view id) const;
  /// Newest first.
  std::vector<video> list() const;
  std::size_t size() const;
  /// Applies `change` to the record and saves it; false when there is none. `change` runs under the
  /// lock: keep it to assignments.
  bool update(std::string_view id, const std::function<void(video&)>& change);
  /// Takes what a worker's status says about the job (matched by job id or by the video id the job's
  /// metadata carries); an older status never overrides a newer one.
  void apply(const spool::job_status& s);
  /// `w` is called after every change of any record until the returned handle is released. The
  /// handle may outlive the catalog (a connection torn down after the service is gone).
  std::shared_ptr<void> watch(watcher w);
  /// Counts by state.
  std::map<video_state, std::int64_t> counts() const;

 private:
  void save(const video& v) const;
  void notify(const video& v);

  std::filesystem::path dir_;
  mutable std::mutex mutex_;
  std::map<std::string, video, std::less<>> videos_;
  struct watch_list {
    std::mutex mutex;
    std::map<std::uint64_t, watcher> watchers;
    std::uint64_t next = 1;
  };
  std::shared_ptr<watch_list> watch_ = std::make_shared<watch_list>();
};

}  // namespace portal
