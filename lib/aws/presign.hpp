#pragma once
// Internal: presigning with a client already made (the store's presign() and the public calls).
#include <spool/aws/presign.hpp>

#include "aws/s3_request.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// Presigns `where` at `now` (tests pass a time in the past to get an expired URL).
result<presigned_url> presign_url(s3_client& client, const s3_uri& where, const presign_options& options,
                                  wall_clock::time_point now);

/// Creates the upload and presigns its parts, completion and abort, at `now`.
result<presigned_upload> presign_multipart(s3_client& client, const s3_uri& where, std::int64_t size,
                                           const presign_options& options, wall_clock::time_point now);

/// presign_playback with a client already made, at `now`.
result<private_playback> presign_playback(s3_client& client, const s3_uri& package, std::chrono::seconds expires,
                                          std::string_view playlist_base, wall_clock::time_point now);

/// Presigns a request of `method` to `url` for `expires` (already capped), with `headers` signed.
result<std::string> presign_raw(s3_client& client, std::string_view method, const std::string& url,
                                std::chrono::seconds expires, wall_clock::time_point now, const http_headers& headers,
                                std::vector<std::string>& warnings);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
