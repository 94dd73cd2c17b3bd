#pragma once
// Internal: opening an input under the input policy.
#include <spool/input_policy.hpp>
#include <spool/io.hpp>
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "media/av.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

class source_avio;

/// State the interrupt callback and the nested-open guard read; outlives the format context.
struct input_guard {
  const cancel_flag* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool deadline_hit = false;
  bool cancelled = false;
  std::string refused_url;  ///< set when a demuxer tried to open another resource

  /// A limit of zero means none.
  void set_deadline(std::chrono::steady_clock::time_point start, std::chrono::seconds limit) {
    deadline = limit.count() > 0 ? start + limit : std::chrono::steady_clock::time_point::max();
  }
  /// Throws a failure when the run was cancelled or is past its deadline.
  void check() {
    if (cancel && cancel->load(std::memory_order_relaxed)) av::fail(errc::cancelled, "cancelled");
    if (std::chrono::steady_clock::now() > deadline) av::fail(errc::deadline_exceeded, "the job's deadline passed");
  }
  /// The same question without throwing (for callbacks and blocking reads); notes which stop it was.
  error_code interrupted() noexcept {
    if (cancel && cancel->load(std::memory_order_relaxed)) {
      cancelled = true;
      return errc::cancelled;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      deadline_hit = true;
      return errc::deadline_exceeded;
    }
    return {};
  }
};

class opened_input {
 public:
  opened_input();
  opened_input(const opened_input&) = delete;
  opened_input& operator=(const opened_input&) = delete;
  ~opened_input();

  AVFormatContext* get() const noexcept { return fmt_.get(); }
  AVFormatContext* operator->() const noexcept { return fmt_.get(); }

  /// Opens the container in `source` under `policy`, finds its streams and checks the policy's
  /// limits. `source` must outlive this object. Throws av::failure.
  void open(io::byte_source& source, const input_policy& policy, input_guard& guard);
  /// Turns an AVERROR from reading into a typed failure, taking the guard's state into account.
  [[noreturn]] void fail_read(int averror, const char* what) const;
  /// Throws the byte source's own typed failure (network, policy, ...) if it had one: a demuxer may
  /// report a failed read as the end of the input or as invalid data.
  void check_source() const;

 private:
  av::input_ptr fmt_;
  std::unique_ptr<source_avio> io_;
  input_guard* guard_ = nullptr;
};

/// Whether `policy.decoders` lists the codec.
bool decoder_allowed(AVCodecID id, const input_policy& policy);
/// Whether `policy.demuxers` lists the demuxer (any of a comma-separated name such as "mov,mp4,...").
bool demuxer_allowed(const char* name, const std::vector<std::string>& allowed);
/// FFmpeg's codec_whitelist for the codecs `policy.decoders` lists (FFmpeg lists decoder names).
std::string decoder_whitelist(const std::vector<std::string>& codecs);
/// More streams than the policy allows is errc::too_many_streams, whatever the container.
[[noreturn]] void fail_too_many_streams(const input_policy& policy);
void check_stream_count(const AVFormatContext* ctx, const input_policy& policy);
/// Coded and display sizes of every video stream against the pixel limit.
void check_pixels(AVFormatContext* ctx, const input_policy& policy);

/// Width and height a player shows for coded `width` × `height` with sample aspect ratio `sar`
/// (rotation aside): the width scaled by the ratio, as players do.
std::pair<int, int> display_size(int width, int height, AVRational sar);

/// Fills `out` from an opened input.
void describe(AVFormatContext* ctx, probe_result& out);

/// Clockwise rotation (0, 90, 180, 270) a player applies to the stream, from its display matrix.
int stream_rotation(const AVStream* st);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
