#pragma once
// Pieces of a SigV4 signature taken apart, so tests compare signatures, credential scopes and
// parameter sets rather than whole strings whose separators and order may legitimately differ.
#include <spool/version.hpp>

#include <map>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

/// "AWS4-HMAC-SHA256 Credential=AK/scope, SignedHeaders=a;b, Signature=hex" (with or without spaces
/// after the commas).
struct authorization_parts {
  std::string algorithm, credential, signed_headers, signature;
};
authorization_parts parse_authorization(std::string_view header);

/// The query parameters of `url`, percent-decoded ('+' stays '+'); a name without '=' maps to "".
/// Throws std::runtime_error when a name appears twice.
std::map<std::string, std::string> query_parameters(std::string_view url);

/// `url` without its query string.
std::string without_query(std::string_view url);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
