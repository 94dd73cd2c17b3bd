// EC2 instance metadata (IMDSv2 only: a session token first, then the role's credentials). Off EC2
// the address does not answer; the short connect timeout makes that quick, and it counts as "no
// credentials here" so the chain can say what it tried.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <mutex>

#include "aws/credentials_providers.hpp"
#include "aws/shared_config.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view default_endpoint = "http://169.254.169.254";
constexpr std::string_view token_ttl_header = "X-aws-ec2-metadata-token-ttl-seconds";
constexpr std::string_view token_header = "X-aws-ec2-metadata-token";
constexpr std::string_view roles_path = "/latest/meta-data/iam/security-credentials/";

bool is_true(std::string_view v) {
  return v.size() == 4 && std::equal(v.begin(), v.end(), "true",
                                     [](char a, char b) { return std::tolower(static_cast<unsigned char>(a)) == b; });
}

class imds_provider final : public credentials_provider {
 public:
  imds_provider(environment env, provider_options options) : env_(std::move(env)), options_(std::move(options)) {
    // Off EC2 nothing answers at the link-local address: fail fast there.
    options_.http.connect_timeout = std::min<std::chrono::milliseconds>(options_.http.connect_timeout, 1s);
    options_.http.idle_timeout = std::min<std::chrono::milliseconds>(options_.http.idle_timeout, 2s);
    http_ = std::make_unique<http_client>(options_.http);
  }

  result<credentials> get() override {
    if (auto disabled = env_value(env_, "AWS_EC2_METADATA_DISABLED"); disabled && is_true(*disabled))
      return error(errc::no_credentials, "AWS_EC2_METADATA_DISABLED is true");
    std::string base = env_value(env_, "AWS_EC2_METADATA_SERVICE_ENDPOINT").value_or(std::string(default_endpoint));
    while (!base.empty() && base.back() == '/') base.pop_back();
    std::lock_guard lock(mutex_);  // one conversation at a time: they share the session token

    auto roles = fetch(base, std::string(roles_path));
    if (!roles) return roles.error();
    if (roles->status == 404) return error(errc::no_credentials, fmt::format("{}: no IAM role", where(base)));
    if (roles->status != 200)
      return error(errc::network, fmt::format("{} answered HTTP {} for the role list", where(base), roles->status));
    std::string_view list = roles->body;
    auto role = std::string(list.substr(0, list.find_first_of("\r\n")));
    if (role.empty()) return error(errc::no_credentials, fmt::format("{}: no IAM role", where(base)));

    auto res = fetch(base, std::string(roles_path) + role);
    if (!res) return res.error();
    if (res->status != 200)
      return error(errc::network, fmt::format("{} answered HTTP {} for the credentials of the role {}", where(base),
                                              res->status, role));
    auto c = parse_json_credentials(res->body, where(base));
    if (c) c->source = fmt::format("instance metadata (role {})", role);
    return c;
  }

  std::string name() const override { return "EC2 instance metadata"; }

 private:
  static std::string where(std::string_view base) {
    return fmt::format("the EC2 instance metadata at {}", redact(base));
  }

  // A GET with the session token, fetching a new token first when it is missing or old, and once
  // more if the service no longer takes it.
  result<http_response> fetch(const std::string& base, const std::string& path) {
    for (int attempt = 0;; ++attempt) {
      auto token = session_token(base);
      if (!token) return token.error();
      http_request req;
      req.url = base + path;
      req.headers.push_back({std::string(token_header), *token});
      auto res = http_->send(req);
      if (!res) return error(res.error().code, fmt::format("{}: {}", where(base), res.error().what()));
      if (res->status == 401 && attempt == 0) {
        token_.clear();
        continue;
      }
      return res;
    }
  }

  result<std::string> session_token(const std::string& base) {
    auto now = std::chrono::steady_clock::now();
    if (!token_.empty() && token_base_ == base && now < token_expiry_) return token_;
    http_request req;
    req.method = "PUT";
    req.url = base + "/latest/api/token";
    req.headers.push_back({std::string(token_ttl_header), std::to_string(options_.imds_token_ttl)});
    auto res = http_->send(req);
    // Not reachable, or not an instance metadata service: there are no credentials here.
    if (!res)
      return error(errc::no_credentials, fmt::format("{} is not reachable: {}", where(base), res.error().what()));
    if (res->status != 200 || res->body.empty())
      return error(errc::no_credentials, fmt::format("{} gave no session token (HTTP {})", where(base), res->status));
    token_ = res->body;
    token_base_ = base;
    // Renewed well before the service forgets it.
    token_expiry_ = now + std::chrono::milliseconds(std::chrono::seconds(options_.imds_token_ttl)) * 9 / 10;
    return token_;
  }

  environment env_;
  provider_options options_;
  std::unique_ptr<http_client> http_;
  std::mutex mutex_;
  std::string token_, token_base_;
  std::chrono::steady_clock::time_point token_expiry_;
};

}  // namespace

std::shared_ptr<credentials_provider> instance_metadata_credentials(environment env, provider_options options) {
  return std::make_shared<imds_provider>(std::move(env), std::move(options));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
