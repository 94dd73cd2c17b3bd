// lecture-portal: the problem spool exists to solve, in one program. A web backend takes lecture
// uploads, answers at once, and stays responsive while a worker embedded in it (or `spool worker`
// processes elsewhere) transcodes them into HLS and DASH; the page uploads, lists and plays them.
// README.md beside this file documents the API.
#include <spool/aws/aws.hpp>
#include <spool/media/log.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/program_options.hpp>

#include <unistd.h>

#include <cstdio>
#include <thread>
#include <vector>

#include "demo.hpp"
#include "service.hpp"

namespace po = boost::program_options;

namespace {

bool split_listen(const std::string& listen, portal::options& o) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  o.host = listen.substr(0, colon);
  try {
    const int port = std::stoi(listen.substr(colon + 1));
    if (port < 0 || port > 65535) return false;
    o.port = static_cast<unsigned short>(port);
  } catch (const std::exception&) {
    return false;
  }
  return !o.host.empty();
}

}  // namespace

int main(int argc, char** argv) {
  portal::options o;
  std::string listen = "127.0.0.1:8080", demo;
  std::int64_t ttl = 3600;
  po::options_description desc("lecture-portal --listen HOST:PORT --data DIR [options]");
  desc.add_options()("help,h", "this text")("listen", po::value(&listen),
                                            "where to listen (127.0.0.1:8080; port 0: any)")(
      "data", po::value(&o.data)->required(), "the portal's folder: videos, uploads, packages, the queue")(
      "queue", po::value(&o.queue), "the job queue's URI (default file://DATA/jobs.db; sqs://... with AWS)")(
      "storage", po::value(&o.storage), "s3://bucket/prefix to keep uploads and packages in S3 (default: DATA)")(
      "workers", po::value(&o.workers), "jobs the embedded worker runs at once; 0: none (run `spool worker`)")(
      "http-threads", po::value(&o.http_threads), "threads answering requests")(
      "naive", po::bool_switch(&o.naive), "transcode in the upload's request path (the design spool replaces)")(
      "web", po::value(&o.web), "the page's files")("vendor", po::value(&o.vendor),
                                                    "a node_modules folder holding hls.js and dashjs")(
      "max-upload-bytes", po::value(&o.max_upload_bytes), "largest upload accepted")(
      "max-videos", po::value(&o.max_videos), "most videos kept")(
      "multipart-threshold", po::value(&o.multipart_threshold), "on S3, uploads this large go in presigned parts")(
      "url-ttl", po::value(&ttl), "seconds an upload or playback URL lives")(
      "demo", po::value(&demo), "upload this file through the API and follow it (make demo)");
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, desc), vm);
    if (vm.count("help")) {
      std::printf("%s\n", (std::ostringstream() << desc).str().c_str());
      return 0;
    }
    po::notify(vm);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lecture-portal: %s\n%s\n", e.what(), (std::ostringstream() << desc).str().c_str());
    return 2;
  }
  if (!split_listen(listen, o) || o.http_threads < 1 || o.workers < 0 || ttl < 1 || o.max_upload_bytes < 1 ||
      o.multipart_threshold < 1) {
    std::fprintf(stderr, "lecture-portal: bad --listen, --http-threads, --workers, --url-ttl or --max-upload-bytes\n");
    return 2;
  }
  o.url_ttl = std::chrono::seconds(ttl);
  if (o.web.empty()) o.web = SPOOL_PORTAL_WEB_DIR;
  if (o.vendor.empty()) o.vendor = SPOOL_PORTAL_VENDOR_DIR;
  spool::aws::register_schemes();  // sqs:// and s3://
  // Encoder statistics would drown the portal's own output; failures come back as spool errors.
  spool::media::set_ffmpeg_log_level(spool::media::ffmpeg_log::error);

  boost::asio::io_context ioc(o.http_threads);
  std::unique_ptr<portal::service> app;
  try {
    app = std::make_unique<portal::service>(ioc, o);
    app->start();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "lecture-portal: %s\n", e.what());
    return 1;
  }
  std::printf("listening on http://%s:%u\n", o.host.c_str(), app->port());
  std::fflush(stdout);

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&](auto ec, int) {
    if (!ec) app->shutdown();
  });

  int status = 0;
  std::jthread demo_thread;
  if (!demo.empty())
    demo_thread = std::jthread([&, port = app->port()] {
      const auto r = portal::run_demo(port, demo, o.data);
      if (!r.playable) {
        std::fprintf(stderr, "demo: %s\n", r.message.c_str());
        status = 1;
        app->shutdown();
      } else if (!::isatty(STDIN_FILENO)) {
        app->shutdown();  // scripts and CI: done once the sample plays
      } else {
        std::printf("\nServing until Ctrl-C.\n");
        std::fflush(stdout);
      }
    });

  std::vector<std::jthread> threads;
  for (int i = 1; i < o.http_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  threads.clear();
  if (demo_thread.joinable()) demo_thread.join();
  return status;
}
