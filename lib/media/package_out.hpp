#pragma once
// Internal: how the engine writes into a package: through the sink only, each failure thrown typed.
// A track may also keep a copy in the engine's local workspace (the progressive MP4 is made from it,
// so the package's storage never has to be read back).
#include <spool/io.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// Stores `bytes` as `name` in `sink`; a failure throws av::failure with the sink's code and words.
void put(io::package_sink& sink, std::string_view name, std::string_view bytes);
/// Stores a manifest (see io::package_sink::put_manifest); throws likewise.
void put_manifest(io::package_sink& sink, std::string_view name, std::string_view text);

struct track_info;

/// Where one rendition's files go.
struct track_output {
  io::package_sink* sink = nullptr;
  std::string dir;                   ///< the rendition's folder in the package ("720p", "audio")
  std::filesystem::path local_copy;  ///< also written here when not empty
  /// Called on the writer's thread after each segment is stored, with the track as it stands.
  std::function<void(const track_info&)> segment_done;
  /// When > 0, the first segment ends at this grid line (a keyframe line) instead of the segment
  /// length's: a growing package is playable after one GOP, not after a whole segment.
  double first_segment_s = 0;
  /// A chunk of a longer package: segments are numbered from first_number + 1, and the first one ends
  /// on the grid line after the first packet (which opens the chunk on a line, within half a frame).
  bool chunk = false;
  std::int64_t first_number = 0;

  void put(std::string_view file, std::string_view bytes) const;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
