#pragma once
// Shared helpers for the media tests: scratch directories, leftover checks, error descriptions and
// plans small enough for a 2-core machine.
#include <spool/error.hpp>
#include <spool/media/transcode.hpp>
#include <spool/plan.hpp>
#include <spool/transcode.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "catch_result.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

/// A fresh directory under the system temp dir, removed (recursively) on destruction unless
/// SPOOL_TEST_KEEP is set in the environment.
class scratch_dir {
 public:
  explicit scratch_dir(const std::string& tag = "media");
  ~scratch_dir();
  scratch_dir(const scratch_dir&) = delete;
  scratch_dir& operator=(const scratch_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Entries of `parent` whose name contains ".spool-tmp-".
std::vector<std::string> temp_leftovers(const std::filesystem::path& parent);

/// "errc name (category): message" for assertion output.
std::string describe(const spool::error_code& ec);

/// The default preset (hls-ladder) as a plan.
spool::plan default_plan();

/// A small ladder for inputs of `source_height` or more: rungs named "<h>p" at the given heights.
spool::plan small_plan(std::vector<int> heights = {240, 180});

/// Options with `p` and the default policy; progress is not requested.
spool::media::transcode_options options_for(const spool::plan& p);

/// spool::probe of a location into `out`, as an error code (the reason in `detail`).
spool::error_code probe(const std::string& input, const spool::input_policy& policy, spool::media::probe_result& out,
                        std::string* detail = nullptr);

/// Names of the files directly inside `dir` (sorted).
std::vector<std::string> list_dir(const std::filesystem::path& dir);

/// Whether `dir` contains any regular file whose name ends with `suffix`, recursively.
bool contains_file(const std::filesystem::path& dir, const std::string& suffix);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
