// The JSON API: POST/GET /videos, GET /videos/{id}, POST /videos/{id}/complete (S3), /healthz, /metrics.
#include <spool/aws/presign.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "http.hpp"
#include "service.hpp"

namespace asio = boost::asio;
namespace json = boost::json;

namespace portal {

namespace {

constexpr std::size_t json_body_limit = 16 * 1024;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// "host:port" as the client addressed us, when it is a plain host name or address.
std::string origin(const exchange& x) {
  const std::string_view host = x.header()[http::field::host];
  const bool plain = !host.empty() && host.size() < 256 && std::all_of(host.begin(), host.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
  });
  if (plain) return "http://" + std::string(host);
  return fmt::format("http://{}:{}", x.app.config().host, x.app.port());
}

// The reason a new video's announced fields are refused; empty when they are fine.
std::string refuse_new_video(const json::object& o, std::int64_t max_bytes, std::string& filename, std::int64_t& size,
                             std::string& content_type) {
  const auto* f = o.if_contains("filename");
  const auto* s = o.if_contains("size");
  const auto* t = o.if_contains("content_type");
  if (!f || !f->is_string()) return "filename must be a string";
  filename = f->as_string();
  if (filename.empty() || filename.size() > 255) return "filename must have 1 to 255 characters";
  if (std::any_of(filename.begin(), filename.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '/' || c == '\\'; }))
    return "filename must be a plain name, without slashes or control characters";
  if (!s || (!s->is_int64() && !s->is_uint64())) return "size must be a whole number of bytes";
  if (s->is_uint64() || s->as_int64() <= 0) return "size must be a positive number of bytes";
  size = s->as_int64();
  if (size > max_bytes) return "";  // told apart by the caller: 413
  if (!t) {
    content_type = "application/octet-stream";
  } else if (!t->is_string() || t->as_string().size() > 127) {
    return "content_type must be a string";
  } else {
    content_type = t->as_string();
    const bool media = content_type.starts_with("video/") || content_type.starts_with("audio/") ||
                       content_type == "application/octet-stream";
    if (!media) return "content_type must be video/*, audio/* or application/octet-stream";
  }
  return {};
}

asio::awaitable<void> create_video(exchange& x) {
  if (const auto length = x.parser.content_length(); length && *length > json_body_limit) {
    x.keep_alive = false;
    co_return co_await send_error(x, http::status::payload_too_large, "body_too_large",
                                  "the request body is too large");
  }
  http::request_parser<http::string_body> body{std::move(x.parser)};
  body.body_limit(json_body_limit);
  auto [ec, n] = co_await http::async_read(x.stream, x.buffer, body, asio::as_tuple(asio::use_awaitable));
  if (ec == http::error::body_limit) {
    x.keep_alive = false;
    co_return co_await send_error(x, http::status::payload_too_large, "body_too_large",
                                  "the request body is too large");
  }
  if (ec) {
    x.keep_alive = false;
    co_return;
  }
  x.body_read = true;
  boost::system::error_code jec;
  auto jv = json::parse(body.get().body(), jec);
  if (jec || !jv.is_object())
    co_return co_await send_error(x, http::status::bad_request, "invalid_json", "the body must be a JSON object");
  video v;
  const std::string why =
      refuse_new_video(jv.as_object(), x.app.config().max_upload_bytes, v.filename, v.size, v.content_type);
  if (!why.empty()) co_return co_await send_error(x, http::status::bad_request, "invalid_video", why);
  if (v.size > x.app.config().max_upload_bytes)
    co_return co_await send_error(
        x, http::status::payload_too_large, "too_large",
        fmt::format("uploads are limited to {} bytes; this one announces {}", x.app.config().max_upload_bytes, v.size));
  v.id = new_id();
  v.created_at = v.updated_at = std::chrono::system_clock::now();
  v.upload_expires = unix_now() + x.app.config().url_ttl.count();
  json::object answer{
      {"id", v.id},
      {"expires_at", spool::to_iso8601(std::chrono::system_clock::time_point(std::chrono::seconds(v.upload_expires)))}};
  if (x.app.on_s3()) {
    spool::aws::presign_options po;
    po.method = "PUT";
    po.expires = x.app.config().url_ttl;
    po.content_type = v.content_type;
    answer["complete_url"] = "/videos/" + v.id + "/complete";
    json::object headers{{"Content-Type", v.content_type}};
    if (v.size >= x.app.config().multipart_threshold) {
      // In parts: each retried on its own, and uploads past S3's 5 GiB for one PUT.
      auto up = spool::aws::presign_multipart_upload({}, x.app.source_of(v.id), v.size, po);
      if (!up)
        co_return co_await send_error(x, http::status::service_unavailable, "storage_unavailable",
                                      "cannot start the multipart upload: " + up.error().what());
      json::array parts;
      for (const auto& u : up->part_urls) parts.push_back(json::value(u));
      answer["upload_url"] = nullptr;
      answer["multipart"] = json::object{{"part_size", up->plan.part_size},
                                         {"part_urls", std::move(parts)},
                                         {"complete_url", up->complete_url},
                                         {"abort_url", up->abort_url}};
    } else {
      auto url = spool::aws::presign({}, x.app.source_of(v.id), po);
      if (!url)
        co_return co_await send_error(x, http::status::service_unavailable, "storage_unavailable",
                                      "cannot presign the upload: " + url.error().what());
      answer["upload_url"] = url->url;
      for (const auto& [name, value] : url->headers) headers[name] = value;
    }
    answer["upload_headers"] = std::move(headers);
  } else {
    answer["upload_url"] = origin(x) + x.app.signer().path_for(v.id, v.upload_expires);
  }
  if (!x.app.videos().add(v, x.app.config().max_videos))
    co_return co_await send_error(x, http::status::too_many_requests, "too_many_videos",
                                  fmt::format("the portal keeps at most {} videos", x.app.config().max_videos));
  co_await send_json(x, http::status::created, answer);
}

