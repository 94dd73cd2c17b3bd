// Transcodes INPUT into an HLS + DASH ladder in OUTDIR, waiting on a std::future.
//
// use_future suits a thread that is not driven by Asio (a legacy worker loop, a test): it starts
// the operation and blocks only when it chooses to. The promise is fulfilled from spool's own
// thread, so nothing needs to run an io_context here.
//
// Usage: transcode_future INPUT OUTDIR
#include <spool/spool.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include <chrono>
#include <cstdio>
#include <future>
#include <string>
#include <tuple>

namespace asio = boost::asio;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s INPUT OUTDIR\n", argv[0]);
    return 2;
  }

  spool::media::transcode_options options;
  auto preset = spool::make_preset("hls-ladder");
  if (!preset) {
    std::fprintf(stderr, "preset: %s\n", preset.error().what().c_str());
    return 1;
  }
  options.plan = *preset;

  // The transcoder still needs an executor for its identity; with use_future it is never used to
  // run the completion.
  asio::io_context io;
  spool::transcoder transcoder(io.get_executor());

  // Plain use_future would turn an error into a system_error thrown by get() and drop
  // result.error_detail. Given a function, use_future passes it the completion's arguments instead
  // and the future carries what it returns: here both, as a tuple.
  auto pending =
      transcoder.async_transcode(argv[1], argv[2], std::move(options),
                                 asio::use_future([](spool::error_code ec, spool::media::transcode_result result) {
                                   return std::tuple(ec, std::move(result));
                                 }));

  // Free to do other work; here we poll instead of using on_progress, to show the thread is ours.
  while (pending.wait_for(std::chrono::seconds(2)) != std::future_status::ready)
    std::fprintf(stderr, "still transcoding...\n");

  auto [ec, result] = pending.get();
  if (ec) {
    std::fprintf(stderr, "failed: %s (%s): %s\n", spool::code_name(ec).c_str(),
                 std::string(spool::to_string(spool::kind_of(ec))).c_str(),
                 result.error_detail.empty() ? ec.message().c_str() : result.error_detail.c_str());
    return 1;
  }
  std::printf("published %s (%.1fs of media in %.1fs)\n", result.output.c_str(), result.duration_s, result.elapsed_s);
  for (const auto& rend : result.renditions)
    std::printf("  %-6s %-12s %6lld kbit/s  %d segments\n", rend.name.c_str(), rend.codecs.c_str(),
                static_cast<long long>(rend.avg_bitrate / 1000), rend.segments);
  return 0;
}
