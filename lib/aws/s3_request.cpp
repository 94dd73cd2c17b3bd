// S3 addressing, key encoding, the answers' XML, and the small calls every S3 piece shares.
#include "aws/s3_request.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "aws/sigv4.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

constexpr std::string_view s3_scheme = "s3://";

}  // namespace

bool valid_bucket_name(std::string_view b) noexcept {
  if (b.size() < 3 || b.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(b.front()) || !alnum(b.back())) return false;
  return std::all_of(b.begin(), b.end(), [&](char c) { return alnum(c) || c == '.' || c == '-'; }) &&
         b.find("..") == std::string_view::npos;
}

std::string encode_key(std::string_view key) { return sigv4::uri_encode(key, true); }
std::string encode_query(std::string_view s) { return sigv4::uri_encode(s, false); }

std::string s3_name(std::string_view bucket, std::string_view key) {
  return std::string(s3_scheme) + std::string(bucket) + "/" + std::string(key);
}

result<s3_uri> split_path(std::string_view path) {
  if (path.starts_with(s3_scheme)) path.remove_prefix(s3_scheme.size());
  auto slash = path.find('/');
  s3_uri u{std::string(path.substr(0, slash)),
           slash == std::string_view::npos ? "" : std::string(path.substr(slash + 1))};
  if (!valid_bucket_name(u.bucket))
    return error(errc::invalid_argument, "'" + u.bucket + "' is not a valid S3 bucket name");
  if (u.key.size() > 1024) return error(errc::invalid_argument, "an S3 key is at most 1024 bytes long");
  return u;
}

result<s3_uri> parse_s3_uri(std::string_view uri) {
  if (uri.size() < s3_scheme.size() || !std::equal(s3_scheme.begin(), s3_scheme.end(), uri.begin(), [](char a, char b) {
        return a == std::tolower(static_cast<unsigned char>(b));
      }))
    return error(errc::invalid_argument, "not an s3:// URI: " + std::string(uri.substr(0, 200)));
  return split_path(uri.substr(s3_scheme.size()));
}

s3_client::s3_client(s3_options options, service_options tuning)
    : options_(std::move(options)),
      service_(
          [this, &tuning] {
            service_options so = std::move(tuning);
            so.where = {options_.region, "s3"};
            so.endpoint = options_.endpoint;
            so.http.ca_file = options_.ca_file;
            return so;
          }(),
          options_.credentials) {}

bool s3_client::path_style_for(std::string_view bucket) const noexcept {
  // A dotted bucket in the host would not match the endpoint's wildcard certificate.
  return options_.path_style ||
         (options_.endpoint.starts_with("https://") && bucket.find('.') != std::string_view::npos);
}

std::string s3_client::url(std::string_view bucket, std::string_view key, std::string_view query) const {
  std::string u;
  const std::string& ep = options_.endpoint;
  if (path_style_for(bucket)) {
    u = ep + "/" + std::string(bucket);
    if (!key.empty()) u += "/" + encode_key(key);
  } else {
    auto host = ep.find("://");
    host = host == std::string::npos ? 0 : host + 3;
    u = ep.substr(0, host) + std::string(bucket) + "." + ep.substr(host) + "/" + encode_key(key);
  }
  if (!query.empty()) u += "?" + std::string(query);
  return u;
}

result<http_response> s3_client::send(const http_request& request, std::string_view what, std::string payload_hash,
                                      const body_writer& writer, const io::interrupt_check& interrupt) {
  auto r = service_.call(request, std::move(payload_hash), writer, interrupt);
  if (!r) {
    // Transport errors name only the host: say which request failed.
    auto e = r.error();
    if (e.code == errc::network) e.message = std::string(what) + ": " + e.what();
    return e;
  }
  if (r->status / 100 != 2) return to_error(parse_service_error(*r), what);
  return r;
}

result<std::optional<object_info>> s3_client::head(std::string_view bucket, std::string_view key) {
  http_request rq;
  rq.method = "HEAD";
  rq.url = url(bucket, key);
  auto r = service_.call(rq);
  if (!r) return r.error();
  if (r->status == 404) return std::optional<object_info>{};
  if (r->status / 100 != 2) return to_error(parse_service_error(*r), "HEAD " + s3_name(bucket, key));
  object_info info;
  auto len = find_header(r->headers, "Content-Length");
  std::from_chars(len.data(), len.data() + len.size(), info.size);
  info.etag = std::string(find_header(r->headers, "ETag"));
  info.content_type = std::string(find_header(r->headers, "Content-Type"));
  return std::optional<object_info>(std::move(info));
}

result<std::optional<std::string>> s3_client::get_small(std::string_view bucket, std::string_view key,
                                                        std::size_t limit) {
  http_request rq;
  rq.url = url(bucket, key);
  std::string body;
  bool too_large = false;
  body_writer w = [&](std::span<const std::byte> chunk) -> error {
    if (body.size() + chunk.size() > limit) {
      too_large = true;
      return error(errc::io_error, s3_name(bucket, key) + " is too large to be a package's file");
    }
    body.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
    return {};
  };
  auto r = service_.call(rq, {}, w);
  if (too_large) return error(errc::io_error, s3_name(bucket, key) + " is too large to be a package's file");
  if (!r) return r.error();
  if (r->status == 404) return std::optional<std::string>{};
  if (r->status / 100 != 2) return to_error(parse_service_error(*r), "GET " + s3_name(bucket, key));
  return std::optional<std::string>(std::move(body));
}

error s3_client::put(std::string_view bucket, std::string_view key, std::string body, http_headers headers) {
  http_request rq;
  rq.method = "PUT";
  rq.url = url(bucket, key);
  rq.headers = std::move(headers);
  if (find_header(rq.headers, "Content-Type").empty())
    set_header(rq.headers, "Content-Type", "application/octet-stream");
  rq.body = std::move(body);
  auto r = send(rq, "PUT " + s3_name(bucket, key));
  return r ? error{} : r.error();
}

error s3_client::remove(std::string_view bucket, std::string_view key) {
  http_request rq;
  rq.method = "DELETE";
  rq.url = url(bucket, key);
  auto r = service_.call(rq);
  if (!r) return r.error();
  if (r->status == 404 || r->status / 100 == 2) return {};
  return to_error(parse_service_error(*r), "DELETE " + s3_name(bucket, key));
}

result<list_page> s3_client::list(std::string_view bucket, std::string_view prefix, std::string_view delimiter,
                                  std::string_view continuation, int max_keys) {
  // Query parameters in sorted order (the canonical request sorts them anyway).
  std::string q;
  if (!continuation.empty()) q += "continuation-token=" + encode_query(continuation) + "&";
  if (!delimiter.empty()) q += "delimiter=" + encode_query(delimiter) + "&";
  q += "list-type=2&max-keys=" + std::to_string(max_keys) + "&prefix=" + encode_query(prefix);
  http_request rq;
  rq.url = url(bucket, "", q);
  auto r = send(rq, "list " + s3_name(bucket, prefix));
  if (!r) return r.error();
  list_page page;
  for (auto c : xml_blocks(r->body, "Contents"))
    if (auto k = xml_text(c, "Key")) page.keys.push_back(std::move(*k));
  for (auto c : xml_blocks(r->body, "CommonPrefixes"))
    if (auto p = xml_text(c, "Prefix")) page.prefixes.push_back(std::move(*p));
  if (xml_text(r->body, "IsTruncated").value_or("false") == "true")
    page.next = xml_text(r->body, "NextContinuationToken").value_or("");
  return page;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
