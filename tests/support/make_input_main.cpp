// spool-test-input: writes a synthetic input (libavfilter testsrc2 + sine) for tests that drive the
// command line, which cannot link the test support library themselves.
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "lavfi_input.hpp"

extern "C" {
#include <libavutil/log.h>
}

int main(int argc, char** argv) {
  if (argc < 2 || argv[1][0] == '-') {  // an option where the output belongs: usage, not a file named so
    std::fprintf(
        stderr,
        "usage: spool-test-input OUT [--seconds S] [--width W] [--height H] [--fps F] [--no-audio] "
        "[--no-video] [--container mp4|mov|mkv|ts|avi|h264] [--codec C] [--pix-fmt P] [--rotation DEG] "
        "[--interlaced] [--vfr alternating|dropped] [--gop S] [--start S] [--sample-rate HZ] [--channels N]\n");
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  spool::test::input_spec spec;
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> double {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return std::atof(argv[++i]);
    };
    if (a == "--seconds")
      spec.duration_s = next();
    else if (a == "--width")
      spec.width = static_cast<int>(next());
    else if (a == "--height")
      spec.height = static_cast<int>(next());
    else if (a == "--fps")
      spec.fps = static_cast<int>(next());
    else if (a == "--no-audio")
      spec.audio = false;
    else if (a == "--no-video")
      spec.video = false;
    else if (a == "--interlaced")
      spec.interlaced = true;
    else if (a == "--rotation")
      spec.rotation = static_cast<int>(next());
    else if (a == "--gop")
      spec.gop_s = next();
    else if (a == "--start")
      spec.start_offset_s = next();
    else if (a == "--sample-rate")
      spec.sample_rate = static_cast<int>(next());
    else if (a == "--channels")
      spec.channels = static_cast<int>(next());
    else if (a == "--container" || a == "--codec" || a == "--pix-fmt" || a == "--vfr") {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        return 2;
      }
      std::string v = argv[++i];
      if (a == "--container")
        spec.container = v;
      else if (a == "--codec")
        spec.video_codec = v;
      else if (a == "--pix-fmt")
        spec.pix_fmt = v;
      else if (v == "alternating")
        spec.vfr = spool::test::vfr_mode::alternating;
      else if (v == "dropped")
        spec.vfr = spool::test::vfr_mode::dropped;
      else {
        std::fprintf(stderr, "--vfr takes alternating or dropped\n");
        return 2;
      }
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  try {
    spool::test::make_input(argv[1], spec);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spool-test-input: %s\n", e.what());
    return 1;
  }
  return 0;
}
