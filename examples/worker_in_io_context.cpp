// A spool::worker added to an io_context the host already runs. The host's own work goes on beside
// it: a timer ticks and a loopback socket answers, on the same single thread, while jobs transcode
// on threads spool owns.
//
// Shutdown is per-operation cancellation: SIGINT or SIGTERM emits a cancellation signal bound to
// async_run, which drains the worker (no new jobs; running ones get GRACE_S seconds, then go back on
// the queue for another worker). Once the worker is done the host closes its own objects and
// io_context::run returns.
//
// Usage: worker_in_io_context INPUT OUTDIR QUEUE_DB [GRACE_S]   (default 30)
//   prints "listening on 127.0.0.1:PORT"; each connection there reads "ticks N\n".
#include <spool/spool.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// The host's own business: a periodic timer and a loopback service, both on the io_context.
struct host_services {
  explicit host_services(asio::io_context& io) : timer(io), acceptor(io, {asio::ip::make_address("127.0.0.1"), 0}) {}

  void start() {
    tick();
    accept();
  }
  void close() {
    timer.cancel();
    acceptor.close();
  }

  void tick() {
    timer.expires_after(std::chrono::milliseconds(100));
    timer.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      ++ticks;
      tick();
    });
  }
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      auto s = std::make_shared<tcp::socket>(std::move(socket));
      auto reply = std::make_shared<std::string>("ticks " + std::to_string(ticks) + "\n");
      asio::async_write(*s, asio::buffer(*reply), [s, reply](boost::system::error_code, std::size_t) {});
      accept();
    });
  }

  asio::steady_timer timer;
  tcp::acceptor acceptor;
  long ticks = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: %s INPUT OUTDIR QUEUE_DB [GRACE_S]\n", argv[0]);
    return 2;
  }
  auto absolute = [](const char* p) { return std::filesystem::absolute(p).lexically_normal().string(); };
  spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::error);

  auto opened = spool::queue::open_queue("file://" + absolute(argv[3]));
  if (!opened) {
    std::fprintf(stderr, "cannot open the queue: %s\n", opened.error().what().c_str());
    return 1;
  }
  spool::job_spec job;
  job.input = absolute(argv[1]);
  job.output = absolute(argv[2]);
  job.idempotency_key = "upload:" + job.output;
  if (auto submitted = spool::queue::submit(**opened, job); !submitted) {
    std::fprintf(stderr, "submit failed: %s\n", submitted.error().what().c_str());
    return 1;
  }

  asio::io_context io;  // the host's, with its own work already on it
  host_services host(io);
  host.start();
  std::printf("listening on 127.0.0.1:%u\n", static_cast<unsigned>(host.acceptor.local_endpoint().port()));
  std::fflush(stdout);

  spool::worker_options options;
  options.exit_when_idle = true;
  options.drain_grace = std::chrono::seconds(argc == 5 ? std::atoi(argv[4]) : 30);
  options.on_status = [](const spool::job_status& s) {  // a worker thread: print and return
    std::fprintf(stderr, "[worker] %s %s %.0f%%\n", s.job_id.substr(0, 8).c_str(),
                 std::string(to_string(s.state)).c_str(), s.progress * 100);
  };
  spool::worker worker(io.get_executor(), *opened, options);

  // The signal does not call worker.drain() itself: it cancels the operation, as any Asio caller
  // (a timeout, a parent coroutine's cancellation) would.
  asio::cancellation_signal drain;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&drain](boost::system::error_code ec, int) {
    if (!ec) drain.emit(asio::cancellation_type::terminal);
  });

  int exit_code = 1;
  worker.async_run(asio::bind_cancellation_slot(drain.slot(), [&](spool::error_code ec, spool::worker_summary summary) {
    signals.cancel();
    host.close();  // the worker is done; the host's own objects go too, and io.run() returns
    if (ec) {
      std::fprintf(stderr, "worker failed: %s\n", ec.message().c_str());
      return;
    }
    std::printf("host ticked %ld times while the worker ran\n", host.ticks);
    std::printf("%s\n", spool::to_json_text(boost::json::object{{"summary", spool::to_json(summary)}}).c_str());
    exit_code = 0;
  }));
  io.run();
  return exit_code;
}
