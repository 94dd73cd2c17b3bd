// STS: AssumeRole (signed with a profile's keys) and AssumeRoleWithWebIdentity (unsigned, with a
// token file: EKS service accounts), and the web identity source of the chain.
#include <spool/aws/config.hpp>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "aws/credentials_providers.hpp"
#include "aws/service_client.hpp"
#include "aws/shared_config.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

constexpr std::string_view sts_version = "2011-06-15";

// application/x-www-form-urlencoded, with %20 for spaces (STS accepts both).
std::string form_encode(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

struct sts_endpoint {
  std::string region;
  std::string url;
};

sts_endpoint sts_endpoint_for(const environment& env) {
  auto region = resolve_region(env);
  sts_endpoint out{region ? *region : std::string("us-east-1"), {}};
  out.url = resolve_endpoint("sts", out.region, env).url;
  return out;
}

http_request sts_request(const sts_endpoint& where, std::string body) {
  http_request req;
  req.method = "POST";
  req.url = where.url + "/";
  req.headers.push_back({"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"});
  req.body = std::move(body);
  return req;
}

// The credentials of a 2xx answer, or the STS error in spool's words.
result<credentials> sts_answer(const http_response& res, std::string_view what) {
  if (res.status < 200 || res.status > 299) {
    auto e = to_error(parse_service_error(res), what);
    // Keys STS refuses are a configured source failing, not an absent one: the chain must stop here.
    if (e.code == errc::no_credentials) e.code = make_error_code(errc::access_denied);
    return e;
  }
  return parse_sts_credentials(res.body, what);
}

result<std::string> read_token_file(std::string_view path) {
  std::ifstream in{std::string(path), std::ios::binary};
  if (!in) {
    int err = errno;
    return error(errc::invalid_argument, fmt::format("the web identity token file {}: {}", path,
                                                     err == ENOENT ? "no such file" : std::strerror(err)));  // NOLINT
  }
  std::ostringstream all;
  all << in.rdbuf();
  std::string token = all.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.empty()) return error(errc::invalid_argument, fmt::format("the web identity token file {} is empty", path));
  return token;
}

bool worth_retrying(const http_response& res) {
  if (res.status >= 500 || res.status == 429) return true;
  auto e = parse_service_error(res);
  return e.code == "IDPCommunicationError" || e.code == "Throttling" || e.code == "ThrottlingException";
}

class web_identity_provider final : public credentials_provider {
 public:
  web_identity_provider(environment env, provider_options options)
      : env_(std::move(env)), options_(std::move(options)) {}

  result<credentials> get() override {
    auto file = env_value(env_, "AWS_WEB_IDENTITY_TOKEN_FILE");
    auto role = env_value(env_, "AWS_ROLE_ARN");
    if (!file || !role)
      return error(errc::no_credentials, "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not both set");
    auto session = env_value(env_, "AWS_ROLE_SESSION_NAME").value_or(default_session_name(options_));
    return assume_role_with_web_identity(env_, options_, *file, *role, session);
  }
  std::string name() const override { return "web identity"; }

 private:
  environment env_;
  provider_options options_;
};

}  // namespace

result<credentials> assume_role(const credentials& source, const environment& env, const provider_options& options,
                                std::string_view role_arn, std::string_view session_name, std::string_view external_id,
                                int duration_seconds) {
  auto where = sts_endpoint_for(env);
  service_options so;
  so.where = {where.region, "sts"};
  so.endpoint = where.url;
  so.http = options.http;
  so.retry.max_attempts = 3;
  service_client client(std::move(so), static_credentials(source));
  std::string body = fmt::format("Action=AssumeRole&Version={}&RoleArn={}&RoleSessionName={}&DurationSeconds={}",
                                 sts_version, form_encode(role_arn), form_encode(session_name), duration_seconds);
  if (!external_id.empty()) body += "&ExternalId=" + form_encode(external_id);
  auto what = fmt::format("STS AssumeRole into {} at {}", role_arn, redact(where.url));
  auto res = client.call(sts_request(where, std::move(body)));
  if (!res) return error(res.error().code, fmt::format("{}: {}", what, res.error().what()));
  auto c = sts_answer(*res, what);
  if (c) c->source = fmt::format("role {}", role_arn);
  return c;
}

result<credentials> assume_role_with_web_identity(const environment& env, const provider_options& options,
                                                  std::string_view token_file, std::string_view role_arn,
                                                  std::string_view session_name) {
  auto token = read_token_file(token_file);
  if (!token) return token.error();
  auto where = sts_endpoint_for(env);
  auto what = fmt::format("STS AssumeRoleWithWebIdentity into {} at {}", role_arn, redact(where.url));
  auto body =
      fmt::format("Action=AssumeRoleWithWebIdentity&Version={}&RoleArn={}&RoleSessionName={}&WebIdentityToken={}",
                  sts_version, form_encode(role_arn), form_encode(session_name), form_encode(*token));
  http_client http(options.http);
  // Unsigned, so the service client (which signs) is not used; a short retry of its own instead.
  constexpr int attempts = 3;
  for (int attempt = 1;; ++attempt) {
    auto res = http.send(sts_request(where, body));
    if (attempt < attempts && (!res || worth_retrying(*res))) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
      continue;
    }
    if (!res) return error(res.error().code, fmt::format("{}: {}", what, res.error().what()));
    auto c = sts_answer(*res, what);
    if (c) c->source = fmt::format("web identity {}", role_arn);
    return c;
  }
}

std::shared_ptr<credentials_provider> web_identity_credentials(environment env, provider_options options) {
  return std::make_shared<web_identity_provider>(std::move(env), std::move(options));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
