#pragma once
// The least-privilege tests' moto setup, made through spool's own service client while auth is off
// (IAM users with a policy and access keys, queues, objects), the switch that turns enforcement on,
// and raw SQS JSON 1.0 and S3 REST calls. The server itself is support/services.hpp's moto_service.
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>

#include <string>

#include "aws/service_client.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

/// From now on the moto at `endpoint` checks signatures and evaluates IAM policies
/// (POST /moto-api/reset-auth with body 0).
error enforce_moto_auth(const std::string& endpoint);

/// A client of one service (sqs, s3, iam) at `endpoint`, us-east-1, signing with `creds`.
spool::aws::service_client moto_client(const std::string& endpoint, const std::string& service,
                                       spool::aws::credentials creds);

/// An IAM user with the policy document `policy_json` attached as a managed policy, and its access
/// keys. Made with auth off.
result<spool::aws::credentials> create_user_with_policy(spool::aws::service_client& iam, const std::string& name,
                                                        const std::string& policy_json);

/// The QueueUrl of a new queue (SQS JSON 1.0 CreateQueue).
result<std::string> create_queue(spool::aws::service_client& sqs, const std::string& name);

/// A JSON 1.0 SQS call: X-Amz-Target AmazonSQS.<action> with `body`, sent to the endpoint.
result<spool::aws::http_response> sqs_call(spool::aws::service_client& sqs, const std::string& action,
                                           const std::string& body);

/// An S3 REST call on the path-style `path` ("/bucket/key?query", encoded) with `body`.
result<spool::aws::http_response> s3_call(spool::aws::service_client& s3, const std::string& method,
                                          const std::string& path, const std::string& body = {});

/// The text of the first <tag> in an XML answer; empty when absent.
std::string xml_value(const std::string& xml, const std::string& tag);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
