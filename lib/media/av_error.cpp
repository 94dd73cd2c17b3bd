#include "media/av.hpp"

extern "C" {
#include <libavutil/error.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

error_code from_averror(int averror, errc fallback) noexcept {
  if (averror >= 0) return {};
  switch (averror) {
    case AVERROR_EXIT: return errc::cancelled;
    case AVERROR_EOF: return errc::input_truncated;
    case AVERROR_INVALIDDATA: return errc::input_undecodable;
    case AVERROR_DECODER_NOT_FOUND: return errc::codec_unsupported;
    case AVERROR_DEMUXER_NOT_FOUND: return errc::input_not_media;
    case AVERROR_ENCODER_NOT_FOUND: return errc::encoder_unavailable;
    case AVERROR_PATCHWELCOME: return errc::feature_unsupported;
    case AVERROR_PROTOCOL_NOT_FOUND: return errc::protocol_not_allowed;
    case AVERROR_STREAM_NOT_FOUND: return errc::input_no_streams;
    case AVERROR_HTTP_BAD_REQUEST:
    case AVERROR_HTTP_UNAUTHORIZED:
    case AVERROR_HTTP_FORBIDDEN:
    case AVERROR_HTTP_NOT_FOUND: return errc::input_unreadable;
    case AVERROR_HTTP_SERVER_ERROR:
    case AVERROR_HTTP_OTHER_4XX: return errc::network;
    case AVERROR_BUG:
    case AVERROR_BUG2:
    case AVERROR_BUFFER_TOO_SMALL: return errc::internal;
    default: break;
  }
  if (averror == AVERROR(ENOSPC) || averror == AVERROR(EDQUOT) || averror == AVERROR(EFBIG)) return errc::no_space;
  if (averror == AVERROR(ENOMEM)) return errc::out_of_memory;
  if (averror == AVERROR(EIO)) return errc::io_error;
  if (averror == AVERROR(ETIMEDOUT) || averror == AVERROR(ECONNRESET) || averror == AVERROR(ECONNREFUSED) ||
      averror == AVERROR(EHOSTUNREACH) || averror == AVERROR(ENETUNREACH))
    return errc::network;
  if (averror == AVERROR(ENOENT) || averror == AVERROR(EISDIR)) return errc::input_unreadable;
  if (averror == AVERROR(EINVAL)) return fallback;
  return fallback;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
