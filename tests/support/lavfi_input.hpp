#pragma once
// Synthetic test inputs, generated with libavfilter sources (testsrc2, sine) and encoded/muxed with
// the libav* C API. Nothing here runs the ffmpeg program and no binary media is committed: every
// test builds the inputs it needs, small and short, into its own scratch directory.
#include <spool/version.hpp>

#include <cstdint>
#include <filesystem>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

/// How the video timestamps of a generated input are laid out.
enum class vfr_mode {
  none,         ///< constant frame rate: frame i at i / fps
  alternating,  ///< frame durations alternate 1/20 s and 1/40 s (average 26.67 fps), fps is ignored
  dropped,      ///< the CFR grid at fps with every fifth frame missing (timestamp gaps)
};

struct input_spec {
  double duration_s = 4;

  // Video; `video = false` makes an audio-only input.
  bool video = true;
  int width = 320;
  int height = 240;
  int fps = 30;
  vfr_mode vfr = vfr_mode::none;
  std::string pix_fmt = "yuv420p";  ///< yuv420p, yuv422p, yuv444p, yuv420p10le, ... (encoder permitting)
  bool interlaced = false;          ///< encode as interlaced (MBAFF), top field first
  int rotation = 0;                 ///< clockwise degrees a player must rotate: 0, 90, 180, 270 (display matrix)
  std::string video_codec = "libx264";
  double gop_s = 2;  ///< keyframe interval of the source itself

  // Audio; `audio = false` makes a video-only input.
  bool audio = true;
  int sample_rate = 48000;
  int channels = 2;  ///< 1 or 2

  /// mp4, mov, mkv, ts (MPEG-TS), avi, nut, flv, or h264: a raw H.264 elementary stream, which
  /// carries no timestamps at all (video only).
  std::string container = "mp4";
  /// First timestamp of every stream, in seconds (0 = starts at zero).
  double start_offset_s = 0;

  /// Audio encoder: "aac", "libmp3lame", "libopus", "libvorbis", "flac", "ac3", "mp2" or "pcm_s16le".
  std::string audio_codec = "aac";
  /// A frame rate that is not a whole number: when fps_num > 0, the video runs at fps_num / fps_den
  /// frames per second (e.g. 30000/1001, 141/5) and `fps` is ignored. CFR only (vfr must be none).
  int fps_num = 0;
  int fps_den = 1;
  /// The video's sample (pixel) aspect ratio, sar_num:sar_den, in the bitstream (H.264 VUI) and the
  /// container; 16:1 makes a 320x180 picture display 5120 pixels wide.
  int sar_num = 1;
  int sar_den = 1;
};

/// Writes `path` as described by `spec`. Throws std::runtime_error when FFmpeg refuses.
void make_input(const std::filesystem::path& path, const input_spec& spec);

/// `bytes` of pseudo-random data (deterministic for a given seed).
void write_garbage(const std::filesystem::path& path, std::size_t bytes, std::uint32_t seed = 1);

/// Copies the first `fraction` of `source` to `path`.
void write_truncated(const std::filesystem::path& source, const std::filesystem::path& path, double fraction = 0.5);

/// The classic playlist trick: a text HLS playlist, saved under a media extension, whose single
/// segment is `target` (e.g. "file:///etc/passwd"). A reader that lets the hls demuxer open it
/// would read the target.
void write_hls_playlist_disguise(const std::filesystem::path& path, const std::string& target);

/// Writes `text` to `path`.
void write_text(const std::filesystem::path& path, const std::string& text);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
