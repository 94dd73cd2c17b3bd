#pragma once
// AWS credentials and where they come from. The default chain looks in the standard order:
// environment, the shared config and credentials files (AWS_PROFILE; static keys, or role_arn with
// source_profile through STS AssumeRole), web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN,
// STS AssumeRoleWithWebIdentity), ECS container credentials, EC2 instance metadata (IMDSv2).
// Temporary credentials are cached and refreshed before they expire. Secrets never appear in
// messages: errors name the source and the key id at most.
#include <spool/error.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

using wall_clock = std::chrono::system_clock;

struct SPOOL_API credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                     ///< empty for long-term keys
  std::optional<wall_clock::time_point> expiry;  ///< when temporary credentials stop working
  std::string source;                            ///< where they came from ("environment", "profile dev", ...)
};

/// Reads one environment variable; an empty optional when it is not set. Tests and hosts pass their
/// own instead of the process environment.
using environment = std::function<std::optional<std::string>(std::string_view name)>;
/// The process environment.
SPOOL_API environment process_environment();

/// Gives credentials; thread-safe. A provider that caches refreshes a few minutes before expiry.
class SPOOL_API credentials_provider {
 public:
  virtual ~credentials_provider() = default;
  /// errc::no_credentials when this source has none (the chain then asks the next), errc::network or
  /// errc::throttled when a credentials service could not be reached (the chain stops: it does not
  /// fall through to another identity because a service was briefly down).
  virtual result<credentials> get() = 0;
  /// Where the credentials come from, for messages: "environment", "web identity", ...
  virtual std::string name() const = 0;
};

/// Always the same credentials.
SPOOL_API std::shared_ptr<credentials_provider> static_credentials(credentials c);

/// The standard chain, reading `env` (and the files and services it names).
SPOOL_API std::shared_ptr<credentials_provider> default_credentials_chain(environment env = process_environment());

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
