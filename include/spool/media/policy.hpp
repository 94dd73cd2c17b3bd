#pragma once
// Which inputs the media engine accepts. On by default: local files only, a demuxer allow-list
// without playlist or indirection formats, and limits checked before any large allocation.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace spool::media {

struct input_policy {
  /// https:// inputs are refused unless their host is listed here (exact match, case-insensitive).
  std::vector<std::string> https_hosts;
  /// https hosts may resolve to loopback, private, link-local or other internal addresses (refused by default).
  bool https_allow_private_addresses = false;
  /// A PEM bundle of certificate authorities trusted instead of the system's (a private CA); empty = system.
  std::string https_ca_file;
  /// Redirects followed per request, each to an https URL on an allowed host; 0 refuses every redirect.
  int https_max_redirects = 3;
  /// Demuxers that may open an input. Playlist and indirection formats (hls, dash, concat, image2,
  /// tee, data, subfile, ...) are deliberately absent: they can make a reader open other files.
  std::vector<std::string> demuxers = default_demuxers();
  std::int64_t max_pixels = 4096LL * 2304;   ///< per frame, after rotation-independent width × height
  double max_duration_s = 6 * 3600;          ///< longest input accepted
  int max_streams = 32;
  std::int64_t probe_size = 8 << 20;         ///< bytes read to find streams
  std::int64_t analyze_duration_us = 5000000;
  /// Whole-job limit; 0 = none. Exceeding it is errc::deadline_exceeded.
  std::chrono::seconds deadline{0};
  /// Audio-only inputs: true gives an audio-only package, false errc::audio_only_refused.
  bool allow_audio_only = true;

  static std::vector<std::string> default_demuxers();
};

}  // namespace spool::media
