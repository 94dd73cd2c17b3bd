#pragma once
// Catch2 assertions over a published package: the invariants every successful transcode must hold,
// checked on the decoded media (not on what the manifests claim), plus loaders the tests share.
#include <spool/error.hpp>
#include <spool/media/transcode.hpp>

#include <boost/json/value.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "package_inspect.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

struct rendition_view {
  std::string name;
  std::filesystem::path dir;
  media_playlist playlist;
  std::vector<std::int64_t> sizes;      ///< segment file sizes, playlist order
  std::vector<double> media_durations;  ///< each segment's duration from its trun boxes, seconds
  init_boxes init;                      ///< what init.mp4's boxes say
  std::int64_t init_bytes = 0;
  decoded_track track;
  /// The peak segment bit rate from the files: see windowed_peak_bitrate().
  double peak_bitrate() const;
  /// All segment bits / sum of EXTINF.
  double avg_bitrate() const;
  /// Segment start times from the decoded media.
  std::vector<double> segment_starts() const;
};

struct package_view {
  std::filesystem::path dir;
  master_playlist master;
  std::vector<rendition_view> video;    ///< in master playlist order
  std::optional<rendition_view> audio;  ///< the audio group's rendition, if any
  std::optional<mpd_manifest> mpd;      ///< manifest.mpd, if written
  boost::json::value result;            ///< result.json
};

/// RFC 8216bis's peak segment bit rate: the highest bits/seconds over every run of consecutive
/// segments whose total duration is within 0.5 to 1.5 times `target_s`; a track too short for any
/// such run counts as one run.
double windowed_peak_bitrate(const std::vector<std::int64_t>& bytes, const std::vector<double>& seconds,
                             double target_s);

/// The MP4 sample entry each codec is written with: h264 avc1, hevc hvc1, av1 av01, aac mp4a.
std::string sample_entry_for(const std::string& codec_id);

/// Parses and decodes everything the master playlist references. Fails the test (REQUIRE) when a
/// referenced file is missing or unreadable.
package_view load_package(const std::filesystem::path& dir);

struct package_expectation {
  double source_duration = 0;  ///< seconds of the input
  double fps = 0;              ///< expected output frame rate (0 = whatever the master declares)
  double max_fps = 30;         ///< the plan's cap
  double segment_s = 6;
  double gop_s = 2;
  std::string codec = "h264";  ///< the video's codec ("h264", "hevc", "av1")
  bool audio = true;
  bool dash = true;
  std::vector<std::string> rung_names;  ///< expected video renditions, in order (empty = do not check)
  /// When not empty: the source's keyframe times (seconds), which a ladder with a copied rung keeps in
  /// every rung instead of the gop_s grid (exactly these keyframes, each segment starting on one).
  std::vector<double> source_keyframes;
  double duration_tolerance = -1;  ///< seconds; default: one frame
};

/// The invariants of every package: playlists, CMAF structure and sample entries, keyframes exactly
/// on the grid in every rung (one per grid line, none elsewhere), BANDWIDTH against the peak segment
/// bit rate measured from the files,
/// identical segment boundaries, CFR output at `fps` in yuv420p with even dimensions and no rotation,
/// durations, A/V end alignment, manifests consistent with the media, result.json consistent.
void check_package(const package_view& pkg, const package_expectation& expect);

/// Runs the synchronous transcode, REQUIREs success and no temporary leftovers, and loads the package.
package_view transcode_ok(const std::filesystem::path& input, const std::filesystem::path& out,
                          const spool::media::transcode_options& options, spool::media::transcode_result& result);

/// After a failed transcode: the error is set, `outdir` does not exist and its parent holds no
/// temporary directories.
void check_failed_cleanly(const spool::error_code& ec, const std::filesystem::path& outdir);

/// Even, and the width follows `aspect` (display width / height) within rounding to even.
void check_dimensions(int width, int height, double aspect);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
