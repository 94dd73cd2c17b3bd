#pragma once
// moto for the least-privilege tests: the machine's python3 with moto, a moto server on 127.0.0.1
// stopped by the pid this process started, and the IAM, SQS and S3 setup (users, policies, access
// keys, queues, a bucket) made through spool's own service client before auth enforcement is on.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "aws/service_client.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

struct process_output {
  int exit_code = -1;  ///< -1 when it was killed (timeout or signal)
  bool timed_out = false;
  std::string out;
  std::string err;
};

/// Runs `argv` (argv[0] looked up on PATH) with stdin closed, collecting its output; killed (and
/// reaped) when it outlives `timeout`.
process_output run_process(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

/// Why moto cannot be used here ("python3 -c 'import moto' failed: ..."), or empty when it can.
std::string moto_unavailable();

/// A moto server on 127.0.0.1, stopped (SIGTERM, then SIGKILL) by its pid on destruction.
class moto_server {
 public:
  /// Starts one and waits (at most 20 s) until it answers; an empty optional (and `why`) when it
  /// does not.
  static std::unique_ptr<moto_server> start(std::string& why);
  ~moto_server();
  moto_server(const moto_server&) = delete;
  moto_server& operator=(const moto_server&) = delete;

  const std::string& endpoint() const noexcept { return endpoint_; }
  /// From now on moto checks signatures and evaluates IAM policies.
  error enforce_auth();

 private:
  moto_server(pid_t pid, std::string endpoint) : pid_(pid), endpoint_(std::move(endpoint)) {}
  pid_t pid_;
  std::string endpoint_;
};

/// A client of one service (sqs, s3, iam) at `endpoint`, us-east-1, signing with `creds`.
aws::service_client moto_client(const std::string& endpoint, const std::string& service, aws::credentials creds);

/// An IAM user with the policy document `policy_json` attached as a managed policy, and its access
/// keys. Made with auth off.
result<aws::credentials> create_user_with_policy(aws::service_client& iam, const std::string& name,
                                                 const std::string& policy_json);

/// The QueueUrl of a new queue (SQS JSON 1.0 CreateQueue).
result<std::string> create_queue(aws::service_client& sqs, const std::string& name);

/// A JSON 1.0 SQS call: X-Amz-Target AmazonSQS.<action> with `body`, sent to the endpoint.
result<aws::http_response> sqs_call(aws::service_client& sqs, const std::string& action, const std::string& body);

/// An S3 REST call on the path-style `path` ("/bucket/key?query", encoded) with `body`.
result<aws::http_response> s3_call(aws::service_client& s3, const std::string& method, const std::string& path,
                                   const std::string& body = {});

/// The text of the first <tag> in an XML answer; empty when absent.
std::string xml_value(const std::string& xml, const std::string& tag);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
