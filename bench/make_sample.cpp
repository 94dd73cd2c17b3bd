// spool-make-sample: writes a synthetic lecture-like clip (H.264 + AAC in MP4).
// Prints nothing but errors; exits non-zero on failure.
#include "args.hpp"
#include "lecture_source.hpp"

extern "C" {
#include <libavutil/log.h>
}

#include <fmt/format.h>

#include <cstdio>
#include <string>
#include <string_view>

namespace {

constexpr const char* usage =
    "usage: spool-make-sample OUT.mp4 [--duration SECONDS=30] [--width 1920] [--height 1080] [--fps 30]\n"
    "                         [--no-audio] [--crf 16] [--preset veryfast]\n";

using spool_bench::parse_number;

}  // namespace

int main(int argc, char** argv) {
  spool_bench::lecture_spec spec;
  std::string out;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&](auto& target) {
      if (i + 1 >= argc || !parse_number(argv[i + 1], target)) {
        fmt::print(stderr, "spool-make-sample: {} needs a numeric value\n{}", a, usage);
        return false;
      }
      ++i;
      return true;
    };
    if (a == "--duration") {
      if (!value(spec.duration_s)) return 2;
    } else if (a == "--width") {
      if (!value(spec.width)) return 2;
    } else if (a == "--height") {
      if (!value(spec.height)) return 2;
    } else if (a == "--fps") {
      if (!value(spec.fps)) return 2;
    } else if (a == "--crf") {
      if (!value(spec.crf)) return 2;
    } else if (a == "--preset") {
      if (i + 1 >= argc) {
        fmt::print(stderr, "spool-make-sample: --preset needs a value\n{}", usage);
        return 2;
      }
      spec.preset = argv[++i];
    } else if (a == "--no-audio") {
      spec.audio = false;
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", usage);
      return 0;
    } else if (!a.empty() && a[0] == '-') {
      fmt::print(stderr, "spool-make-sample: unknown option {}\n{}", a, usage);
      return 2;
    } else if (out.empty()) {
      out = a;
    } else {
      fmt::print(stderr, "spool-make-sample: more than one output given\n{}", usage);
      return 2;
    }
  }
  if (out.empty()) {
    fmt::print(stderr, "{}", usage);
    return 2;
  }
  if (auto e = spool_bench::check(spec); !e.empty()) {
    fmt::print(stderr, "spool-make-sample: {}\n", e);
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  if (auto e = spool_bench::make_lecture(out, spec); !e.empty()) {
    fmt::print(stderr, "spool-make-sample: {}: {}\n", out, e);
    return 1;
  }
  return 0;
}
