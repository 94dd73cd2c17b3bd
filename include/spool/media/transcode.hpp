#pragma once
// The media engine: one input into one adaptive-bitrate package (CMAF segments referenced by HLS and
// DASH), read and written through the ports of spool/io.hpp only. spool/transcode.hpp opens them from
// locations (a path, file://, https://) and publishes the package; spool/transcoder.hpp is the
// asynchronous, cancellable form.
#include <spool/error.hpp>
#include <spool/input_policy.hpp>
#include <spool/io.hpp>
#include <spool/media/probe.hpp>
#include <spool/plan.hpp>
#include <spool/version.hpp>

#include <boost/json/value.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// Progress of one rendition (video rung or the audio group).
struct SPOOL_API rendition_progress {
  std::string name;
  double fraction = 0;    ///< 0..1 of the input's duration
  double out_time_s = 0;  ///< output timestamp reached
  double fps = 0;         ///< output frames per second of wall time
  double speed = 0;       ///< output seconds per wall second (1.0 = real time)
};

struct SPOOL_API progress {
  double fraction = 0;  ///< overall: the slowest rendition
  double out_time_s = 0;
  double speed = 0;
  double eta_s = -1;  ///< -1 until known
  double elapsed_s = 0;
  /// Published progressively: how much of the package players can play now (every rendition's
  /// playlist reaches this far); 0 until the package is visible.
  double playable_s = 0;
  std::vector<rendition_progress> renditions;
};

using progress_callback = std::function<void(const progress&)>;

/// One chunk: segments [first_segment, first_segment + segments) of the package (0-based; its files
/// are the package's segment_file(first_segment + 1) ...), i.e. media time [start_s, end_s) of the
/// lecture, whose time zero is its first picture. end_s of the last chunk is +infinity (to the end of
/// the input); its `segments` is what the probed duration predicts, the encode may end a segment
/// earlier or later.
struct SPOOL_API chunk_span {
  int index = 0;
  std::int64_t first_segment = 0;
  std::int64_t segments = 0;
  double start_s = 0;
  double end_s = std::numeric_limits<double>::infinity();
};

struct SPOOL_API transcode_options {
  ::spool::plan plan;  ///< what to produce (default: the "hls-ladder" preset)
  input_policy policy;
  /// Called at most once per progress_interval, and once at 100%, from the thread running
  /// transcode() (for async_transcode, a media thread; never the host's io_context).
  progress_callback on_progress;
  std::chrono::milliseconds progress_interval{500};
  /// Added to the nice value of the encode threads (Linux: per thread); 0 keeps the caller's.
  int encode_nice = 10;
  /// Linux: also put the decode and encode threads in the SCHED_IDLE class, so they run only on CPU
  /// time no normally scheduled thread wants. For hosts that answer requests on the same machine: an
  /// encode then never keeps a request thread waiting.
  bool encode_idle = false;
  /// Threads each encoder may use; 0 = chosen from the core count and the rung's share of pixels.
  int encoder_threads = 0;
  /// Frames buffered per rendition between the decoder and each encoder.
  int queue_frames = 4;
  /// Read where the package is opened (spool::transcode, the CLI), not by the engine: replace a
  /// package already at the output, atomically, once the new one is whole.
  bool overwrite = false;
  /// Where the engine's local workspace goes (empty: the system's temporary folder). Only a
  /// progressive MP4 needs one: up to twice that rung's size, removed when the job ends.
  std::filesystem::path workspace;
  /// What plan.packaging.publish = "auto" means here: the worker publishes progressively, a plain
  /// transcode atomically.
  bool publish_progressively_by_default = false;
  /// A growing package's manifests are updated at most this often (and at once when it first becomes
  /// playable); 0 = after every segment.
  std::chrono::milliseconds publish_interval{1000};
  /// Set: encode one chunk of a chunked job, or its whole-input part (spool/media/chunks.hpp), and
  /// write chunk.json instead of manifests.
  std::optional<chunk_span> chunk;
};

struct SPOOL_API rendition_result {
  std::string name;
  std::string kind;    ///< "video" or "audio"
  std::string codecs;  ///< RFC 6381 codecs string, e.g. "avc1.640028"
  int width = 0, height = 0;
  double fps = 0;
  std::int64_t frames = 0;
  int segments = 0;
  double duration_s = 0;
  std::int64_t bytes = 0;
  std::int64_t avg_bitrate = 0;   ///< bits per second over the whole rendition
  std::int64_t peak_bitrate = 0;  ///< peak over runs of segments lasting 0.5-1.5x the target duration (RFC 8216bis)
};

/// Something the package lacks or changed from the source that did not fail the transcode: damaged
/// audio packets concealed with silence, gaps filled, frames that could not be decoded.
struct SPOOL_API transcode_warning {
  std::string code;     ///< stable snake_case name, e.g. "audio_packets_concealed"
  std::string message;  ///< in words
  std::int64_t count = 0;
};

struct SPOOL_API transcode_result {
  probe_result input;
  std::string output;  ///< where the package was published (set by spool::transcode and the worker)
  double duration_s = 0;
  std::vector<rendition_result> renditions;  ///< video rungs in ladder order, then audio
  std::vector<std::string> files;            ///< top-level files written (master.m3u8, ...)
  std::vector<transcode_warning> warnings;   ///< also in result.json
  double elapsed_s = 0, probe_s = 0, encode_s = 0, publish_s = 0;
  /// How the package was published: "progressive" (growing while it was encoded) or "atomic"; a
  /// progressive plan is published atomically when its sink cannot show files one by one (a local
  /// package replacing another), and `publish_note` says so.
  std::string publish = "atomic";
  std::string publish_note;
  /// Published progressively: seconds from the transcode's start to the package being playable.
  double first_playable_s = -1;
  /// The job's deadline (steady clock; max when none): a caller's commit keeps to it too.
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  /// On failure: what went wrong, in words.
  std::string error_detail;
};

SPOOL_API boost::json::value to_json(const transcode_result& r);

/// Cooperative cancellation: set to true from any thread; the transcode stops within about a frame.
using cancel_flag = std::atomic<bool>;

/// Transcodes the bytes of `input` into `output`: every segment, thumbnail, manifest and, last,
/// result.json, put into the sink. The package is not committed: the caller publishes it (or aborts
/// it) once it has done what it must first (a worker checks its lease and adds its status). Blocks the
/// calling thread; the media work runs on threads this call owns. On failure `result.error_detail`
/// says why, and the caller aborts the sink.
SPOOL_API error_code transcode(io::byte_source& input, io::package_sink& output, const transcode_options& options,
                               transcode_result& result, const cancel_flag* cancel = nullptr);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
