#pragma once
// What a transcode produces: the ladder, encoder settings, packaging and thumbnails. Pure data and
// JSON, in the vocabulary every layer shares: a job carries its plan resolved at submit time.
// A plan comes from a named preset, optionally overridden by a versioned JSON job spec
// (docs/job-spec.md).
#include <spool/error.hpp>
#include <spool/version.hpp>

#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE {

/// One video rendition of the ladder. Rungs taller than the source are dropped (never upscale).
struct SPOOL_API rung {
  /// Directory name and label, e.g. "720p": 1-64 of [A-Za-z0-9._-], unique (ignoring case), not
  /// starting with '.', and not a package file's name (master.m3u8, audio, ..., or another rung's
  /// progressive "<name>.mp4").
  std::string name;
  int height = 0;                 ///< output height; width follows the display aspect ratio
  int crf = 23;                   ///< constant rate factor (libx264/libx265) or CRF-like quality (svt-av1)
  std::int64_t maxrate_kbps = 0;  ///< VBV cap; 0 = uncapped
  std::int64_t bufsize_kbps = 0;  ///< VBV buffer; 0 = 2 × maxrate
};

struct SPOOL_API video_settings {
  std::string codec = "libx264";  ///< libx264, libx265 or libsvtav1 where the linked FFmpeg has it
  std::string preset = "veryfast";
  std::string profile = "high";  ///< H.264 profile; ignored by other codecs
  double max_fps = 30;           ///< sources above this are halved (50→25, 60→30) or capped
  /// Whether the top rung may be the source's own video, packaged without re-encoding, when it is fit
  /// to be (H.264 up to High, 8-bit 4:2:0, the top rung's size, no frame rate change, keyframes at
  /// most a segment apart, within the top rung's bit rate cap): "on", "off", or "auto" (the runner's
  /// default: on in the worker, off in transcode()). The other rungs then cut where the source has
  /// keyframes, so every rung shares one segment grid.
  std::string remux = "auto";
  /// Default: the "hls-ladder" preset's rungs.
  std::vector<rung> rungs = {
      {"1080p", 1080, 23, 5000, 10000},
      {"720p", 720, 23, 3000, 6000},
      {"480p", 480, 23, 1500, 3000},
      {"360p", 360, 23, 800, 1600},
  };
};

struct SPOOL_API audio_settings {
  bool enabled = true;
  int bitrate_kbps = 128;  ///< AAC-LC
  int sample_rate = 48000;
  int channels = 2;
};

struct SPOOL_API packaging_settings {
  double segment_s = 6;     ///< target segment duration; a multiple of gop_s
  double gop_s = 2;         ///< keyframe grid, identical in every rung
  bool hls = true;          ///< master.m3u8 + per-rendition playlists
  bool dash = true;         ///< manifest.mpd
  std::string progressive;  ///< name of a rung to also write as a single faststart MP4; empty = none
  /// When players see the package: "atomic" (whole, once finished), "progressive" (as soon as every
  /// rendition has its first segment, growing segment by segment), or "auto" (the runner's default:
  /// progressive in the worker, atomic in transcode()).
  std::string publish = "auto";
};

struct SPOOL_API thumbnail_settings {
  bool poster = true;      ///< poster.jpg
  bool storyboard = true;  ///< storyboard.jpg sprite sheet + storyboard.vtt
  double interval_s = 10;  ///< seconds between storyboard tiles (grown for long inputs, ≤ 400 tiles)
  int tile_width = 160;
  int columns = 10;
};

/// Chunked parallel encoding: a worker splits a long input into chunk jobs (a whole number of
/// segments each) that any worker encodes, then stitches their segments into one package.
struct SPOOL_API chunking_settings {
  bool enabled = false;
  double min_duration_s = 1200;  ///< inputs shorter than this are encoded as one job
  double chunk_s = 120;          ///< about this long; rounded to whole segments
};

/// A complete transcode plan. Default-constructed, it is the "hls-ladder" preset.
struct SPOOL_API plan {
  video_settings video;
  audio_settings audio;
  packaging_settings packaging;
  thumbnail_settings thumbnails;
  chunking_settings chunking;
};

/// The built-in presets: "hls-ladder" (default, 1080p/720p/480p/360p H.264 + AAC).
SPOOL_API std::vector<std::string> preset_names();
/// The plan of a built-in preset; errc::invalid_spec for an unknown name.
SPOOL_API result<plan> make_preset(std::string_view name);

/// Applies a JSON plan spec (docs/job-spec.md) to `base`: a "preset" key starts from that preset,
/// every other key overrides. Unknown keys, wrong types and inconsistent values are
/// errc::invalid_spec, with the reason in the error's message.
SPOOL_API result<plan> apply_spec(const boost::json::value& spec, plan base = {});
/// Parses and applies a JSON text.
SPOOL_API result<plan> apply_spec(std::string_view json_text, plan base = {});
inline result<plan> apply_spec(const char* json_text, plan base = {}) {
  return apply_spec(std::string_view(json_text), std::move(base));
}
/// Checks a plan for consistency (rung names unique, path-safe and not a package file's name, segment a
/// multiple of the GOP, ...); an empty error when it holds.
SPOOL_API error validate(const plan& p);
/// The whole plan as a JSON plan spec that apply_spec() reads back to an equal plan.
SPOOL_API boost::json::value to_json(const plan& p);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
