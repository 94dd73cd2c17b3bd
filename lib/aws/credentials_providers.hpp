#pragma once
// Internal: the sources of the default chain, one by one, the cache that refreshes temporary
// credentials before they expire, and the chain itself. Every source reads the injected environment
// only. A source that has nothing answers errc::no_credentials; one that is configured but fails
// answers another code, and the chain stops there rather than use some other identity.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "aws/http_client.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

using clock_function = std::function<wall_clock::time_point()>;

struct provider_options {
  /// Temporary credentials are fetched again this long before they expire.
  std::chrono::seconds refresh_window{300};
  /// After a failed refresh, while the old credentials still work, wait this long before trying again.
  std::chrono::seconds retry_after_failure{10};
  clock_function now;  ///< empty: the system clock
  /// Options for the instance metadata, container and web identity calls (instance metadata and
  /// container sources cap the timeouts lower: see each). `ca_file` also applies to STS.
  http_options http;
  /// Seconds an IMDSv2 session token lives (X-aws-ec2-metadata-token-ttl-seconds).
  int imds_token_ttl = 21600;
  /// Where AWS_CONTAINER_CREDENTIALS_RELATIVE_URI points (tests put a loopback server there).
  std::string container_host = "http://169.254.170.2";
};

/// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
std::shared_ptr<credentials_provider> environment_credentials(environment env);

/// The profile AWS_PROFILE (or "default") of the shared files: static keys, or role_arn with
/// source_profile (STS AssumeRole) or web_identity_token_file (AssumeRoleWithWebIdentity).
std::shared_ptr<credentials_provider> profile_credentials(environment env, provider_options options = {});

/// AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN (+ AWS_ROLE_SESSION_NAME): STS AssumeRoleWithWebIdentity.
std::shared_ptr<credentials_provider> web_identity_credentials(environment env, provider_options options = {});

/// ECS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (against 169.254.170.2) or
/// _FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or _TOKEN sent as Authorization.
std::shared_ptr<credentials_provider> container_credentials(environment env, provider_options options = {});

/// EC2 instance metadata, IMDSv2 (AWS_EC2_METADATA_SERVICE_ENDPOINT, AWS_EC2_METADATA_DISABLED).
std::shared_ptr<credentials_provider> instance_metadata_credentials(environment env, provider_options options = {});

/// Keeps what `inner` gave until `refresh_window` before its expiry (forever without one); one
/// refresh at a time, other callers meanwhile get the old credentials while they still work.
/// Errors are not cached.
std::shared_ptr<credentials_provider> cached_credentials(std::shared_ptr<credentials_provider> inner,
                                                         provider_options options = {});

/// Asks each source in turn until one has credentials, then keeps asking that one.
std::shared_ptr<credentials_provider> credentials_chain(std::vector<std::shared_ptr<credentials_provider>> sources);

/// The default chain with options (tests shorten the refresh window or point the clock).
std::shared_ptr<credentials_provider> default_credentials_chain(const environment& env,
                                                                const provider_options& options);

// ---- shared by the sources ----

/// The credentials of an STS answer (AssumeRoleResult or AssumeRoleWithWebIdentityResult XML).
result<credentials> parse_sts_credentials(std::string_view xml, std::string_view what);
/// The credentials of a container or instance metadata answer (JSON: AccessKeyId, SecretAccessKey,
/// Token, Expiration).
result<credentials> parse_json_credentials(std::string_view json, std::string_view what);
/// "2026-11-29T03:35:37Z" (fractional seconds and a numeric offset allowed).
std::optional<wall_clock::time_point> parse_iso8601(std::string_view text);

/// Long-term keys of the profile, through STS AssumeRole into the role `role_arn`.
result<credentials> assume_role(const credentials& source, const environment& env, const provider_options& options,
                                std::string_view role_arn, std::string_view session_name, std::string_view external_id,
                                int duration_seconds);
/// STS AssumeRoleWithWebIdentity (unsigned) with the token read from `token_file`.
result<credentials> assume_role_with_web_identity(const environment& env, const provider_options& options,
                                                  std::string_view token_file, std::string_view role_arn,
                                                  std::string_view session_name);

/// A session name for roles that were given none.
std::string default_session_name(const provider_options& options);

inline wall_clock::time_point now_of(const provider_options& options) {
  return options.now ? options.now() : wall_clock::now();
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
