#pragma once
// Internal: one rung (and the audio group) remuxed from its CMAF segments into a single faststart MP4.
#include "media/segmenter.hpp"

#include <filesystem>

namespace spool::media {

/// Writes `out` from the tracks already written under `dir`. Throws av::failure.
void write_progressive(const std::filesystem::path& dir, const track_info& video, const track_info* audio,
                       const std::filesystem::path& out);

}  // namespace spool::media
