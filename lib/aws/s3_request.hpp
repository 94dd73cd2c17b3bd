#pragma once
// Internal: how S3 requests are addressed and sent. Buckets go in the host (virtual-hosted style)
// on AWS's own endpoints and in the path on custom ones (or when asked); keys are percent-encoded
// once, exactly as SigV4 signs S3 paths (S3 does not normalise them: "a//b" and "./x" are keys).
#include <spool/aws/s3.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_client.hpp"
#include "aws/service_client.hpp"
#include "aws/xml_text.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// S3's bucket naming rules (3-63 characters: a-z 0-9 . -, starting and ending with a letter or digit).
bool valid_bucket_name(std::string_view bucket) noexcept;
/// The key as it goes in a URL path: every byte but A-Z a-z 0-9 - . _ ~ and '/' as %XX.
std::string encode_key(std::string_view key);
/// A query parameter's name or value.
std::string encode_query(std::string_view s);

struct object_info {
  std::int64_t size = -1;
  std::string etag;
  std::string content_type;
};

struct list_page {
  std::vector<std::string> keys;      ///< whole keys
  std::vector<std::string> prefixes;  ///< common prefixes, with their delimiter
  std::string next;                   ///< continuation token; empty on the last page
};

/// The options with region, endpoint and credentials filled in, and the client every call of one
/// store goes through.
class s3_client {
 public:
  /// `options` must be resolved (region, endpoint, credentials set). `tuning` gives the retries and
  /// the HTTP timeouts (its scope, endpoint and CA file are taken from `options`).
  explicit s3_client(s3_options options, service_options tuning = {});

  const s3_options& options() const noexcept { return options_; }
  service_client& service() noexcept { return service_; }

  /// "https://bucket.s3.region.amazonaws.com/key?query" or "endpoint/bucket/key?query".
  std::string url(std::string_view bucket, std::string_view key, std::string_view query = {}) const;
  bool path_style_for(std::string_view bucket) const noexcept;

  /// Sends (signed, retried); a non-2xx answer is the error to_error gives, naming `what`.
  result<http_response> send(const http_request& request, std::string_view what, std::string payload_hash = {},
                             const body_writer& writer = {}, const io::interrupt_check& interrupt = {});

  /// An object's size and ETag; empty when there is none.
  result<std::optional<object_info>> head(std::string_view bucket, std::string_view key);
  /// A small object whole; empty when there is none; errc::io_error beyond `limit` bytes.
  result<std::optional<std::string>> get_small(std::string_view bucket, std::string_view key, std::size_t limit);
  /// PUT of a small body with these headers.
  error put(std::string_view bucket, std::string_view key, std::string body, http_headers headers);
  /// DELETE; a key that is not there is no error.
  error remove(std::string_view bucket, std::string_view key);
  /// One page of ListObjectsV2.
  result<list_page> list(std::string_view bucket, std::string_view prefix, std::string_view delimiter,
                         std::string_view continuation = {}, int max_keys = 1000);

 private:
  s3_options options_;
  service_client service_;
};

/// Checks options whose region, endpoint and credentials are set (errc::invalid_argument).
result<s3_options> check_s3_options(s3_options options);
/// Fills an empty region, endpoint (a custom one addresses by path) and credentials from `env`.
result<s3_options> with_environment_defaults(s3_options options, const environment& env);
/// A store for options already resolved (tests give their own endpoint and credentials).
result<std::shared_ptr<storage::store>> make_resolved_s3_store(s3_options options);

/// "s3://bucket/key" for messages.
std::string s3_name(std::string_view bucket, std::string_view key);
/// Splits a store path "bucket/key" (a leading "s3://" is accepted too).
result<s3_uri> split_path(std::string_view path);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
