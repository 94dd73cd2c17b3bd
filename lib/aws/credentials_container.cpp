// ECS (and EKS Pod Identity) container credentials: an HTTP endpoint the agent serves, named by
// AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI.
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "aws/credentials_providers.hpp"
#include "aws/shared_config.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

using namespace std::chrono_literals;

// Plain http is accepted only to the machine itself or the container agents' link-local addresses.
bool plain_http_allowed(std::string_view host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost" || host == "::1" || host == "169.254.170.2" || host == "169.254.170.23" ||
      host == "fd00:ec2::23")
    return true;
  return host.substr(0, 4) == "127.";
}

result<std::string> authorization(const environment& env) {
  std::string token;
  if (auto file = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE")) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
      int err = errno;
      return error(errc::invalid_argument, fmt::format("the container authorization token file {}: {}", *file,
                                                       err == ENOENT ? "no such file" : std::strerror(err)));  // NOLINT
    }
    std::ostringstream all;
    all << in.rdbuf();
    token = all.str();
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  } else if (auto value = env_value(env, "AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
    token = *value;
  }
  if (token.find_first_of("\r\n") != std::string::npos)
    return error(errc::invalid_argument, "the container authorization token contains a line break");
  return token;
}

class container_provider final : public credentials_provider {
 public:
  container_provider(environment env, provider_options options) : env_(std::move(env)), options_(std::move(options)) {
    // The agent is local: a slow one is a broken one.
    options_.http.connect_timeout = std::min<std::chrono::milliseconds>(options_.http.connect_timeout, 2s);
    options_.http.idle_timeout = std::min<std::chrono::milliseconds>(options_.http.idle_timeout, 5s);
  }

  result<credentials> get() override {
    auto relative = env_value(env_, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    auto full = env_value(env_, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (!relative && !full)
      return error(errc::no_credentials, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI are not set");
    std::string url;
    if (relative) {
      url = fmt::format("{}{}{}", options_.container_host, relative->front() == '/' ? "" : "/", *relative);
    } else {
      url = *full;
      auto parsed = boost::urls::parse_absolute_uri(url);
      if (!parsed || (parsed->scheme() != "http" && parsed->scheme() != "https") || parsed->encoded_host().empty())
        return error(errc::invalid_argument,
                     fmt::format("AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http(s) URL: {}", redact(url)));
      if (parsed->scheme() == "http" && !plain_http_allowed(parsed->encoded_host_address()))
        return error(errc::invalid_argument,
                     fmt::format("AWS_CONTAINER_CREDENTIALS_FULL_URI {} is plain http to a host that is neither "
                                 "loopback nor a container agent's address",
                                 redact(url)));
    }
    auto token = authorization(env_);
    if (!token) return token.error();

    http_request req;
    req.url = url;
    req.headers.push_back({"Accept", "application/json"});
    if (!token->empty()) req.headers.push_back({"Authorization", *token});
    auto what = fmt::format("the container credentials endpoint {}", redact(url));
    http_client http(options_.http);
    constexpr int attempts = 3;
    for (int attempt = 1;; ++attempt) {
      auto res = http.send(req);
      if (attempt < attempts && (!res || res->status >= 500 || res->status == 429)) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
        continue;
      }
      if (!res) return error(res.error().code, fmt::format("{}: {}", what, res.error().what()));
      if (res->status == 401 || res->status == 403)
        return error(errc::access_denied,
                     fmt::format("{} refused the authorization token (HTTP {})", what, res->status));
      if (res->status != 200) return error(errc::network, fmt::format("{} answered HTTP {}", what, res->status));
      auto c = parse_json_credentials(res->body, what);
      if (c) c->source = "container";
      return c;
    }
  }

  std::string name() const override { return "container"; }

 private:
  environment env_;
  provider_options options_;
};

}  // namespace

std::shared_ptr<credentials_provider> container_credentials(environment env, provider_options options) {
  return std::make_shared<container_provider>(std::move(env), std::move(options));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
