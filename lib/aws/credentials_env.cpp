// Credentials given outright: the process environment's variables, or fixed ones.
#include <cstdlib>

#include "aws/credentials_providers.hpp"
#include "aws/shared_config.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

class fixed_provider final : public credentials_provider {
 public:
  explicit fixed_provider(credentials c) : creds_(std::move(c)) {
    if (creds_.source.empty()) creds_.source = "static";
  }
  result<credentials> get() override { return creds_; }
  std::string name() const override { return creds_.source; }

 private:
  credentials creds_;
};

class environment_provider final : public credentials_provider {
 public:
  explicit environment_provider(environment env) : env_(std::move(env)) {}

  result<credentials> get() override {
    auto id = env_value(env_, "AWS_ACCESS_KEY_ID");
    auto secret = env_value(env_, "AWS_SECRET_ACCESS_KEY");
    if (!id && !secret) return error(errc::no_credentials, "AWS_ACCESS_KEY_ID is not set");
    if (!secret) return error(errc::invalid_argument, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    if (!id) return error(errc::invalid_argument, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
    credentials c;
    c.access_key_id = std::move(*id);
    c.secret_access_key = std::move(*secret);
    c.session_token = env_value(env_, "AWS_SESSION_TOKEN").value_or("");
    c.source = "environment";
    return c;
  }
  std::string name() const override { return "environment"; }

 private:
  environment env_;
};

}  // namespace

environment process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    // getenv is safe here as long as nothing calls setenv concurrently, which spool never does.
    const char* v = std::getenv(std::string(name).c_str());  // NOLINT(concurrency-mt-unsafe)
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
}

std::shared_ptr<credentials_provider> static_credentials(credentials c) {
  return std::make_shared<fixed_provider>(std::move(c));
}

std::shared_ptr<credentials_provider> environment_credentials(environment env) {
  return std::make_shared<environment_provider>(std::move(env));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
