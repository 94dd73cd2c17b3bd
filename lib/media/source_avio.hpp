#pragma once
// Internal: any io::byte_source handed to FFmpeg as a custom AVIOContext, so FFmpeg never opens a
// file or URL itself. The callbacks never throw; a read's typed failure is kept and rethrown once
// FFmpeg returns (FFmpeg only passes an AVERROR along, or reports a failed read as the end).
#include <spool/io.hpp>

#include <cstdint>

#include "media/av.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

struct input_guard;

class source_avio {
 public:
  /// Installs the guard's cancellation and deadline as the source's interrupt.
  source_avio(io::byte_source& source, input_guard& guard);
  ~source_avio();
  source_avio(const source_avio&) = delete;
  source_avio& operator=(const source_avio&) = delete;

  /// Owned here; the format context must be closed first.
  AVIOContext* pb() const noexcept { return pb_; }
  /// Throws the source's typed failure if a read failed.
  void rethrow_failure() const;
  bool failed() const noexcept { return static_cast<bool>(failure_); }

 private:
  static int read(void* opaque, std::uint8_t* buf, int size) noexcept;
  static std::int64_t seek(void* opaque, std::int64_t offset, int whence) noexcept;
  int failed_with(error e) noexcept;

  io::byte_source& source_;
  input_guard& guard_;
  AVIOContext* pb_ = nullptr;
  std::int64_t pos_ = 0;
  error failure_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
