#pragma once
// The portal: an HTTP service that takes uploads, queues a job for each, and serves the packages,
// with spool's worker embedded (or in other processes reading the same queue). Everything that
// answers a request runs on the io_context's threads and never waits for an encode; the encodes
// run on the worker's threads at lower CPU priority. With `naive` the upload's handler transcodes
// in the request path instead, the design the portal exists to replace, kept for the benchmark.
#include <spool/queue/adapter.hpp>
#include <spool/worker/worker.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "catalog.hpp"
#include "metrics.hpp"
#include "upload_url.hpp"

namespace portal {

struct options {
  std::string host = "127.0.0.1";
  unsigned short port = 8080;
  std::filesystem::path data;
  std::string queue;    ///< empty: file://DATA/jobs.db
  std::string storage;  ///< empty: DATA (uploads/ and packages/ in it); or s3://bucket/prefix
  int workers = 1;      ///< the embedded worker's concurrency; 0: none
  int http_threads = 1;
  bool naive = false;
  std::filesystem::path web;     ///< index.html, player.html, their scripts
  std::filesystem::path vendor;  ///< a node_modules folder with hls.js and dashjs
  std::int64_t max_upload_bytes = 8LL << 30;
  std::size_t max_videos = 10'000;
  std::chrono::seconds url_ttl{3600};
  /// On S3, uploads of this size and more are given a multipart plan of presigned parts.
  std::int64_t multipart_threshold = 100LL << 20;
};

class service {
 public:
  service(boost::asio::io_context& ioc, options o);
  ~service();

  /// Binds, starts accepting, the worker and the status poller. Throws on a port it cannot bind.
  void start();
  unsigned short port() const { return port_; }
  /// Stops accepting, drains the worker, then stops the io_context. Safe from any thread, once.
  void shutdown();

  // For the request handlers.
  const options& config() const { return options_; }
  class catalog& videos() {
    return catalog_;
  }
  class metrics& stats() {
    return metrics_;
  }
  const upload_signer& signer() const { return signer_; }
  bool on_s3() const { return s3_; }
  /// Where the upload of `id` is kept while it arrives (local storage).
  std::filesystem::path partial_upload(std::string_view id) const;
  /// Where the source of `id` is: a local path or an s3:// URI.
  std::string source_of(std::string_view id) const;
  /// Where the package of `id` is published: a local path or an s3:// URI.
  std::string package_of(std::string_view id) const;
  /// Queues the job for an uploaded video (or, naive, transcodes it here); the record follows.
  spool::error enqueue(std::string_view id);
  /// The naive design: transcode `id` on the calling (request) thread.
  spool::error transcode_in_request(std::string_view id);
  /// What the worker may read: on S3, the portal's uploads prefix.
  spool::input_policy input_policy() const;
  /// Queue depth, as last read by the poller.
  std::optional<spool::queue::queue_stats> queue_stats() const;
  boost::asio::io_context& io() { return ioc_; }

 private:
  void accept();
  void poll_statuses(std::stop_token stop);

  boost::asio::io_context& ioc_;
  options options_;
  bool s3_ = false;
  catalog catalog_;
  metrics metrics_;
  upload_signer signer_;
  std::shared_ptr<spool::queue::queue_adapter> queue_;
  std::unique_ptr<spool::worker> worker_;
  boost::asio::ip::tcp::acceptor acceptor_;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_{false};
  mutable std::mutex stats_mutex_;
  std::optional<spool::queue::queue_stats> queue_stats_;
  std::set<std::string> accounted_;  // jobs whose encode speed is in the metrics
  std::jthread poller_;
};

}  // namespace portal
