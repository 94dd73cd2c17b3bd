#pragma once
// Internal: files that are written durably (fsync on close) and whose every failure is typed: a full
// disk is errc::no_space, never a silent success. Shared by the media engine's workspace and local
// storage; failures are thrown as spool::failure.
#include <spool/error.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::detail {

/// Maps errno into spool's taxonomy (ENOSPC, EDQUOT, EFBIG: no_space; ENOMEM: out_of_memory; else
/// io_error) and throws spool::failure with `what` and the system's words.
[[noreturn]] SPOOL_API void fail_errno(int e, const std::string& what);

/// A file written with write(2); fsync'd on close.
class SPOOL_API out_file {
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
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  int fd_ = -1;
  std::int64_t pos_ = 0;
  std::int64_t size_ = 0;
  std::filesystem::path path_;
};

/// Writes all of `data` to `fd`, retrying short writes; `what` names the file in errors.
SPOOL_API void write_all(int fd, std::string_view data, const std::filesystem::path& what);
/// Writes a whole file, synced.
SPOOL_API void write_file(const std::filesystem::path& p, std::string_view content);
/// fsyncs a directory so the names in it are durable.
SPOOL_API void sync_dir(const std::filesystem::path& dir);

/// A temporary file or directory `dir/<prefix>XXXXXX`, locked (flock) by this process; the lock dies
/// with the process, which is how remove_stale() tells a crashed writer's leftovers from a live
/// one's. The caller closes `fd` when done (dropping the lock).
struct SPOOL_API locked_temp {
  std::filesystem::path path;
  int fd = -1;
};
SPOOL_API locked_temp make_locked_temp(const std::filesystem::path& dir, const std::string& prefix, bool directory);
/// Removes every `dir/<prefix>*` whose owner is gone (its lock can be taken). Best effort.
SPOOL_API void remove_stale(const std::filesystem::path& dir, const std::string& prefix) noexcept;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::detail
