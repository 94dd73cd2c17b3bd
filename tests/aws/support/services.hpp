#pragma once
// The local AWS emulators the aws tests run against, each started on 127.0.0.1 on a port of its own
// and stopped (by the pid started) when the object goes:
//  - fauxqs: SQS (AWS JSON 1.0) and S3; checks no signature;
//  - s3rver: S3 that verifies SigV4 headers and presigned URLs (key and secret S3RVER);
//  - moto: SQS, S3, STS and IAM from the machine's Python, when it has moto (tests then skip with a
//    warning, not fail).
// fauxqs and s3rver come from npm through scripts/install-aws-tools.sh (SPOOL_AWS_TOOLS_DIR); without
// them the tests fail and say so. aws_cli() runs the AWS CLI against an emulator, for checks that do
// not go through spool.
#include <spool/version.hpp>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

/// Where scripts/install-aws-tools.sh installed the npm tools and the SigV4 suite.
std::filesystem::path tools_dir();

/// Throws std::runtime_error naming scripts/install-aws-tools.sh when `tools` lacks the npm package
/// `package` (a test that needs a tool fails without it).
void require_tool(const std::filesystem::path& tools, const std::string& package);

struct fauxqs_service {
  static fauxqs_service start(const std::filesystem::path& tools = tools_dir());
  child_process process;
  std::string endpoint;  ///< "http://127.0.0.1:PORT"
};

struct s3rver_service {
  static constexpr const char* access_key = "S3RVER";
  static constexpr const char* secret_key = "S3RVER";
  static s3rver_service start(const std::filesystem::path& tools = tools_dir());
  temp_directory data;  // outlives the process (members go in reverse order)
  child_process process;
  std::string endpoint;  ///< "http://127.0.0.1:PORT" (path-style buckets)
};

struct moto_service {
  /// Account moto answers for.
  static constexpr const char* account_id = "123456789012";
  /// nullopt when python3 cannot import moto (see unavailable()).
  static std::optional<moto_service> start();
  /// Why moto cannot be used (python3's complaint), or nullopt when it can. Asked once per process.
  static std::optional<std::string> unavailable();
  child_process process;
  std::string endpoint;  ///< "http://127.0.0.1:PORT"
};

/// moto, or nullopt after a Catch2 WARN "SKIP: moto is not installed (...)": the calling test then
/// returns without asserting anything else.
std::optional<moto_service> start_moto_or_skip();

struct aws_cli_options {
  std::string access_key = "AKIDEXAMPLE";
  std::string secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  std::string session_token;  ///< empty: none
  std::string region = "us-east-1";
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// More AWS_* settings, e.g. {"AWS_MAX_ATTEMPTS", "3"}.
  std::vector<std::pair<std::string, std::string>> extra_env;
};

/// Runs `aws --endpoint-url ENDPOINT --region R --output json ARGS...` (the first `aws` on PATH) with
/// the given credentials and no other AWS_* variable, config file or instance metadata.
command_result aws_cli(const std::string& endpoint, const std::vector<std::string>& args,
                       const aws_cli_options& options = {});

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
