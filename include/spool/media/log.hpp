#pragma once
// FFmpeg writes its own diagnostics (encoder statistics, demuxer warnings) to stderr through a
// process-wide log level. spool never changes it on its own, since the host may rely on it; this
// sets it without including FFmpeg headers. Every failure is reported by spool's errors anyway.
#include <spool/version.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

enum class ffmpeg_log { quiet, error, warning, info };

/// Sets FFmpeg's process-wide log level (av_log_set_level).
SPOOL_API void set_ffmpeg_log_level(ffmpeg_log level) noexcept;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
