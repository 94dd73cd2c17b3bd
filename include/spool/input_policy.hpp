#pragma once
// Which inputs spool accepts (data only: storage applies the access rules, the media engine the
// limits). On by default: local files only, a demuxer allow-list
// without playlist or indirection formats, a decoder allow-list, limits checked before any large
// allocation and again on every frame, and a deadline that grows with the input's duration.
// docs/input-policy.md gives the reason for each.
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE {

struct SPOOL_API input_policy {
  /// https:// inputs are refused unless their host is listed here (exact match, case-insensitive).
  std::vector<std::string> https_hosts;
  /// https hosts may resolve to loopback, private, link-local or other internal addresses (refused by default).
  bool https_allow_private_addresses = false;
  /// A PEM bundle of certificate authorities trusted instead of the system's (a private CA); empty = system.
  std::string https_ca_file;
  /// s3:// inputs are refused unless "bucket/key" starts with one of these: "media" allows the whole
  /// bucket, "media/uploads/" the keys under that prefix (a plain prefix: end it with '/').
  std::vector<std::string> s3_prefixes;
  /// Redirects followed per request, each to an https URL on an allowed host; 0 refuses every redirect.
  int https_max_redirects = 3;
  /// Demuxers that may open an input. Playlist and indirection formats (hls, dash, concat, image2,
  /// tee, data, subfile, ...) are deliberately absent: they can make a reader open other files.
  std::vector<std::string> demuxers = default_demuxers();
  /// Codecs whose decoders may run, by FFmpeg codec name ("h264", "aac", "pcm_s16le", ...), while
  /// probing and while transcoding. A transcoded stream with another codec is errc::codec_not_allowed;
  /// other streams are ignored.
  std::vector<std::string> decoders = default_decoders();
  /// Width × height of what is encoded, per frame: the coded size, the display size after the sample
  /// aspect ratio, every rung, the poster and the storyboard sheet.
  std::int64_t max_pixels = 4096LL * 2304;
  /// Longest input accepted: the declared duration, every frame's end and every audio sample.
  double max_duration_s = 6 * 3600;
  int max_streams = 32;
  std::int64_t probe_size = 8 << 20;  ///< bytes read to find streams
  std::int64_t analyze_duration_us = 5000000;
  /// Whole-job limit, checked in every phase; exceeding it is errc::deadline_exceeded. 0 = automatic:
  /// deadline_base + deadline_factor × the input's duration (max_duration_s while the duration is
  /// unknown). Automatic with both set to 0 means no limit.
  std::chrono::seconds deadline{0};
  std::chrono::seconds deadline_base{15 * 60};
  double deadline_factor = 4;
  /// Audio-only inputs: true gives an audio-only package, false errc::audio_only_refused.
  bool allow_audio_only = true;

  static std::vector<std::string> default_demuxers();
  static std::vector<std::string> default_decoders();

  /// The deadline for an input lasting `duration_s` (<= 0: unknown); zero when there is none.
  std::chrono::seconds deadline_for(double duration_s) const;
  /// The deadline while the input is opened and its duration is not yet known: `deadline`, else
  /// `deadline_base`, else as for an input of unknown length.
  std::chrono::seconds deadline_for_opening() const;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
