#pragma once
// What an input is, read under the input policy.
#include <spool/error.hpp>
#include <spool/input_policy.hpp>

#include <boost/json/value.hpp>

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace spool::media {

struct stream_info {
  int index = 0;
  std::string type;   ///< "video", "audio", "subtitle", "data"
  std::string codec;  ///< decoder name, e.g. "h264"
  // video
  int width = 0, height = 0;       ///< coded size
  int display_width = 0, display_height = 0;  ///< after rotation and sample aspect ratio
  int rotation = 0;                ///< clockwise degrees a player must rotate: 0, 90, 180, 270
  double fps = 0;                  ///< average frame rate
  std::string pix_fmt;
  int bit_depth = 8;
  bool interlaced = false;
  // audio
  int sample_rate = 0, channels = 0;
  double duration_s = 0;
  std::int64_t bit_rate = 0;
};

struct probe_result {
  std::string format;  ///< demuxer name
  double duration_s = 0;
  std::int64_t size_bytes = 0;
  std::int64_t bit_rate = 0;
  std::vector<stream_info> streams;
  int video_index = -1;  ///< the stream that would be transcoded, -1 if none
  int audio_index = -1;
};

/// Opens `input` (a path, file:// URI or allowed https:// URL) under `policy` and describes it.
/// On failure `detail` says why, in words fit for a log or an API response.
error_code probe(const std::string& input, const input_policy& policy, probe_result& out,
                 std::string* detail = nullptr);
/// As above; stops with errc::cancelled soon after *cancel becomes true (a stalled read included).
error_code probe(const std::string& input, const input_policy& policy, probe_result& out,
                 const std::atomic<bool>* cancel, std::string* detail = nullptr);

boost::json::value to_json(const probe_result& p);

}  // namespace spool::media
