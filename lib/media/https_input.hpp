#pragma once
// Internal: an https:// input handed to FFmpeg as a custom AVIOContext over https_source, so that no
// network URL ever reaches FFmpeg's own protocols (which neither verify certificates by default nor
// restrict redirects).
#include <spool/input_policy.hpp>

#include <memory>
#include <string>

#include "media/av.hpp"
#include "media/input.hpp"

namespace spool::media {

class https_source;

class https_input {
 public:
  /// Connects to `url` under `policy` and reads the response header. Throws av::failure, typed
  /// (protocol_not_allowed, network, input_unreadable, cancelled, ...), when it cannot.
  https_input(const std::string& url, const input_policy& policy, input_guard& guard);
  ~https_input();
  https_input(const https_input&) = delete;
  https_input& operator=(const https_input&) = delete;

  /// Owned here; the format context must be closed first.
  AVIOContext* pb() const noexcept { return pb_; }
  /// The URL without its query string, for messages and logs.
  const std::string& name() const noexcept { return name_; }
  /// Throws the source's typed failure if reading failed: FFmpeg only saw an AVERROR.
  void rethrow_failure() const;

 private:
  static int read(void* opaque, std::uint8_t* buf, int size) noexcept;
  static std::int64_t seek(void* opaque, std::int64_t offset, int whence) noexcept;
  int error_return() const noexcept;
  void caught(errc e, const char* what) noexcept;

  std::unique_ptr<https_source> source_;
  std::string name_;
  AVIOContext* pb_ = nullptr;
  // An exception caught inside a callback (allocation-free, so recording it cannot throw again).
  error_code thrown_;
  const char* thrown_detail_ = "";
};

}  // namespace spool::media
