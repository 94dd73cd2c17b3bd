#pragma once
// Where AWS requests go: the region and each service's endpoint, from the environment and the shared
// config file, as the AWS CLI and SDKs read them.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>
#include <spool/version.hpp>

#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// The region: AWS_REGION, then AWS_DEFAULT_REGION, then `region` in the profile (AWS_PROFILE, or
/// "default") of the config file (AWS_CONFIG_FILE, or ~/.aws/config). errc::invalid_argument when
/// none says.
SPOOL_API result<std::string> resolve_region(const environment& env);

/// A service's endpoint.
struct SPOOL_API endpoint {
  std::string url;      ///< "https://sqs.eu-west-1.amazonaws.com", "http://127.0.0.1:4566"
  bool custom = false;  ///< from an override: S3 then addresses buckets by path
};

/// `service` is "sqs", "s3" or "sts". AWS_ENDPOINT_URL_<SERVICE> (SQS, S3, STS), then
/// AWS_ENDPOINT_URL, then AWS's own for the region.
SPOOL_API endpoint resolve_endpoint(std::string_view service, std::string_view region, const environment& env);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
