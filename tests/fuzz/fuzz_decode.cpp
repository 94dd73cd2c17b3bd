// Opens and decodes the fuzz bytes through a real transcode (spool::transcode, from a path to a path
// through local storage) under the default input policy, with the smallest plan that still runs every
// stage (decode, scale, encode one 16-pixel rung, audio, CMAF segments, HLS + DASH). Every input must
// end in a package or a typed error, and a failure must leave nothing behind.
#include <spool/media/log.hpp>
#include <spool/media/transcode.hpp>
#include <spool/transcode.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>

#include "decode_options.hpp"
#include "fuzz_support.hpp"

namespace fs = std::filesystem;
using spool::fuzz::finding;
using spool::fuzz::require;

namespace {

std::string entries(const fs::path& dir) {
  std::string out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec))
    out += (out.empty() ? "" : ", ") + it->path().filename().string();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const spool::media::transcode_options options = spool::fuzz::decode_options();
  const fs::path input = spool::fuzz::scratch() / "input";
  const fs::path parent = spool::fuzz::scratch() / "out-parent";
  const fs::path output = parent / "package";
  std::error_code fec;
  fs::remove_all(parent, fec);
  fs::create_directories(parent);
  spool::fuzz::write_file(input, data, size);

  spool::media::transcode_result result;
  auto ec = spool::transcode(input.string(), output.string(), options, result);
  if (ec) {
    spool::fuzz::require_typed(ec, "transcode", result.error_detail);
    // Nothing at all may be left: no package, no staging directory.
    if (!fs::is_empty(parent, fec))
      finding("transcode failed (" + spool::fuzz::describe(ec, result.error_detail) + ") and left " + entries(parent));
  } else {
    auto left = spool::fuzz::temp_leftovers(parent);
    if (!left.empty()) finding("transcode succeeded and left staging behind: " + left.front());
    require(fs::exists(output / "master.m3u8") && fs::exists(output / "manifest.mpd"),
            "transcode succeeded without master.m3u8 and manifest.mpd");
    require(!result.renditions.empty(), "transcode succeeded with no renditions");
    for (const auto& r : result.renditions) {
      require(r.segments > 0 && r.bytes > 0, "rendition " + r.name + " has no segments or bytes");
      require(fs::exists(output / r.name / "index.m3u8"), "rendition " + r.name + " has no playlist");
    }
  }
  fs::remove_all(parent, fec);
  return 0;
}
