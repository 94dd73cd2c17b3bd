#pragma once
// Internal: the decode-once, fan-out engine.
#include <spool/media/transcode.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "media/input.hpp"
#include "media/segmenter.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

struct pipeline_output {
  std::vector<track_info> video;  ///< ladder order
  std::optional<track_info> audio;
  std::vector<std::string> files;  ///< thumbnails written
  std::vector<transcode_warning> warnings;
  double duration_s = 0;
  std::string publish = "atomic";  ///< or "progressive": the package grew while it was written
  std::string publish_note;        ///< why a progressive plan was published atomically
  double first_playable_s = -1;
};

/// A track as result.json reports it.
rendition_result to_result(const track_info& t);

/// Decodes `in` once and encodes every rung, the audio group and the thumbnails into `sink`. With a
/// `workspace`, the tracks a progressive MP4 is made from are also copied there. Throws av::failure.
void run_pipeline(opened_input& in, const probe_result& probe, const transcode_options& options, io::package_sink& sink,
                  const std::filesystem::path& workspace, input_guard& guard, pipeline_output& out,
                  std::chrono::steady_clock::time_point started);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
