#pragma once
// Internal: S3 multipart uploads (CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
// AbortMultipartUpload), and a local file uploaded in parts streamed from disk.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "aws/s3_request.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

struct completed_part {
  int number = 0;
  std::string etag;
};

/// The upload id; `headers` (Content-Type, Cache-Control) are the object's.
result<std::string> create_multipart(s3_client& c, std::string_view bucket, std::string_view key,
                                     const http_headers& headers);
/// Uploads part `number` (1-based) from `body`; its ETag.
result<std::string> upload_part(s3_client& c, std::string_view bucket, std::string_view key, std::string_view upload_id,
                                int number, std::shared_ptr<body_reader> body);
error complete_multipart(s3_client& c, std::string_view bucket, std::string_view key, std::string_view upload_id,
                         const std::vector<completed_part>& parts);
error abort_multipart(s3_client& c, std::string_view bucket, std::string_view key, std::string_view upload_id);

/// The CompleteMultipartUpload request body.
std::string complete_body(const std::vector<completed_part>& parts);

/// A body_reader over bytes [offset, offset + length) of a file, read as it is sent.
result<std::shared_ptr<body_reader>> file_body(const std::filesystem::path& file, std::int64_t offset,
                                               std::int64_t length);

/// Uploads `file` as `key` in parts of `part_size`. `started` is told the upload id as soon as there
/// is one (so an abort elsewhere can end it); on failure the upload is aborted here.
error upload_file_in_parts(s3_client& c, std::string_view bucket, std::string_view key, const http_headers& headers,
                           const std::filesystem::path& file, std::int64_t part_size,
                           const std::function<void(const std::string&)>& started = {});

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
