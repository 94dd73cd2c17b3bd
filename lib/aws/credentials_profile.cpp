// The shared files' profile: static keys, or a role assumed with another profile's credentials
// (source_profile) or with a web identity token file.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "aws/credentials_providers.hpp"
#include "aws/shared_config.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

constexpr std::size_t max_role_chain = 8;

class profile_provider final : public credentials_provider {
 public:
  profile_provider(environment env, provider_options options) : env_(std::move(env)), options_(std::move(options)) {}

  result<credentials> get() override {
    auto config = load_shared_config(env_);
    if (!config) return config.error();
    auto name = profile_name(env_);
    if (config->profile(name) == nullptr) {
      auto where = fmt::format("neither {} nor {}", config->config_file.string(), config->credentials_file.string());
      // A profile asked for by name must exist; the default one may well not.
      if (env_value(env_, "AWS_PROFILE"))
        return error(errc::invalid_argument,
                     fmt::format("AWS_PROFILE names the profile '{}', which {} has", name, where));
      return error(errc::no_credentials, fmt::format("no profile '{}' in {}", name, where));
    }
    std::vector<std::string> visiting;
    return resolve(*config, name, visiting);
  }

  std::string name() const override { return fmt::format("profile {}", profile_name(env_)); }

 private:
  result<credentials> resolve(const shared_config& config, const std::string& name,
                              std::vector<std::string>& visiting) const {
    const ini_section* p = config.profile(name);
    if (p == nullptr)
      return error(errc::invalid_argument, fmt::format("the source profile '{}' of '{}' is in neither {} nor {}", name,
                                                       visiting.empty() ? name : visiting.back(),
                                                       config.config_file.string(), config.credentials_file.string()));
    auto get = [p](std::string_view key) {
      auto it = p->find(std::string(key));
      return it == p->end() ? std::string() : it->second;
    };
    auto id = get("aws_access_key_id"), secret = get("aws_secret_access_key");
    if (id.empty() != secret.empty())
      return error(errc::invalid_argument, fmt::format("the profile '{}' has {} but not {}", name,
                                                       id.empty() ? "aws_secret_access_key" : "aws_access_key_id",
                                                       id.empty() ? "aws_access_key_id" : "aws_secret_access_key"));
    auto static_keys = [&]() {
      credentials c;
      c.access_key_id = id;
      c.secret_access_key = secret;
      c.session_token = get("aws_session_token");
      c.source = fmt::format("profile {}", name);
      return c;
    };

    auto role_arn = get("role_arn");
    if (role_arn.empty()) {
      if (!id.empty()) return static_keys();
      // Sources spool does not speak: refused, rather than quietly using some other identity.
      for (const char* key : {"credential_process", "sso_session", "sso_start_url"})
        if (!get(key).empty())
          return error(errc::feature_unsupported,
                       fmt::format("the profile '{}' uses {}, which spool does not support", name, key));
      return error(errc::no_credentials, fmt::format("the profile '{}' has no credentials", name));
    }
    auto session = get("role_session_name");
    if (session.empty()) session = default_session_name(options_);
    if (auto token_file = get("web_identity_token_file"); !token_file.empty()) {
      auto c = assume_role_with_web_identity(env_, options_, token_file, role_arn, session);
      if (c) c->source = fmt::format("profile {} (web identity {})", name, role_arn);
      return c;
    }
    auto source = get("source_profile");
    if (source.empty()) {
      if (!get("credential_source").empty())
        return error(errc::feature_unsupported,
                     fmt::format("the profile '{}' uses credential_source, which spool does not support; use "
                                 "source_profile",
                                 name));
      return error(errc::invalid_argument, fmt::format("the profile '{}' has role_arn but no source_profile", name));
    }
    int duration = 3600;
    if (auto d = get("duration_seconds"); !d.empty()) {
      auto [end, ec] = std::from_chars(d.data(), d.data() + d.size(), duration);
      if (ec != std::errc{} || end != d.data() + d.size() || duration < 900 || duration > 43200)
        return error(errc::invalid_argument,
                     fmt::format("the profile '{}' has duration_seconds '{}', not 900 to 43200", name, d));
    }

    result<credentials> source_creds = error(errc::internal);
    if (source == name) {  // a profile may hold the keys that assume its own role
      if (id.empty())
        return error(errc::invalid_argument,
                     fmt::format("the profile '{}' is its own source_profile but has no keys", name));
      source_creds = static_keys();
    } else {
      visiting.push_back(name);
      if (std::find(visiting.begin(), visiting.end(), source) != visiting.end() || visiting.size() > max_role_chain) {
        std::string loop;
        for (const auto& v : visiting) loop += v + " -> ";
        return error(errc::invalid_argument,
                     fmt::format("the profiles' source_profile settings loop: {}{}", loop, source));
      }
      source_creds = resolve(config, source, visiting);
      visiting.pop_back();
      if (!source_creds && source_creds.error().code == errc::no_credentials)
        return error(errc::invalid_argument,
                     fmt::format("the source profile '{}' of '{}' has no credentials", source, name));
    }
    if (!source_creds) return source_creds.error();
    auto c = assume_role(*source_creds, env_, options_, role_arn, session, get("external_id"), duration);
    if (c) c->source = fmt::format("profile {} (role {})", name, role_arn);
    return c;
  }

  environment env_;
  provider_options options_;
};

}  // namespace

std::shared_ptr<credentials_provider> profile_credentials(environment env, provider_options options) {
  return std::make_shared<profile_provider>(std::move(env), std::move(options));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
