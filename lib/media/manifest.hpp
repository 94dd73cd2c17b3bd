#pragma once
// Internal: HLS and DASH manifests written from measured tracks.
#include <string>
#include <vector>

#include "media/segmenter.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// What the manifests of a package still growing say instead of what is measured at the end.
struct growing_manifest {
  /// Each track's declared bit rate (video: the rung's VBV cap, audio: its encoder's rate), by track name:
  /// a growing package cannot know its peaks yet.
  std::vector<std::pair<std::string, std::int64_t>> bandwidth;
  std::int64_t target_duration_s = 0;  ///< EXT-X-TARGETDURATION, fixed while the playlist grows
  std::string availability_start;      ///< the dynamic MPD's availabilityStartTime (ISO 8601)
  std::string publish_time;            ///< the MPD's publishTime, now
  /// The last media playlist of a package that grew: VOD, ended, its target duration unchanged.
  bool finished = false;
  std::int64_t bandwidth_of(const track_info& t) const;
};

/// A rendition's media playlist (EXT-X-MAP init.mp4, one EXTINF per segment): VOD, or with `growing`
/// an EVENT playlist without EXT-X-ENDLIST, starting players at its beginning (EXT-X-START 0).
std::string hls_media_playlist(const track_info& t, const growing_manifest* growing = nullptr);
/// master.m3u8: one variant per video track (BANDWIDTH = the video's peak segment bit rate plus the
/// audio's, see track_info::peak_bitrate; while growing, their declared rates), audio as an
/// EXT-X-MEDIA group; an audio-only package lists the audio track as its one variant.
std::string hls_master_playlist(const std::vector<track_info>& video, const track_info* audio,
                                const growing_manifest* growing = nullptr);
/// manifest.mpd: static, SegmentTemplate + SegmentTimeline over the same segments; @bandwidth is each
/// track's peak segment bit rate. With `growing`: dynamic, the timeline listing the segments written
/// so far, every one of them available from the start (no time-shift window), @bandwidth declared.
std::string dash_manifest(const std::vector<track_info>& video, const track_info* audio, double duration_s,
                          const growing_manifest* growing = nullptr);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
