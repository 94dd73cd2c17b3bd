#pragma once
// What an input is, read under the input policy.
#include <spool/error.hpp>
#include <spool/input_policy.hpp>
#include <spool/io.hpp>
#include <spool/version.hpp>

#include <boost/json/value.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

struct SPOOL_API stream_info {
  int index = 0;
  std::string type;   ///< "video", "audio", "subtitle", "data"
  std::string codec;  ///< decoder name, e.g. "h264"
  // video
  int width = 0, height = 0;                  ///< coded size
  int display_width = 0, display_height = 0;  ///< after rotation and sample aspect ratio
  int rotation = 0;                           ///< clockwise degrees a player must rotate: 0, 90, 180, 270
  double fps = 0;                             ///< average frame rate
  std::string pix_fmt;
  int bit_depth = 8;
  bool interlaced = false;
  // audio
  int sample_rate = 0, channels = 0;
  double duration_s = 0;
  std::int64_t bit_rate = 0;
};

struct SPOOL_API probe_result {
  std::string format;  ///< demuxer name
  double duration_s = 0;
  std::int64_t size_bytes = 0;
  std::int64_t bit_rate = 0;
  std::vector<stream_info> streams;
  int video_index = -1;  ///< the stream that would be transcoded, -1 if none
  int audio_index = -1;
};

/// Reads the container in `input` under `policy` and describes it; a failure says why in words fit
/// for a log or an API response. Stops with errc::cancelled soon after *cancel becomes true (a
/// stalled read included). spool::probe (spool/transcode.hpp) does the same from a location.
SPOOL_API result<probe_result> probe(io::byte_source& input, const input_policy& policy,
                                     const std::atomic<bool>* cancel = nullptr);

SPOOL_API boost::json::value to_json(const probe_result& p);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
