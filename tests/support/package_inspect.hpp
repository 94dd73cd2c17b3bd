#pragma once
// Reads a published package back: the HLS master and media playlists, the DASH MPD (a small tag
// scanner, enough for sanity checks), result.json, and the media itself, decoded with libavformat
// and libavcodec so tests can assert on frames, timestamps and keyframes rather than on metadata.
#include <spool/version.hpp>

#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

// ---- HLS ----

/// "KEY=VALUE,KEY="quoted, value"" attribute lists; quotes are removed.
std::map<std::string, std::string> parse_attribute_list(const std::string& text);

struct hls_media {  ///< one #EXT-X-MEDIA
  std::map<std::string, std::string> attrs;
  std::string type, group_id, uri;
};

struct hls_variant {  ///< one #EXT-X-STREAM-INF and its URI line
  std::map<std::string, std::string> attrs;
  std::string uri;
  std::int64_t bandwidth = 0;
  std::int64_t average_bandwidth = 0;
  int width = 0, height = 0;
  double frame_rate = 0;
  std::string codecs, audio;
  bool resolution_absent() const { return attrs.count("RESOLUTION") == 0; }
};

struct master_playlist {
  bool extm3u = false;
  int version = 0;
  bool independent_segments = false;
  std::vector<hls_media> media;
  std::vector<hls_variant> variants;
};

struct media_playlist {
  bool extm3u = false;
  int version = 0;
  double target_duration = 0;
  std::string playlist_type;
  std::string map_uri;
  bool endlist = false;
  int media_sequence = 0;
  std::vector<double> durations;  ///< EXTINF of each segment
  std::vector<std::string> uris;
  double total() const;
};

/// Throw std::runtime_error on a malformed playlist (a tag outside the spec's grammar, a URI line
/// without EXTINF, ...).
master_playlist parse_master(const std::filesystem::path& file);
media_playlist parse_media(const std::filesystem::path& file);

// ---- DASH ----

struct mpd_segment_run {  ///< one <S t= d= r=>
  bool has_t = false;
  std::int64_t t = 0;  ///< meaningful when has_t
  std::int64_t d = 0;
  std::int64_t r = 0;
};

struct mpd_representation {
  std::map<std::string, std::string> attrs;
  std::string id, codecs, mime_type;
  std::int64_t bandwidth = 0;
  int width = 0, height = 0;
  std::string initialization, media;  ///< SegmentTemplate attributes (own or inherited)
  std::int64_t timescale = 1;
  std::int64_t start_number = 1;
  std::vector<mpd_segment_run> timeline;
  /// Segment start times (seconds) expanded from the timeline.
  std::vector<double> segment_starts() const;
  double timeline_duration() const;
};

struct mpd_adaptation_set {
  std::map<std::string, std::string> attrs;
  std::string content_type;  ///< contentType, or derived from mimeType ("video", "audio")
  std::vector<mpd_representation> representations;
};

struct mpd_manifest {
  std::map<std::string, std::string> attrs;  ///< of <MPD>
  std::string type;
  std::string media_presentation_duration;
  double duration_s = 0;  ///< mediaPresentationDuration parsed (PT#H#M#S)
  std::vector<mpd_adaptation_set> adaptation_sets;
  const mpd_representation* find(const std::string& id) const;
};

/// Throws std::runtime_error when the XML is not balanced or lacks an <MPD> root.
mpd_manifest parse_mpd(const std::filesystem::path& file);
double parse_iso_duration(const std::string& text);

// ---- result.json and files ----

boost::json::value read_json(const std::filesystem::path& file);
std::string read_file(const std::filesystem::path& file);

// ---- decoding ----

struct decoded_frame {
  double pts = 0;       ///< seconds
  double duration = 0;  ///< seconds (audio: nb_samples / rate; video: packet duration)
  bool key = false;     ///< the packet was a sync sample
  int segment = -1;     ///< 0-based segment whose bytes held this frame's packet
};

struct decoded_segment {
  double first_pts = 0;          ///< smallest presentation time of the segment's frames (seconds)
  bool starts_with_key = false;  ///< the segment's first packet (decode order) is a sync sample
  std::int64_t bytes = 0;
  int frames = 0;
};

struct decoded_track {
  std::string codec;     ///< decoder name
  std::string codec_id;  ///< the stream's codec ("h264", "hevc", "av1", "aac", ...), whichever decoder read it
  std::string type;      ///< "video" or "audio"
  // video
  int width = 0, height = 0;
  std::string pix_fmt;
  bool rotation_side_data = false;  ///< a display matrix (non-identity) is present on the stream
  double rotation = 0;              ///< av_display_rotation_get of that matrix
  bool any_interlaced_frame = false;
  double avg_frame_rate = 0, r_frame_rate = 0;
  // audio
  int sample_rate = 0, channels = 0;
  std::int64_t samples = 0;

  std::vector<decoded_frame> frames;  ///< in presentation order
  std::vector<decoded_segment> segments;
  double first_pts() const;
  double end_time() const;  ///< last frame's pts + its duration
  std::int64_t frame_count() const { return static_cast<std::int64_t>(frames.size()); }
  std::vector<double> keyframe_times() const;
};

/// Concatenates `init` and `segments` (paths) into one fragmented MP4 in memory, opens it with the
/// mov demuxer and decodes every frame of its first stream. Throws std::runtime_error on failure.
decoded_track decode_fragments(const std::filesystem::path& init, const std::vector<std::filesystem::path>& segments);

/// A rendition directory with index.m3u8, init.mp4 and the playlist's segments.
decoded_track decode_rendition(const std::filesystem::path& rendition_dir);

/// Decodes one stream (the first by default) of any single file: poster.jpg, storyboard.jpg, a
/// progressive MP4.
decoded_track decode_file(const std::filesystem::path& file, int stream = 0);

/// Sum of the segment files' sizes, per playlist order.
std::vector<std::int64_t> segment_sizes(const std::filesystem::path& rendition_dir, const media_playlist& pl);

// ---- ISO BMFF boxes, read directly (not through libavformat) ----

/// What a CMAF init segment (init.mp4) says about its one track; of a plain MP4, about its first.
struct init_boxes {
  std::string sample_entry;            ///< type of moov/trak/mdia/minf/stbl/stsd's first entry: avc1, hvc1, av01, mp4a
  std::uint32_t timescale = 0;         ///< mdhd
  std::uint32_t default_duration = 0;  ///< mvex/trex default_sample_duration (0 without mvex)
};
/// Throws std::runtime_error when a box is malformed or missing.
init_boxes read_init_boxes(const std::filesystem::path& init);
/// The duration of a media segment in the track's timescale: the sum of every sample's duration in
/// its moof/traf/trun boxes (per-sample, else tfhd's default, else trex's).
std::int64_t fragment_duration(const std::filesystem::path& segment, const init_boxes& init);
/// Box types in file order, nested ones as "moov/trak/..." paths, down to `depth` levels.
std::vector<std::string> box_paths(const std::filesystem::path& file, int depth = 1);

// ---- WebVTT ----

struct vtt_cue {
  double start = 0, end = 0;
  std::string payload;
  std::string file;                    ///< payload before '#'
  int x = -1, y = -1, w = -1, h = -1;  ///< from "#xywh=x,y,w,h" when present
};
/// Throws std::runtime_error if the file does not start with "WEBVTT" or a cue timing line is malformed.
std::vector<vtt_cue> parse_vtt(const std::filesystem::path& file);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
