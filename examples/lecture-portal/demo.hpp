#pragma once
// `--demo FILE`: the portal uploads FILE through its own HTTP API, as a browser would, and follows
// the video to the end, printing its progress and, once playable, where to watch it.
#include <filesystem>
#include <functional>
#include <string>

namespace portal {

struct demo_result {
  bool playable = false;
  std::string message;
};

/// Blocks; `port` is the portal's. `done` is called with the outcome.
demo_result run_demo(unsigned short port, const std::filesystem::path& file, const std::filesystem::path& data);

}  // namespace portal