// S3: the browser has PUT the source with the presigned URL; queue the job.
asio::awaitable<void> complete_upload(exchange& x, std::string_view id) {
  if (!x.app.on_s3())
    co_return co_await send_error(x, http::status::bad_request, "not_s3",
                                  "uploads to local storage complete with their PUT");
  auto v = x.app.videos().get(id);
  if (!v) co_return co_await send_error(x, http::status::not_found, "not_found", "no such video");
  if (v->state != video_state::uploading)
    co_return co_await send_error(x, http::status::conflict, "already_uploaded", "this upload is complete already");
  if (auto e = x.app.enqueue(id); e)
    co_return co_await send_error(x, http::status::service_unavailable, "queue_unavailable", e.what());
  co_await send_json(x, http::status::ok, to_json(*x.app.videos().get(id)));
}

std::string metrics_text(service& app) {
  std::string out = app.stats().text();
  out += "# HELP portal_videos Videos by state.\n# TYPE portal_videos gauge\n";
  for (const auto& [state, n] : app.videos().counts())
    out += fmt::format("portal_videos{{state=\"{}\"}} {}\n", to_string(state), n);
  if (auto q = app.queue_stats()) {
    out += "# HELP portal_queue_messages The job queue's messages by where they are.\n";
    out += "# TYPE portal_queue_messages gauge\n";
    out += fmt::format("portal_queue_messages{{where=\"visible\"}} {}\n", q->visible);
    out += fmt::format("portal_queue_messages{{where=\"in_flight\"}} {}\n", q->in_flight);
    out += fmt::format("portal_queue_messages{{where=\"delayed\"}} {}\n", q->delayed);
    out += fmt::format("portal_queue_messages{{where=\"dead\"}} {}\n", q->dead);
    out += "# HELP portal_queue_oldest_age_seconds Age of the oldest job not yet done.\n";
    out += "# TYPE portal_queue_oldest_age_seconds gauge\n";
    out += fmt::format("portal_queue_oldest_age_seconds {}\n", q->oldest_age_s);
  }
  return out;
}

}  // namespace

asio::awaitable<void> handle_api(exchange& x, std::string_view path, std::string_view query) {
  (void)query;
  const auto method = x.header().method();
  const bool get = method == http::verb::get || method == http::verb::head;
  if (path == "/healthz") {
    x.route = "healthz";
    if (!get) co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use GET");
    const json::value ok = json::object{{"ok", true}};
    co_return co_await send_json(x, http::status::ok, ok);
  }
  if (path == "/metrics") {
    x.route = "metrics";
    if (!get) co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use GET");
    co_return co_await send_text(x, http::status::ok, "text/plain; version=0.0.4", metrics_text(x.app));
  }
  if (path == "/videos") {
    x.route = "videos";
    if (method == http::verb::post) co_return co_await create_video(x);
    if (!get)
      co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use GET or POST");
    json::array all;
    for (const auto& v : x.app.videos().list()) all.push_back(to_json(v));
    const json::value listing = json::object{{"videos", std::move(all)}};
    co_return co_await send_json(x, http::status::ok, listing);
  }
  // /videos/{id} and /videos/{id}/complete
  std::string_view rest = path.substr(8);
  const auto slash = rest.find('/');
  const std::string_view id = rest.substr(0, slash);
  const std::string_view tail = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  x.route = tail.empty() ? "video" : "video_action";
  if (!valid_id(id)) co_return co_await send_error(x, http::status::not_found, "not_found", "no such video");
  if (tail == "/complete") {
    if (method != http::verb::post)
      co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use POST");
    co_return co_await complete_upload(x, id);
  }
  if (!tail.empty()) co_return co_await send_error(x, http::status::not_found, "not_found", "no such resource");
  if (!get) co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use GET");
  auto v = x.app.videos().get(id);
  if (!v) co_return co_await send_error(x, http::status::not_found, "not_found", "no such video");
  co_await send_json(x, http::status::ok, to_json(*v));
}

}  // namespace portal
