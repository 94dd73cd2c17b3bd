// Transcodes INPUT into an HLS + DASH ladder in OUTDIR, completing through a plain callback.
//
// The callback style is the base every other completion token is built on: the handler runs on
// the io_context's thread once the package is published (or nothing was, on failure), never from
// inside async_transcode itself.
//
// Usage: transcode_callback INPUT OUTDIR
#include <spool/spool.hpp>

#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <string>

namespace {

// Progress arrives on one of spool's media threads, not the io_context's: keep it cheap and
// thread-safe. One fprintf call is atomic with respect to other stdio calls.
void print_progress(const spool::media::progress& p) {
  std::fprintf(stderr, "\r%5.1f%%  %.1fx  eta %.0fs ", p.fraction * 100, p.speed, p.eta_s < 0 ? 0.0 : p.eta_s);
}

void print_result(const spool::media::transcode_result& r) {
  std::printf("\npublished %s (%.1fs of media in %.1fs)\n", r.output.c_str(), r.duration_s, r.elapsed_s);
  for (const auto& rend : r.renditions)
    std::printf("  %-6s %-12s %6lld kbit/s  %d segments\n", rend.name.c_str(), rend.codecs.c_str(),
                static_cast<long long>(rend.avg_bitrate / 1000), rend.segments);
}

// The category, not the code, decides what a caller does next: input/policy/unsupported will
// fail again, resource/transient may succeed later. error_detail says why in words.
int report_failure(const spool::error_code& ec, const spool::media::transcode_result& r) {
  std::fprintf(stderr, "\nfailed: %s (%s): %s\n", spool::code_name(ec).c_str(),
               std::string(spool::to_string(spool::kind_of(ec))).c_str(),
               r.error_detail.empty() ? ec.message().c_str() : r.error_detail.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUT OUTDIR\n", argv[0]);
    return 2;
  }

  // Start from a named preset; a JSON job spec (spool::apply_spec) could override it.
  spool::media::transcode_options options;
  auto preset = spool::make_preset("hls-ladder");
  if (!preset) {
    std::fprintf(stderr, "preset: %s\n", preset.error().what().c_str());
    return 1;
  }
  options.plan = *preset;
  options.on_progress = print_progress;

  boost::asio::io_context io;
  // The transcoder owns the threads that decode and encode; `io` only sees the completion.
  spool::transcoder transcoder(io.get_executor());

  int status = 1;
  transcoder.async_transcode(argv[1], argv[2], std::move(options),
                             [&status](spool::error_code ec, const spool::media::transcode_result& result) {
                               if (ec) {
                                 status = report_failure(ec, result);
                                 return;
                               }
                               print_result(result);
                               status = 0;
                             });

  // The pending operation keeps run() from returning until the handler has run.
  io.run();
  return status;
}
