#pragma once
// Runs a chunked job in-process for the tests: every chunk and the whole-input part transcoded into
// folders of their own, then stitched into a package, with faults injectable into what the stitch reads.
#include <spool/media/chunks.hpp>
#include <spool/plan.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

struct chunked_parts {
  std::vector<std::filesystem::path> chunk_dirs;
  std::filesystem::path whole_dir;
  media::stitch_input input;
  /// Files the stitch's reader changes (by part index and name) or fails to read.
  std::map<std::pair<int, std::string>, std::function<std::string(std::string)>> replace;
  std::set<std::pair<int, std::string>> missing;
};

/// Probes `input`, plans chunks of about `chunk_s` and transcodes each (and the whole-input part)
/// under `root`; REQUIREs every one to succeed.
chunked_parts encode_parts(const std::filesystem::path& input, const spool::plan& p, double chunk_s,
                           const std::filesystem::path& root);

/// media::stitch into a new package at `out`, committed when the stitch succeeds and aborted when not.
spool::error stitch_to(const spool::plan& p, const chunked_parts& parts, const std::filesystem::path& out,
                       media::transcode_result& result);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
