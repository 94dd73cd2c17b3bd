// The region and the endpoints, from the environment and the shared config file.
#include <spool/aws/config.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "aws/shared_config.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

bool valid_region(std::string_view r) {
  return !r.empty() && r.size() <= 64 && std::all_of(r.begin(), r.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

result<std::string> checked(std::string region, std::string_view from) {
  if (!valid_region(region))
    return error(errc::invalid_argument, fmt::format("the region '{}' from {} is not a region name", region, from));
  return region;
}

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

}  // namespace

result<std::string> resolve_region(const environment& env) {
  if (auto r = env_value(env, "AWS_REGION")) return checked(*r, "AWS_REGION");
  if (auto r = env_value(env, "AWS_DEFAULT_REGION")) return checked(*r, "AWS_DEFAULT_REGION");
  auto config = load_shared_config(env);
  if (!config) return config.error();
  auto name = profile_name(env);
  // Only the config file says where: a region in the credentials file is not read (as the AWS CLI).
  std::string region;
  if (auto p = config->config_profiles.find(name); p != config->config_profiles.end())
    if (auto it = p->second.find("region"); it != p->second.end()) region = it->second;
  if (!region.empty())
    return checked(region, fmt::format("the profile '{}' in {}", name, config->config_file.string()));
  return error(errc::invalid_argument, fmt::format("no AWS region: set AWS_REGION, or region in the profile '{}' of {}",
                                                   name, config->config_file.string()));
}

endpoint resolve_endpoint(std::string_view service, std::string_view region, const environment& env) {
  auto strip = [](std::string url) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    return url;
  };
  if (auto url = env_value(env, "AWS_ENDPOINT_URL_" + upper(service))) return {strip(*url), true};
  if (auto url = env_value(env, "AWS_ENDPOINT_URL")) return {strip(*url), true};
  // China's regions live under their own domain.
  std::string_view suffix = region.substr(0, 3) == "cn-" ? "amazonaws.com.cn" : "amazonaws.com";
  return {fmt::format("https://{}.{}.{}", service, region, suffix), false};
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
