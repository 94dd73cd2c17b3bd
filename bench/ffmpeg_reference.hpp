#pragma once
// The ffmpeg command lines spool is measured against: spool's default ladder (ladder_settings.hpp)
// encoded by the ffmpeg program, in one process (B) or in one process per rung (C).
#include <filesystem>
#include <string>
#include <vector>

#include "ladder_settings.hpp"

namespace spool_bench {

struct ffmpeg_reference {
  std::string ffmpeg = "/usr/bin/ffmpeg";
  /// Threads of ffmpeg's video decoder (`-threads N` before `-i`); 0 leaves ffmpeg's own choice
  /// (frame threads, one more than there are cores). spool decodes with one thread, hence the default.
  int decoder_threads = 1;
};

/// B: one decode, split into every rung's scale, one libx264 encoder per rung, the audio once, one
/// HLS muxer with a variant map. Writes `out/<rung>/` and `out/audio/`.
std::vector<std::string> single_process_command(const ffmpeg_reference& ref, const std::string& src,
                                                const std::filesystem::path& out);

/// C: the command for rung `i` of several concurrent processes, each decoding the input itself.
/// The process of `audio_rung` (the cheapest) also encodes the audio into `out/audio/`.
std::vector<std::string> per_rung_command(const ffmpeg_reference& ref, const std::string& src,
                                          const std::filesystem::path& out, int i);

/// C: the process that also encodes the audio.
inline constexpr int audio_rung = rung_count - 1;

/// The libav* versions this program is linked with ("FFmpeg 5.1.6: libavutil 57.28.100, ...").
std::string ffmpeg_library_versions();

}  // namespace spool_bench
