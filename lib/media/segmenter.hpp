#pragma once
// Internal: one rendition's CMAF track: init.mp4 plus numbered fMP4 segments, cut on keyframes at
// the segment grid, with every segment's timing and size measured for the manifests.
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

#include "media/av.hpp"
#include "media/package_out.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

struct segment_info {
  std::int64_t start = 0;     ///< presentation start, in the track's timescale
  std::int64_t duration = 0;  ///< in the track's timescale
  std::int64_t bytes = 0;
};

struct track_info {
  std::string name;  ///< directory under the package root
  bool video = true;
  std::string codecs;  ///< RFC 6381
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
  /// The media playlist's EXT-X-TARGETDURATION: the longest segment, rounded up to whole seconds.
  std::int64_t target_duration_s() const;
  /// The peak segment bit rate (RFC 8216bis 4.4.6.2, BANDWIDTH): the highest bit rate of any run of
  /// consecutive segments lasting 0.5 to 1.5 times the target duration, so a short tail segment
  /// counts together with its neighbour instead of alone. A track shorter than half its target
  /// duration (under half a second) has no such run; its one run is the whole track.
  std::int64_t peak_bitrate() const;
};

class cmaf_writer {
 public:
  /// Writes init.mp4 and the segments through `out`; `enc` must be open (its extradata goes into init.mp4).
  cmaf_writer(track_output out, const AVCodecContext* enc, double segment_s, track_info& info);
  cmaf_writer(const cmaf_writer&) = delete;
  cmaf_writer& operator=(const cmaf_writer&) = delete;
  ~cmaf_writer();

  /// Takes a packet in the encoder's time base. Video segments are cut at keyframes on the grid;
  /// audio at the first packet on or after each grid line.
  void write(AVPacket* pkt);
  /// Flushes the last segment and closes every file.
  void finish();

 private:
  void open(const AVCodecContext* enc, double segment_s);
  void release() noexcept;
  static int write_cb(void* opaque, std::uint8_t* buf, int size);
  /// Rethrows what a callback caught while FFmpeg was calling it (exceptions never cross C frames).
  void rethrow_pending();
  void open_segment();
  void flush_fragment();
  void close_segment(std::int64_t end_pts);
  void patch_fragments(std::string& segment);
  std::size_t init_size();

  track_output out_;
  track_info& info_;
  AVRational enc_tb_;
  AVFormatContext* ctx_ = nullptr;
  AVIOContext* pb_ = nullptr;
  std::int64_t seg_len_ = 0;   ///< segment length in the track timescale
  std::int64_t next_cut_ = 0;  ///< next grid line, in the track timescale
  std::int64_t seg_start_ = AV_NOPTS_VALUE;
  std::int64_t max_end_ = AV_NOPTS_VALUE;
  bool in_segment_ = false;
  bool finished_ = false;
  std::string buf_;             ///< the segment being written (the first also holds init)
  std::exception_ptr pending_;  ///< thrown inside write_cb, rethrown once movenc returns
  std::int64_t first_dts_ = 0;  ///< the track's first decode timestamp
  std::int64_t delay_ = 0;      ///< encoder reorder delay: first pts - first dts
  std::int64_t tfdt_shift_ = AV_NOPTS_VALUE;
  std::int64_t pres_offset_ = 0;  ///< added to every timestamp so the track starts at or after 0
};

/// RFC 6381 codecs string of an open encoder ("avc1.640028", "hvc1.1.6.L120.90", "mp4a.40.2", ...).
std::string codecs_string(const AVCodecContext* enc);

/// The MP4 sample entry a codec is written with: 'hvc1' for HEVC (parameter sets in the sample
/// entry, which Safari requires and codecs_string() announces), else the muxer's default (0).
std::uint32_t sample_entry_tag(AVCodecID id);

/// For muxing and demuxing files spool wrote itself: a failure is out_of_memory or a bug (internal),
/// never blamed on the input (from_averror would make AVERROR_INVALIDDATA input_undecodable).
/// I/O errors are caught in spool's own AVIO callbacks and rethrown typed before this is reached.
void check_own(int averror, const std::string& what);

/// Fails with errc::internal, naming them, when `opts` still holds entries after FFmpeg consumed the
/// ones it knows: spool builds these dictionaries itself, so a leftover is a bug, never ignored.
/// Frees `opts` either way.
void require_consumed(AVDictionary*& opts, const std::string& what);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
