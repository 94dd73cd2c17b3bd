#pragma once
// The transcode fuzz_decode runs, shared with the regression tests of its findings: the smallest plan
// that still runs every stage (one 16-pixel rung, audio, HLS + DASH), and limits that keep one input short.
#include <spool/media/transcode.hpp>

#include <chrono>

namespace spool::fuzz {

inline media::transcode_options decode_options() {
  media::transcode_options o;

  auto& p = o.plan;
  p.video.preset = "ultrafast";
  p.video.rungs = {{"16p", 16, 30, 0, 0}};
  p.audio.enabled = true;
  p.packaging.hls = true;
  p.packaging.dash = true;
  p.packaging.progressive.clear();
  p.thumbnails.poster = false;
  p.thumbnails.storyboard = false;
  // One input must not take long: a short limit and a whole-job deadline.
  o.policy.max_duration_s = 10;
  o.policy.deadline = std::chrono::seconds(20);
  o.encoder_threads = 1;
  o.encode_nice = 0;
  return o;
}

}  // namespace spool::fuzz
