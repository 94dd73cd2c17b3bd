// Transcodes INPUT into an HLS + DASH ladder in OUTDIR from a C++20 coroutine, giving up after a
// timeout.
//
// The timeout is plain Asio per-operation cancellation: `transcode || timer` races the two
// operations and cancels the loser. When the timer wins, spool stops within about a frame, removes
// its temporary files and publishes nothing; the `||` waits for that cleanup before resuming us.
// (For a limit that belongs to the job rather than to the caller, see input_policy::deadline.)
//
// Usage: transcode_coroutine INPUT OUTDIR [TIMEOUT_S]   (default 600)
#include <spool/spool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <variant>

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

void print_progress(const spool::media::progress& p) {  // runs on a media thread
  std::fprintf(stderr, "\r%5.1f%%  %.1fx  eta %.0fs ", p.fraction * 100, p.speed, p.eta_s < 0 ? 0.0 : p.eta_s);
}

asio::awaitable<int> run(std::string input, std::string output, std::chrono::seconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  spool::transcoder transcoder(ex);
  asio::steady_timer timer(ex, timeout);

  spool::media::transcode_options options;
  auto preset = spool::make_preset("hls-ladder");
  if (!preset) {
    std::fprintf(stderr, "preset: %s\n", preset.error().what().c_str());
    co_return 1;
  }
  options.plan = *preset;
  options.on_progress = print_progress;

  // as_tuple keeps the error code *and* the result (whose error_detail explains a failure);
  // plain use_awaitable would throw a system_error and lose the detail.
  auto outcome =
      co_await (transcoder.async_transcode(input, output, std::move(options), asio::as_tuple(asio::use_awaitable)) ||
                timer.async_wait(asio::use_awaitable));

  if (outcome.index() == 1) {
    std::fprintf(stderr, "\ntimed out after %llds; nothing was published\n", static_cast<long long>(timeout.count()));
    co_return 1;
  }
  auto& [ec, result] = std::get<0>(outcome);
  if (ec) {
    std::fprintf(stderr, "\nfailed: %s (%s): %s\n", spool::code_name(ec).c_str(),
                 std::string(spool::to_string(spool::kind_of(ec))).c_str(),
                 result.error_detail.empty() ? ec.message().c_str() : result.error_detail.c_str());
    co_return 1;
  }
  std::printf("\npublished %s (%.1fs of media in %.1fs)\n", result.output.c_str(), result.duration_s, result.elapsed_s);
  for (const auto& rend : result.renditions)
    std::printf("  %-6s %-12s %6lld kbit/s  %d segments\n", rend.name.c_str(), rend.codecs.c_str(),
                static_cast<long long>(rend.avg_bitrate / 1000), rend.segments);
  co_return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 && argc != 4) {
    std::fprintf(stderr, "usage: %s INPUT OUTDIR [TIMEOUT_S]\n", argv[0]);
    return 2;
  }
  std::chrono::seconds timeout{argc == 4 ? std::atoi(argv[3]) : 600};

  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, run(argv[1], argv[2], timeout), [&status](const std::exception_ptr& e, int s) {
    if (e) std::rethrow_exception(e);  // a bug in this program, not a transcode failure
    status = s;
  });
  io.run();
  return status;
}
