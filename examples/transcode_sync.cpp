// Transcodes INPUT into an HLS + DASH ladder in OUTDIR with the blocking call.
//
// No Asio at all: spool::media::transcode blocks the calling thread while spool's own threads do the
// work. This is the simplest form, for command-line tools and for workers that already dedicate a
// thread to each job. Ctrl-C cancels cleanly through a cancel_flag: nothing is published.
//
// Usage: transcode_sync INPUT OUTDIR
#include <spool/spool.hpp>

#include <csignal>
#include <cstdio>
#include <string>

namespace {

// std::atomic<bool> is lock-free here, so a signal handler may store to it.
spool::media::cancel_flag cancel{false};

extern "C" void on_signal(int) { cancel = true; }

void print_progress(const spool::media::progress& p) {
  std::fprintf(stderr, "\r%5.1f%%  %.1fx  eta %.0fs ", p.fraction * 100, p.speed, p.eta_s < 0 ? 0.0 : p.eta_s);
}

void print_result(const spool::media::transcode_result& r) {
  std::printf("\npublished %s (%.1fs of media in %.1fs)\n", r.output.c_str(), r.duration_s, r.elapsed_s);
  for (const auto& rend : r.renditions)
    std::printf("  %-6s %-12s %6lld kbit/s  %d segments\n", rend.name.c_str(), rend.codecs.c_str(),
                static_cast<long long>(rend.avg_bitrate / 1000), rend.segments);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUT OUTDIR\n", argv[0]);
    return 2;
  }
  static_assert(spool::media::cancel_flag::is_always_lock_free);
  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);

  spool::media::transcode_options options;
  auto preset = spool::make_preset("hls-ladder");
  if (!preset) {
    std::fprintf(stderr, "preset: %s\n", preset.error().what().c_str());
    return 1;
  }
  options.plan = *preset;
  options.on_progress = print_progress;  // called on this thread, between waits

  spool::media::transcode_result result;
  spool::error_code ec = spool::transcode(argv[1], argv[2], options, result, &cancel);
  if (ec) {
    // Print the stable code name and category (what a retry policy keys on) and the detail.
    std::fprintf(stderr, "\nfailed: %s (%s): %s\n", spool::code_name(ec).c_str(),
                 std::string(spool::to_string(spool::kind_of(ec))).c_str(),
                 result.error_detail.empty() ? ec.message().c_str() : result.error_detail.c_str());
    // 130 is the shell's convention for "ended by SIGINT".
    return spool::kind_of(ec) == spool::category_kind::cancelled ? 130 : 1;
  }
  print_result(result);
  return 0;
}
