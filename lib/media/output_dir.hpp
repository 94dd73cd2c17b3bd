#pragma once
// Internal: the staging directory a package is written into and published from, and files whose
// every write error becomes a typed failure (a full disk is errc::no_space, never a silent success).
#include "media/av.hpp"
#include <spool/package_layout.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace spool::media {

class staging_dir {
 public:
  /// Checks `output` and creates a temporary sibling `.<name>.spool-tmp-XXXXXX`. Throws av::failure.
  staging_dir(std::filesystem::path output, bool overwrite);
  staging_dir(const staging_dir&) = delete;
  staging_dir& operator=(const staging_dir&) = delete;
  /// Removes the temporary directory unless published.
  ~staging_dir();

  const std::filesystem::path& path() const noexcept { return tmp_; }
  /// Makes the package visible at `output` in one step (rename, or an atomic exchange when
  /// replacing an existing package), after syncing it to disk. `check` runs between directories and
  /// before the rename; what it throws stops the publish with nothing visible.
  void publish(const std::function<void()>& check = {});

 private:
  std::filesystem::path output_;
  std::filesystem::path tmp_;
  bool overwrite_ = false;
  bool published_ = false;
  int lock_fd_ = -1;  ///< holds a flock on tmp_ while this process owns it
};

/// A file written with write(2); fsync'd on close. Errors throw av::failure (no_space, io_error).
class out_file {
 public:
  out_file() = default;
  explicit out_file(const std::filesystem::path& p) { open(p); }
  out_file(const out_file&) = delete;
  out_file& operator=(const out_file&) = delete;
  ~out_file();

  void open(const std::filesystem::path& p);
  void write(const void* data, std::size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  /// Moves the write position to `offset` from the start (for formats that patch what they wrote).
  void seek(std::int64_t offset);
  /// Syncs and closes; returns the file's size.
  std::int64_t close();
  bool is_open() const noexcept { return fd_ >= 0; }
  /// The file's size: the furthest byte written.
  std::int64_t size() const noexcept { return size_; }

 private:
  int fd_ = -1;
  std::int64_t pos_ = 0;
  std::int64_t size_ = 0;
  std::filesystem::path path_;
};

/// Writes all of `data` to `fd`, retrying short writes; `what` names the file in errors.
void write_all(int fd, std::string_view data, const std::filesystem::path& what);
/// Writes a whole file (small manifests, JSON).
void write_file(const std::filesystem::path& p, std::string_view content);
/// Maps errno into spool's taxonomy and throws.
[[noreturn]] void fail_errno(int e, const std::string& what);
/// fsyncs a directory so the names in it are durable.
void sync_dir(const std::filesystem::path& dir);

/// The job status file a worker keeps in an output directory. It is not package content: a
/// directory holding only it counts as empty, and publishing replaces it with the package's own.
inline constexpr std::string_view status_file_name = package_layout::status;
/// Prefix of the temporaries status.json is written through.
inline const std::string status_tmp_prefix = "." + std::string(status_file_name) + ".tmp-";

/// Creates a temporary file or directory `dir/<prefix>XXXXXX` and returns it locked (flock) by
/// this process; the lock dies with the process, which is how remove_stale() tells a crashed
/// writer's leftovers from a live one's. The caller closes `fd` when done (dropping the lock).
struct locked_temp {
  std::filesystem::path path;
  int fd = -1;
};
locked_temp make_locked_temp(const std::filesystem::path& dir, const std::string& prefix, bool directory);
/// Removes every `dir/<prefix>*` whose owner is gone (its lock can be taken). Best effort.
void remove_stale(const std::filesystem::path& dir, const std::string& prefix);
/// Removes the staging directories of `output` whose writers are gone (crashed mid-transcode or
/// mid-publish). Best effort; a live transcode's directory is never touched.
void remove_stale_staging(const std::filesystem::path& output);
/// True when `p` is a directory holding nothing but status files (or nothing at all).
bool holds_no_package(const std::filesystem::path& p);

}  // namespace spool::media
