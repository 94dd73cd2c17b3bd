#pragma once
// Amazon S3 (or a compatible service) as spool storage: s3://bucket/key inputs read with ranged GETs,
// packages published under s3://bucket/prefix/ as they are produced, status.json beside them.
// docs/s3.md describes the publishing order, the caching headers and what a failed job leaves.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>
#include <spool/storage/store.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

struct SPOOL_API s3_options {
  /// Empty: resolve_region(); and the endpoint, resolve_endpoint("s3", region).
  std::string region;
  std::string endpoint;  ///< "https://s3.eu-west-1.amazonaws.com", "http://127.0.0.1:9000"
  /// Buckets addressed by path ("endpoint/bucket/key") rather than by host ("bucket.endpoint/key").
  /// Set for a custom endpoint (emulators and most S3-compatible services want it).
  bool path_style = false;
  /// Null: default_credentials_chain().
  std::shared_ptr<credentials_provider> credentials;
  std::string ca_file;  ///< PEM bundle trusted instead of the system store

  /// Inputs: the bytes one ranged GET asks for; a source holds two such windows at most (the one
  /// read and the next, fetched ahead).
  std::int64_t read_window = 8 << 20;
  /// Packages: bytes of files waiting for or in upload; put() blocks (back-pressure) beyond it.
  std::int64_t upload_queue_bytes = 64 << 20;
  int upload_threads = 4;
  /// put_file() uses a multipart upload from this size on, in parts of part_size.
  std::int64_t multipart_threshold = 64 << 20;
  std::int64_t part_size = 16 << 20;
  /// status.json's create() sends If-None-Match: * (S3 refuses the PUT when the object exists).
  /// False for services that ignore that header: create() then checks, then puts (a race between
  /// two submitters is possible there).
  bool conditional_writes = true;
};

/// An S3 store; paths are "bucket/key". Options are checked here (errc::invalid_argument).
SPOOL_API result<std::shared_ptr<storage::store>> make_s3_store(s3_options options);

/// Splits "s3://bucket/key" into bucket and key (the key may be empty: the bucket's root).
struct SPOOL_API s3_uri {
  std::string bucket;
  std::string key;
};
SPOOL_API result<s3_uri> parse_s3_uri(std::string_view uri);

/// The Content-Type and Cache-Control a package file is stored with, from its name: playlists and
/// the MPD change while a package is written and are cached briefly, segments never change.
struct SPOOL_API object_headers {
  std::string content_type;
  std::string cache_control;
};
SPOOL_API object_headers package_file_headers(std::string_view name);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
