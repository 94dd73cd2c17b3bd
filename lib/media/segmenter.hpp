#pragma once
// Internal: one rendition's CMAF track: init.mp4 plus numbered fMP4 segments, cut on keyframes at
// the segment grid, with every segment's timing and size measured for the manifests.
#include "media/av.hpp"
#include "media/output_dir.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace spool::media {

struct segment_info {
  std::int64_t start = 0;     ///< presentation start, in the track's timescale
  std::int64_t duration = 0;  ///< in the track's timescale
  std::int64_t bytes = 0;
};

struct track_info {
  std::string name;     ///< directory under the package root
  bool video = true;
  std::string codecs;   ///< RFC 6381
  int width = 0, height = 0;
  AVRational frame_rate{0, 1};
  int sample_rate = 0, channels = 0;
  int timescale = 90000;
  std::int64_t init_bytes = 0;
  std::int64_t frames = 0;
  std::vector<segment_info> segments;

  double duration_s() const;
  std::int64_t bytes() const;
  std::int64_t avg_bitrate() const;
  std::int64_t peak_bitrate() const;
};

class cmaf_writer {
 public:
  /// `dir` is created; `enc` must be open (its extradata goes into init.mp4).
  cmaf_writer(std::filesystem::path dir, const AVCodecContext* enc, double segment_s, track_info& info);
  cmaf_writer(const cmaf_writer&) = delete;
  cmaf_writer& operator=(const cmaf_writer&) = delete;
  ~cmaf_writer();

  /// Takes a packet in the encoder's time base. Video segments are cut at keyframes on the grid;
  /// audio at the first packet on or after each grid line.
  void write(AVPacket* pkt);
  /// Flushes the last segment and closes every file.
  void finish();

 private:
  static int write_cb(void* opaque, std::uint8_t* buf, int size);
  void open_segment();
  void close_segment(std::int64_t end_pts);
  void patch_fragments(std::string& segment);
  std::size_t init_size();

  std::filesystem::path dir_;
  track_info& info_;
  AVRational enc_tb_;
  AVFormatContext* ctx_ = nullptr;
  AVIOContext* pb_ = nullptr;
  out_file file_;
  std::int64_t seg_len_ = 0;         ///< segment length in the track timescale
  std::int64_t next_cut_ = 0;        ///< next grid line, in the track timescale
  std::int64_t seg_start_ = AV_NOPTS_VALUE;
  std::int64_t max_end_ = AV_NOPTS_VALUE;
  bool in_segment_ = false;
  bool finished_ = false;
  std::string buf_;                  ///< the segment being written (the first also holds init)
  std::int64_t first_dts_ = 0;       ///< the track's first decode timestamp
  std::int64_t delay_ = 0;           ///< encoder reorder delay: first pts - first dts
  std::int64_t tfdt_shift_ = AV_NOPTS_VALUE;
  std::int64_t pres_offset_ = 0;     ///< added to every timestamp so the track starts at or after 0
};

/// RFC 6381 codecs string of an open encoder ("avc1.640028", "hvc1.1.6.L120.90", "mp4a.40.2", ...).
std::string codecs_string(const AVCodecContext* enc);

}  // namespace spool::media
