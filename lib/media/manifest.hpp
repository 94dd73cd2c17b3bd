#pragma once
// Internal: HLS and DASH manifests written from measured tracks.
#include <string>
#include <vector>

#include "media/segmenter.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// A rendition's media playlist (EXT-X-MAP init.mp4, one EXTINF per segment, VOD).
std::string hls_media_playlist(const track_info& t);
/// master.m3u8: one variant per video track (BANDWIDTH = the video's peak segment bit rate plus the
/// audio's, see track_info::peak_bitrate), audio as an EXT-X-MEDIA group; an audio-only package lists
/// the audio track as its one variant.
std::string hls_master_playlist(const std::vector<track_info>& video, const track_info* audio);
/// manifest.mpd: static, SegmentTemplate + SegmentTimeline over the same segments; @bandwidth is each
/// track's peak segment bit rate.
std::string dash_manifest(const std::vector<track_info>& video, const track_info* audio, double duration_s);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
