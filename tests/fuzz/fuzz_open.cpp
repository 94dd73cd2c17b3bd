// Opens the fuzz bytes as an input under the default input policy (spool::probe, from a path through
// local storage): any file must give either a description that respects the policy's limits or a
// typed error.
#include <spool/media/log.hpp>
#include <spool/transcode.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"

namespace {

using spool::fuzz::require;

void check_index(const spool::media::probe_result& r, int index, const char* type) {
  if (index < 0) return;
  require(static_cast<std::size_t>(index) < r.streams.size(), std::string(type) + " index outside the stream list");
  require(r.streams[static_cast<std::size_t>(index)].type == type,
          std::string(type) + " index names a stream of type " + r.streams[static_cast<std::size_t>(index)].type);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::quiet);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto path = spool::fuzz::scratch() / "input";
  spool::fuzz::write_file(path, data, size);

  const spool::input_policy policy;  // the default: what every host gets
  auto probed = spool::probe(path.string(), policy);
  const auto* got = spool::fuzz::value_or_typed(probed, "probe");
  if (!got) return 0;
  const auto& r = *got;
  // An accepted input is inside the limits the policy states, whatever its header claims.
  require(static_cast<int>(r.streams.size()) <= policy.max_streams, "more streams than max_streams accepted");
  require(std::isfinite(r.duration_s) && r.duration_s >= 0, "duration is negative or not finite");
  require(r.duration_s <= policy.max_duration_s, "an input longer than max_duration_s was accepted");
  check_index(r, r.video_index, "video");
  check_index(r, r.audio_index, "audio");
  for (std::size_t i = 0; i < r.streams.size(); ++i) {
    const auto& s = r.streams[i];
    require(s.index == static_cast<int>(i), "stream indexes out of order");
    require(std::isfinite(s.fps) && s.fps >= 0, "stream frame rate negative or not finite");
    require(std::isfinite(s.duration_s) && s.duration_s >= 0, "stream duration negative or not finite");
  }
  if (r.video_index >= 0) {
    const auto& v = r.streams[static_cast<std::size_t>(r.video_index)];
    require(static_cast<std::int64_t>(v.width) * v.height <= policy.max_pixels, "a frame over max_pixels was accepted");
    require(v.rotation == 0 || v.rotation == 90 || v.rotation == 180 || v.rotation == 270,
            "rotation is not a multiple of 90: " + std::to_string(v.rotation));
  }
  return 0;
}
