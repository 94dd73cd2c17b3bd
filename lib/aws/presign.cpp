// Presigned URLs for single objects and for multipart uploads.
#include "aws/presign.hpp"

#include <spool/job.hpp>

#include <algorithm>

#include "aws/s3_multipart.hpp"
#include "aws/sigv4.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

constexpr std::int64_t mib = 1 << 20;
constexpr std::int64_t min_part = 5 * mib;
constexpr std::int64_t max_part = 5LL << 30;
constexpr std::int64_t max_object = 5LL << 40;
constexpr int max_parts = 10'000;

result<std::chrono::seconds> capped_expiry(std::chrono::seconds asked, std::vector<std::string>& warnings) {
  if (asked.count() <= 0) return error(errc::invalid_argument, "a presigned URL must expire in at least 1 second");
  if (asked > max_presign_expiry) {
    warnings.push_back("the expiry of " + std::to_string(asked.count()) + " s is cut to 7 days (" +
                       std::to_string(max_presign_expiry.count()) + " s), the longest S3 accepts");
    return max_presign_expiry;
  }
  return asked;
}

}  // namespace

result<std::string> presign_raw(s3_client& client, std::string_view method, const std::string& url,
                                std::chrono::seconds expires, wall_clock::time_point now, const http_headers& headers,
                                std::vector<std::string>& warnings) {
  auto creds = client.service().credentials_source().get();
  if (!creds) return creds.error();
  if (creds->expiry && *creds->expiry < now + expires)
    warnings.push_back("the URL stops working at " + to_iso8601(*creds->expiry) + ", when the credentials (" +
                       creds->source + ") that sign it expire");
  return sigv4::presign(method, url, expires, *creds, {client.options().region, "s3"}, now, headers);
}

result<presigned_url> presign_url(s3_client& client, const s3_uri& where, const presign_options& options,
                                  wall_clock::time_point now) {
  if (options.method != "GET" && options.method != "PUT" && options.method != "HEAD")
    return error(errc::invalid_argument, "only GET, HEAD and PUT URLs are presigned, not '" + options.method + "'");
  if (where.key.empty()) return error(errc::invalid_argument, s3_name(where.bucket, "") + " names no object");
  presigned_url out;
  auto expires = capped_expiry(options.expires, out.warnings);
  if (!expires) return expires.error();
  out.expires = *expires;
  http_headers signed_headers;
  if (options.method == "PUT" && !options.content_type.empty()) {
    signed_headers.push_back({"Content-Type", options.content_type});
    out.headers.emplace_back("Content-Type", options.content_type);
  }
  auto url = presign_raw(client, options.method, client.url(where.bucket, where.key), out.expires, now, signed_headers,
                         out.warnings);
  if (!url) return url.error();
  out.url = *std::move(url);
  return out;
}

result<part_plan> choose_part_size(std::int64_t size) {
  if (size <= 0) return error(errc::invalid_argument, "a multipart upload needs a size above 0");
  if (size > max_object)
    return error(errc::invalid_argument, "S3 objects are at most 5 TiB; " + std::to_string(size) + " bytes is more");
  // The smallest whole number of MiB that fits the file in 10,000 parts, and never below 5 MiB.
  std::int64_t part = (size + max_parts - 1) / max_parts;
  part = (part + mib - 1) / mib * mib;
  part = std::max(part, min_part);
  if (part > max_part) return error(errc::invalid_argument, "no part size fits " + std::to_string(size) + " bytes");
  return part_plan{part, static_cast<int>((size + part - 1) / part)};
}

result<presigned_upload> presign_multipart(s3_client& client, const s3_uri& where, std::int64_t size,
                                           const presign_options& options, wall_clock::time_point now) {
  if (where.key.empty()) return error(errc::invalid_argument, s3_name(where.bucket, "") + " names no object");
  presigned_upload out;
  auto plan = choose_part_size(size);
  if (!plan) return plan.error();
  out.plan = *plan;
  auto expires = capped_expiry(options.expires, out.warnings);
  if (!expires) return expires.error();
  out.expires = *expires;
  http_headers object_headers{
      {"Content-Type", options.content_type.empty() ? "application/octet-stream" : options.content_type}};
  auto id = create_multipart(client, where.bucket, where.key, object_headers);
  if (!id) return id.error();
  out.upload_id = *id;
  const std::string upload = "uploadId=" + encode_query(out.upload_id);
  auto sign = [&](std::string_view method, const std::string& query) {
    return presign_raw(client, method, client.url(where.bucket, where.key, query), out.expires, now, {}, out.warnings);
  };
  for (int n = 1; n <= out.plan.parts; ++n) {
    auto url = sign("PUT", "partNumber=" + std::to_string(n) + "&" + upload);
    if (!url) return url.error();
    out.part_urls.push_back(*std::move(url));
  }
  auto complete = sign("POST", upload);
  if (!complete) return complete.error();
  out.complete_url = *std::move(complete);
  auto abort_url = sign("DELETE", upload);
  if (!abort_url) return abort_url.error();
  out.abort_url = *std::move(abort_url);
  std::sort(out.warnings.begin(), out.warnings.end());
  out.warnings.erase(std::unique(out.warnings.begin(), out.warnings.end()), out.warnings.end());
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
