#pragma once
// Internal: AWS Signature Version 4, for headers and for presigned query strings.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
#include <spool/aws/credentials.hpp>

#include <chrono>
#include <string>
#include <string_view>

#include "aws/http_client.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sigv4 {

/// The payload hash S3 accepts for bodies it should not hash (presigned URLs, streamed uploads).
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";

struct scope {
  std::string region;   ///< "us-east-1"
  std::string service;  ///< "sqs", "s3", "sts"
};

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~) stay,
/// everything else is %XX upper-case; '/' stays when `keep_slash`.
std::string uri_encode(std::string_view s, bool keep_slash);

/// "20150830T123600Z".
std::string amz_date(wall_clock::time_point t);

/// The canonical request for `request` (its url, method, headers and the given payload hash), with
/// the headers to sign: every header of the request, lower-cased. S3 uses the path as given; other
/// services normalise it ("/a/./b/../c" to "/a/c") and encode it a second time.
std::string canonical_request(const http_request& request, std::string_view payload_hash, std::string_view service);

/// Signs `request` in place: adds X-Amz-Date, X-Amz-Security-Token (with a session token), Host, and
/// for S3 X-Amz-Content-Sha256, then Authorization. `payload_hash` is the body's SHA-256 hex or
/// unsigned_payload.
void sign(http_request& request, std::string_view payload_hash, const credentials& creds, const scope& where,
          wall_clock::time_point now);

/// `url` with X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders, -Security-Token and
/// -Signature added to its query (UNSIGNED-PAYLOAD; the host is the only signed header unless
/// `headers` adds more, which the user of the URL must then send).
std::string presign(std::string_view method, std::string_view url, std::chrono::seconds expires,
                    const credentials& creds, const scope& where, wall_clock::time_point now,
                    const http_headers& headers = {});

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sigv4
