#pragma once
// Internal: the shared AWS config and credentials files (~/.aws/config, ~/.aws/credentials), read the
// way the AWS CLI reads them. INI sections; `#` and `;` start a comment on their own line, or after
// whitespace inside a line; keys are case-insensitive; an indented line under a key with no value is
// a sub-setting ("s3 =\n  addressing_style = path" gives "s3.addressing_style"). In the config file
// profiles are "[profile NAME]" (and "[default]"); in the credentials file they are "[NAME]".
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

using ini_section = std::map<std::string, std::string>;   ///< lower-cased key -> value
using ini_sections = std::map<std::string, ini_section>;  ///< section name as written -> settings

/// Parses INI text. errc::invalid_argument (naming `origin` and the line number, never a line's
/// text: it may hold a secret) for a line that is neither a section, a setting nor a comment.
result<ini_sections> parse_ini(std::string_view text, std::string_view origin);

/// The profiles of both files, by name, with credentials-file settings over config-file ones.
struct shared_config {
  std::filesystem::path config_file;       ///< where it was looked for (it may not exist)
  std::filesystem::path credentials_file;  ///< likewise
  std::map<std::string, ini_section> profiles;
  std::map<std::string, ini_section> config_profiles;  ///< the config file's alone (region is read there only)

  const ini_section* profile(std::string_view name) const;
  /// A setting of a profile, empty when either is missing.
  std::string setting(std::string_view profile_name, std::string_view key) const;
};

/// AWS_CONFIG_FILE or ~/.aws/config; AWS_SHARED_CREDENTIALS_FILE or ~/.aws/credentials (a leading
/// "~" is the home directory: HOME, or USERPROFILE).
std::filesystem::path config_file_path(const environment& env);
std::filesystem::path credentials_file_path(const environment& env);

/// AWS_PROFILE, else "default".
std::string profile_name(const environment& env);

/// Reads both files; a missing file is no profiles, an unreadable or malformed one is an error.
result<shared_config> load_shared_config(const environment& env);

/// An environment variable, treating set-but-empty as unset (as the AWS CLI does).
std::optional<std::string> env_value(const environment& env, std::string_view name);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
