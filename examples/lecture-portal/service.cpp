#include "service.hpp"

#include <spool/aws/s3.hpp>
#include <spool/queue/registry.hpp>
#include <spool/queue/submit.hpp>
#include <spool/storage/status.hpp>
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/json/parse.hpp>

#include <condition_variable>
#include <cstdio>
#include <stdexcept>

#include "http.hpp"

namespace asio = boost::asio;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace portal {

namespace {

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

service::service(asio::io_context& ioc, options o)
    : ioc_(ioc),
      options_(std::move(o)),
      s3_(options_.storage.starts_with("s3://")),
      catalog_((std::filesystem::create_directories(options_.data), options_.data / "videos")),
      signer_(options_.data / "portal.key"),
      acceptor_(ioc) {
  std::filesystem::create_directories(options_.data / "uploads");
  if (!s3_) std::filesystem::create_directories(options_.data / "packages");
  if (options_.queue.empty())
    options_.queue = "file://" + std::filesystem::absolute(options_.data / "jobs.db").string();
  if (!options_.naive) {
    auto q = spool::queue::open_queue(options_.queue);
    if (!q) throw std::runtime_error("cannot open the queue " + options_.queue + ": " + q.error().what());
    queue_ = *q;
  }
}

service::~service() = default;

std::filesystem::path service::partial_upload(std::string_view id) const {
  return options_.data / "uploads" / (std::string(id) + ".partial");
}

std::string service::source_of(std::string_view id) const {
  if (s3_) return trim_slashes(options_.storage) + "/uploads/" + std::string(id);
  return (options_.data / "uploads" / std::string(id)).string();
}

std::string service::package_of(std::string_view id) const {
  if (s3_) return trim_slashes(options_.storage) + "/packages/" + std::string(id);
  return (options_.data / "packages" / std::string(id)).string();
}

void service::start() {
  const tcp::endpoint at(asio::ip::make_address(options_.host), options_.port);
  acceptor_.open(at.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(at);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  accept();

  if (queue_ && options_.workers > 0) {
    spool::worker_options wo;
    wo.concurrency = options_.workers;
    wo.on_status = [this](const spool::job_status& s) { catalog_.apply(s); };
    wo.policy = input_policy();
    wo.encode_idle = true;  // requests first: encodes take only the CPU time they leave
    worker_ = std::make_unique<spool::worker>(ioc_.get_executor(), queue_, wo);
    worker_->async_run([this](spool::error_code ec, spool::worker_summary) {
      if (ec && !stopping_) std::fprintf(stderr, "portal: the worker stopped: %s\n", ec.message().c_str());
      if (stopping_) ioc_.stop();
    });
  }
  poller_ = std::jthread([this](std::stop_token stop) { poll_statuses(stop); });
}

void service::accept() {
  acceptor_.async_accept(asio::make_strand(ioc_), [this](boost::system::error_code ec, tcp::socket socket) {
    if (ec) {
      if (acceptor_.is_open()) accept();  // e.g. out of file descriptors: keep listening
      return;
    }
    auto ex = socket.get_executor();
    asio::co_spawn(ex, serve_connection(std::move(socket), *this), asio::detached);
    accept();
  });
}

void service::shutdown() {
  if (stopping_.exchange(true)) return;
  asio::post(ioc_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    poller_.request_stop();
    // The worker's completion stops the io_context once its jobs are drained (released to the queue).
    if (worker_)
      worker_->drain();
    else
      ioc_.stop();
  });
}

spool::error service::enqueue(std::string_view id) {
  if (options_.naive) return transcode_in_request(id);
  spool::job_spec job;
  job.input = source_of(id);
  job.output = package_of(id);
  job.idempotency_key = "video:" + std::string(id);
  job.metadata = json::object{{"video_id", id}};
  auto sent = spool::queue::submit(*queue_, job);
  if (!sent) return sent.error();
  const std::string job_id = sent->job_id;
  catalog_.update(id, [&](video& v) {
    if (v.state == video_state::uploading) v.state = video_state::queued;
    v.job_id = job_id;
  });
  return {};
}

spool::error service::transcode_in_request(std::string_view id) {
  catalog_.update(id, [](video& v) { v.state = video_state::running; });
  spool::media::transcode_options to;
  to.encode_nice = 0;  // the request path's thread, at the service's own priority
  to.policy = input_policy();
  to.on_progress = [this, vid = std::string(id)](const spool::media::progress& p) {
    catalog_.update(vid, [&](video& v) {
      v.progress = p.fraction;
      v.eta_s = p.eta_s;
    });
  };
  spool::media::transcode_result result;
  const auto ec = spool::transcode(source_of(id), package_of(id), to, result);
  catalog_.update(id, [&](video& v) {
    v.state = ec ? video_state::dead : video_state::succeeded;
    v.progress = ec ? v.progress : 1.0;
    v.eta_s = ec ? -1 : 0;
    v.error = ec ? spool::error_json(ec, result.error_detail) : json::value(nullptr);
  });
  if (!ec) metrics_.job_done(result.duration_s, result.elapsed_s);
  if (ec) return {ec, result.error_detail};
  return {};
}

spool::input_policy service::input_policy() const {
  spool::input_policy policy;
  if (s3_)  // the portal's own uploads, and nothing else in S3
    if (auto where = spool::aws::parse_s3_uri(options_.storage))
      policy.s3_prefixes.push_back(where->bucket + "/" + (where->key.empty() ? "" : trim_slashes(where->key) + "/") +
                                   "uploads/");
  return policy;
}

std::optional<spool::queue::queue_stats> service::queue_stats() const {
  std::lock_guard lock(stats_mutex_);
  return queue_stats_;
}

// Once a second: the queue's depth for /metrics, and the status of every video still on its way
// (a worker in another process reports only through status.json).
void service::poll_statuses(std::stop_token stop) {
  while (!stop.stop_requested()) {
    if (queue_ && queue_->caps().stats) {
      auto s = queue_->stats();
      std::lock_guard lock(stats_mutex_);
      queue_stats_ = s ? std::optional(*s) : std::nullopt;
    }
    for (const auto& v : catalog_.list()) {
      if (stop.stop_requested()) break;
      if (v.state == video_state::uploading || options_.naive) continue;
      if (!is_final(v.state)) {
        auto status = spool::read_status(package_of(v.id));
        if (status && *status) catalog_.apply(**status);
      } else if (v.state == video_state::succeeded && !accounted_.contains(v.id)) {
        accounted_.insert(v.id);
        auto loc = spool::storage::resolve(package_of(v.id));
        if (!loc) continue;
        auto text = loc->backend->read_file(loc->path + "/result.json");
        if (!text || !*text) continue;
        boost::system::error_code ec;
        auto r = json::parse(**text, ec);
        if (ec || !r.is_object()) continue;
        const auto* d = r.as_object().if_contains("duration_s");
        const auto* t = r.as_object().if_contains("timings");
        const auto* e = t && t->is_object() ? t->as_object().if_contains("elapsed_s") : nullptr;
        if (d && e && d->is_number() && e->is_number())
          metrics_.job_done(d->to_number<double>(), e->to_number<double>());
      }
    }
    std::mutex m;
    std::condition_variable_any cv;
    std::unique_lock lock(m);
    cv.wait_for(lock, stop, std::chrono::seconds(1), [] { return false; });
  }
}

}  // namespace portal
