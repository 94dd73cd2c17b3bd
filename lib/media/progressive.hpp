#pragma once
// Internal: one rung (and the audio group) remuxed from its CMAF segments into a single faststart MP4.
#include <filesystem>

#include "media/input.hpp"
#include "media/segmenter.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// Writes `out` from the tracks already written under `dir`, through spool's own file writer
/// (synced on close; a full disk is errc::no_space). Checks `guard` for cancellation and the deadline
/// at every packet and while the muxer moves the index to the front. Throws av::failure and then
/// leaves no `out` behind.
void write_progressive(const std::filesystem::path& dir, const track_info& video, const track_info* audio,
                       const std::filesystem::path& out, input_guard& guard);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
