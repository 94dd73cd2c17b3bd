// The S3 entry points that read the environment: s3:// in the storage registry, make_s3_store and
// the public presign calls.
#include <spool/aws/config.hpp>
#include <spool/aws/s3.hpp>

#include <memory>
#include <mutex>

#include "aws/presign.hpp"
#include "aws/s3_request.hpp"
#include "aws/schemes.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

result<s3_options> with_environment_defaults(s3_options o, const environment& env) {
  if (o.region.empty()) {
    auto region = resolve_region(env);
    if (!region) return region.error();
    o.region = *std::move(region);
  }
  if (o.endpoint.empty()) {
    auto ep = resolve_endpoint("s3", o.region, env);
    o.endpoint = ep.url;
    // Emulators and most S3-compatible services do not route bucket host names.
    o.path_style = o.path_style || ep.custom;
  }
  if (!o.credentials) o.credentials = default_credentials_chain(env);
  return o;
}

result<std::shared_ptr<storage::store>> make_s3_store(s3_options options) {
  auto o = with_environment_defaults(std::move(options), process_environment());
  if (!o) return o.error();
  return make_resolved_s3_store(*std::move(o));
}

namespace {

// A client for a public presign call: `store_options` completed from the environment, then checked.
result<std::unique_ptr<s3_client>> client_from_environment(const s3_options& store_options) {
  auto o = with_environment_defaults(store_options, process_environment());
  if (!o) return o.error();
  auto checked = check_s3_options(*std::move(o));
  if (!checked) return checked.error();
  return std::make_unique<s3_client>(*std::move(checked));
}

}  // namespace

result<presigned_url> presign(const s3_options& store_options, std::string_view uri, const presign_options& options) {
  auto where = parse_s3_uri(uri);
  if (!where) return where.error();
  auto client = client_from_environment(store_options);
  if (!client) return client.error();
  return presign_url(**client, *where, options, wall_clock::now());
}

result<presigned_upload> presign_multipart_upload(const s3_options& store_options, std::string_view uri,
                                                  std::int64_t size, const presign_options& options) {
  auto where = parse_s3_uri(uri);
  if (!where) return where.error();
  auto client = client_from_environment(store_options);
  if (!client) return client.error();
  return presign_multipart(**client, *where, size, options, wall_clock::now());
}

result<private_playback> presign_playback(const s3_options& store_options, std::string_view package_uri,
                                          std::chrono::seconds expires, std::string_view playlist_base) {
  auto where = parse_s3_uri(package_uri);
  if (!where) return where.error();
  auto client = client_from_environment(store_options);
  if (!client) return client.error();
  return presign_playback(**client, *where, expires, playlist_base, wall_clock::now());
}

void register_s3_scheme() {
  static std::once_flag once;
  std::call_once(once, [] {
    (void)storage::register_scheme("s3", [](std::string_view uri) -> result<storage::location> {
      // One store (one connection pool, one credentials cache) for every s3:// location.
      static std::mutex m;
      static std::shared_ptr<storage::store> shared;
      std::lock_guard lock(m);
      if (!shared) {
        auto s = make_s3_store({});
        if (!s) return s.error();
        shared = *std::move(s);
      }
      auto where = parse_s3_uri(uri);
      if (!where) return where.error();
      return storage::location{shared, where->bucket + "/" + where->key};
    });
  });
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
