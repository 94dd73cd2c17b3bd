#pragma once
// The names of the files and directories a package is made of, defined once: the media engine
// writes them, plan validation keeps rung directories from colliding with them, the worker and
// storage find result.json and status.json by them, and hosts serve them.
#include <spool/version.hpp>

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::package_layout {

// In each rendition's directory.
inline constexpr std::string_view init = "init.mp4";
inline constexpr std::string_view media_playlist = "index.m3u8";
/// DASH SegmentTemplate@media for the same files segment_file() names.
inline constexpr std::string_view segment_template = "seg_$Number%05d$.m4s";
/// The n-th media segment (1-based): seg_00001.m4s, ...
SPOOL_API std::string segment_file(std::size_t n);

// At the package's top level.
inline constexpr std::string_view master_playlist = "master.m3u8";
inline constexpr std::string_view mpd = "manifest.mpd";
inline constexpr std::string_view result = "result.json";
inline constexpr std::string_view status = "status.json";  ///< the worker's job status, not package content
inline constexpr std::string_view poster = "poster.jpg";
inline constexpr std::string_view storyboard = "storyboard.jpg";
inline constexpr std::string_view storyboard_index = "storyboard.vtt";
inline constexpr std::string_view audio_dir = "audio";  ///< the audio rendition's directory
/// The progressive MP4 of rung `name`.
inline constexpr std::string_view progressive_suffix = ".mp4";
inline std::string progressive_file(std::string_view rung) {
  return std::string(rung) + std::string(progressive_suffix);
}

/// Every fixed top-level name; a rung's directory may take none of them.
inline constexpr std::array<std::string_view, 8> top_level = {master_playlist, mpd,        result,           status,
                                                              poster,          storyboard, storyboard_index, audio_dir};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::package_layout
