// The default chain: the sources in the standard order, the first one with credentials kept.
#include <fmt/format.h>

#include <atomic>

#include "aws/credentials_providers.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

class chain_provider final : public credentials_provider {
 public:
  explicit chain_provider(std::vector<std::shared_ptr<credentials_provider>> sources) : sources_(std::move(sources)) {}

  result<credentials> get() override {
    if (int chosen = chosen_.load(); chosen >= 0) return sources_[static_cast<std::size_t>(chosen)]->get();
    std::string tried;
    for (std::size_t i = 0; i < sources_.size(); ++i) {
      auto got = sources_[i]->get();
      if (got) {
        chosen_.store(static_cast<int>(i));
        return got;
      }
      // A source that is configured but failed stops the chain: another identity would be a surprise.
      if (got.error().code != errc::no_credentials) return got.error();
      tried += fmt::format("{}{} ({})", tried.empty() ? "" : "; ", sources_[i]->name(), got.error().what());
    }
    return error(errc::no_credentials, "no AWS credentials found; tried: " + tried);
  }

  std::string name() const override {
    int chosen = chosen_.load();
    return chosen >= 0 ? sources_[static_cast<std::size_t>(chosen)]->name() : "default chain";
  }

 private:
  std::vector<std::shared_ptr<credentials_provider>> sources_;
  std::atomic<int> chosen_{-1};
};

}  // namespace

std::shared_ptr<credentials_provider> credentials_chain(std::vector<std::shared_ptr<credentials_provider>> sources) {
  return std::make_shared<chain_provider>(std::move(sources));
}

std::shared_ptr<credentials_provider> default_credentials_chain(const environment& env,
                                                                const provider_options& options) {
  return credentials_chain({
      environment_credentials(env),
      cached_credentials(profile_credentials(env, options), options),
      cached_credentials(web_identity_credentials(env, options), options),
      cached_credentials(container_credentials(env, options), options),
      cached_credentials(instance_metadata_credentials(env, options), options),
  });
}

// The public signature takes the environment by value (a host may hand over a temporary).
std::shared_ptr<credentials_provider> default_credentials_chain(
    environment env) {  // NOLINT(performance-unnecessary-value-param)
  return default_credentials_chain(env, provider_options{});
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
