// Opening an SQS queue: its URL, attributes and dead-letter queue.
#include <spool/aws/config.hpp>
#include <spool/aws/sqs.hpp>

#include <charconv>

#include "aws/sqs_queue.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

using sqs::connection;
using sqs::queue_info;

// "https://sqs.eu-west-1.amazonaws.com/..." or "http://sqs.us-east-1.localhost:4566/..." -> the region.
std::string region_of_url(std::string_view url) {
  auto host = url.find("://");
  if (host == std::string_view::npos) return {};
  url.remove_prefix(host + 3);
  url = url.substr(0, url.find_first_of("/:"));
  if (!url.starts_with("sqs.")) return {};
  url.remove_prefix(4);
  return std::string(url.substr(0, url.find('.')));
}

result<queue_info> describe(connection& conn, const std::string& url) {
  auto attrs = conn.attributes(url);
  if (!attrs) return attrs.error();
  queue_info q;
  q.url = url;
  q.arn = (*attrs)["QueueArn"];
  q.fifo = (*attrs)["FifoQueue"] == "true";
  const auto& size = (*attrs)["MaximumMessageSize"];
  std::size_t n = 0;
  if (std::from_chars(size.data(), size.data() + size.size(), n).ec == std::errc{} && n > 0) q.max_message_bytes = n;
  return q;
}

// The dead-letter queue: the one configured (URL or name), else the RedrivePolicy's target.
result<std::optional<queue_info>> dead_letter_queue(connection& conn, const sqs_options& o,
                                                    const std::string& main_url) {
  std::string url;
  if (o.dead_letter_queue.find("://") != std::string::npos) {
    url = o.dead_letter_queue;
  } else if (!o.dead_letter_queue.empty()) {
    auto u = conn.queue_url(o.dead_letter_queue, o.account_id);
    if (!u) return u.error();
    url = *u;
  } else {
    auto attrs = conn.attributes(main_url, {"RedrivePolicy"});
    if (!attrs) return attrs.error();
    auto policy = (*attrs)["RedrivePolicy"];
    if (policy.empty()) return std::optional<queue_info>{};
    boost::system::error_code ec;
    auto v = boost::json::parse(policy, ec);
    sqs::queue_arn arn;
    if (ec || !v.is_object() || !sqs::parse_queue_arn(sqs::string_of(v.get_object(), "deadLetterTargetArn"), arn))
      return error{errc::invalid_argument, main_url + ": its RedrivePolicy names no dead-letter queue ARN: " + policy};
    auto u = conn.queue_url(arn.name, arn.account);
    if (!u) return u.error();
    url = *u;
  }
  auto q = describe(conn, url);
  if (!q) return q.error();
  return std::optional<queue_info>(std::move(*q));
}

}  // namespace

result<std::shared_ptr<queue::queue_adapter>> make_sqs_queue(const sqs_options& o) {
  if (o.queue_url.empty() && o.queue_name.empty())
    return error{errc::invalid_argument, "an SQS queue needs its URL or its name"};
  const environment env = o.env ? o.env : process_environment();
  std::string region = o.region.empty() ? region_of_url(o.queue_url) : o.region;
  if (region.empty()) {
    auto r = resolve_region(env);
    if (!r) return r.error();
    region = *r;
  }
  std::string endpoint = o.endpoint.empty() ? resolve_endpoint("sqs", region, env).url : o.endpoint;
  while (endpoint.ends_with('/')) endpoint.pop_back();
  service_options so;
  so.where = {region, "sqs"};
  so.endpoint = endpoint;
  auto creds = o.credentials ? o.credentials : default_credentials_chain(env);
  auto conn = std::make_shared<connection>(std::move(so), std::move(creds));

  std::string url = o.queue_url;
  if (url.empty()) {
    auto u = conn->queue_url(o.queue_name, o.account_id);
    if (!u) return u.error();
    url = *u;
  }
  sqs::queue_config c;
  c.conn = conn;
  auto main = describe(*conn, url);
  if (!main) return main.error();
  c.main = std::move(*main);
  auto dead = dead_letter_queue(*conn, o, url);
  if (!dead) return dead.error();
  c.dead = std::move(*dead);
  if (c.dead && c.dead->fifo != c.main.fifo)
    return error{errc::invalid_argument, url + ": its dead-letter queue " + c.dead->url +
                                             " is not of the same type (FIFO and standard do not mix)"};
  c.group_id = o.message_group_id;
  c.poll_wait = std::clamp(o.poll_wait, std::chrono::seconds(1), std::chrono::seconds(sqs::max_wait_s));
  c.use_move_task = o.use_move_task;
  c.max_dead_letter_scan = std::max<std::size_t>(o.max_dead_letter_scan, 1);
  return std::shared_ptr<queue::queue_adapter>(std::make_shared<sqs::sqs_queue>(std::move(c)));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
