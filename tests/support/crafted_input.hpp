#pragma once
// Hostile variants of generated inputs: the same media remuxed packet by packet with edited
// timestamps, durations, aspect ratios, stream counts or damaged payloads, and containers whose
// declared duration is rewritten in place. Everything is made at test time from make_input()'s
// output; nothing here is committed media.
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

/// One packet as the remux sees it; the edit callback may change any field.
struct packet_edit {
  int stream = 0;  ///< output stream index
  bool video = false;
  std::int64_t index = 0;                       ///< packet number within its input stream
  std::int64_t count = 0;                       ///< packets of that stream in the whole input
  std::int64_t pts = 0, dts = 0, duration = 0;  ///< in `time_base`
  int tb_num = 1, tb_den = 1;
  bool drop = false;     ///< leave the packet out
  bool damage = false;   ///< overwrite the payload (after its first byte) with noise
  int truncate_to = -1;  ///< keep only this many payload bytes (>= 0)
};

struct remux_spec {
  std::string container;                             ///< muxer name: matroska, mp4, mov, mpegts, nut, flv, avi, h264
  std::map<std::string, std::string> muxer_options;  ///< e.g. {"live", "1"}: Matroska without a duration
  std::function<void(packet_edit&)> edit;            ///< called for every packet, in input order
  int sar_num = 0, sar_den = 0;                      ///< written as the video stream's (container) aspect ratio
  /// Written as the video stream's frame rate: Matroska turns it into the track's DefaultDuration,
  /// the duration every block without its own claims (1/3600 makes each frame claim an hour).
  int rate_num = 0, rate_den = 0;
  int extra_audio = 0;  ///< copies of the first audio stream added as more streams
  bool keep_video = true, keep_audio = true;
};

/// Reads `input` and writes `output` under `spec`. Throws std::runtime_error when FFmpeg refuses.
void remux(const std::filesystem::path& input, const std::filesystem::path& output, const remux_spec& spec);

/// Rewrites the Duration a Matroska file declares in its Info element (stored as a float in
/// TimestampScale units). Throws when the element is not found.
void patch_matroska_duration(const std::filesystem::path& file, double seconds);

/// Rewrites the durations an MP4/MOV declares: mvhd, every tkhd and mdhd (each in its own timescale).
void patch_mp4_duration(const std::filesystem::path& file, double seconds);

/// The largest end (pts + duration, seconds) of any packet of the file's first stream of `video`
/// or audio kind, as libavformat reads it: proof that a crafted field made it into the file.
double max_packet_end_s(const std::filesystem::path& file, bool video);

/// Appends the bytes of `b` to a copy of `a` (MPEG-TS and raw H.264 streams concatenate this way).
void concatenate(const std::filesystem::path& a, const std::filesystem::path& b, const std::filesystem::path& out);

/// Peak resident memory (kB) of a child process that runs `work` and exits with its return value;
/// `exit_code` receives it. Lets a test compare the memory of two runs without sharing a heap.
long child_peak_rss_kb(const std::function<int()>& work, int& exit_code);

/// What a child run under a file-size limit did.
struct limited_child {
  bool hung = false;    ///< still running when the watchdog ran out, and killed
  bool exited = false;  ///< exited normally (not killed by a signal)
  int exit_code = -1;   ///< its exit code when it exited
  std::string said;     ///< the message `work` left
};

/// The exit code of a child whose work threw.
inline constexpr int child_threw = 3;

/// Runs `work` in a forked child in which every file may grow to `file_size_limit` bytes
/// (RLIMIT_FSIZE, SIGXFSZ ignored: a write past it fails with EFBIG, as one on a full disk fails with
/// ENOSPC). The child exits with what `work` returns (child_threw when it throws) and hands back the
/// message `work` set. A child still running after `watchdog` is killed: a hang is a failure, and
/// this is no timing assertion. Fork before this process starts threads of its own.
limited_child run_with_file_size_limit(std::uintmax_t file_size_limit,
                                       const std::function<int(std::string& message)>& work,
                                       std::chrono::seconds watchdog = std::chrono::minutes(4));

/// Whether two peak RSS figures compare runs. Not under AddressSanitizer: it keeps freed memory in
/// quarantine (up to 256 MB) and inherits the test process's, so a bounded run and an unbounded one
/// look alike; the memory bounds are checked by the ordinary build.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool peak_rss_compares = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool peak_rss_compares = false;
#else
inline constexpr bool peak_rss_compares = true;
#endif
#else
inline constexpr bool peak_rss_compares = true;
#endif

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
