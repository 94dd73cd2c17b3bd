#include "metrics.hpp"

#include <fmt/format.h>

namespace portal {

void metrics::observe_request(std::string_view route, unsigned status, double seconds) {
  std::lock_guard lock(mutex_);
  auto it = requests_.find(route);
  if (it == requests_.end()) it = requests_.emplace(std::string(route), histogram{}).first;
  auto& h = it->second;
  for (std::size_t i = 0; i < bounds_.size(); ++i)
    if (seconds <= bounds_[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
  ++statuses_[status];
}

void metrics::job_done(double media_s, double wall_s) {
  if (media_s <= 0 || wall_s <= 0) return;
  std::lock_guard lock(mutex_);
  media_s_ += media_s;
  encode_wall_s_ += wall_s;
  last_speed_ = media_s / wall_s;
  ++jobs_done_;
}

std::string metrics::text() const {
  std::lock_guard lock(mutex_);
  std::string out;
  out += "# HELP portal_request_duration_seconds Time from a request's header to its answer written.\n";
  out += "# TYPE portal_request_duration_seconds histogram\n";
  for (const auto& [route, h] : requests_) {
    for (std::size_t i = 0; i < bounds_.size(); ++i)
      out += fmt::format("portal_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n", route, bounds_[i],
                         h.buckets[i]);
    out += fmt::format("portal_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n", route, h.count);
    out += fmt::format("portal_request_duration_seconds_sum{{route=\"{}\"}} {}\n", route, h.sum);
    out += fmt::format("portal_request_duration_seconds_count{{route=\"{}\"}} {}\n", route, h.count);
  }
  out += "# HELP portal_responses_total Answers by HTTP status.\n# TYPE portal_responses_total counter\n";
  for (const auto& [status, n] : statuses_) out += fmt::format("portal_responses_total{{code=\"{}\"}} {}\n", status, n);
  out += "# HELP portal_upload_bytes_total Bytes received in uploads.\n# TYPE portal_upload_bytes_total counter\n";
  out += fmt::format("portal_upload_bytes_total {}\n", upload_bytes_.load());
  out += "# HELP portal_jobs_encoded_total Jobs whose package was published.\n";
  out += "# TYPE portal_jobs_encoded_total counter\n";
  out += fmt::format("portal_jobs_encoded_total {}\n", jobs_done_);
  out += "# HELP portal_encode_speed Media seconds encoded per wall second: the last job, and all jobs.\n";
  out += "# TYPE portal_encode_speed gauge\n";
  out += fmt::format("portal_encode_speed{{jobs=\"last\"}} {}\n", last_speed_);
  out += fmt::format("portal_encode_speed{{jobs=\"all\"}} {}\n", encode_wall_s_ > 0 ? media_s_ / encode_wall_s_ : 0.0);
  return out;
}

}  // namespace portal
