#include <spool/media/log.hpp>

extern "C" {
#include <libavutil/log.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

void set_ffmpeg_log_level(ffmpeg_log level) noexcept {
  switch (level) {
    case ffmpeg_log::quiet: av_log_set_level(AV_LOG_QUIET); break;
    case ffmpeg_log::error: av_log_set_level(AV_LOG_ERROR); break;
    case ffmpeg_log::warning: av_log_set_level(AV_LOG_WARNING); break;
    case ffmpeg_log::info: av_log_set_level(AV_LOG_INFO); break;
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
