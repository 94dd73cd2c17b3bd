#pragma once
// Amazon SQS as a queue backend, over the AWS JSON 1.0 protocol. docs/sqs.md describes the URI
// (sqs://REGION/ACCOUNT/QUEUE), the dead-letter queue and what SQS cannot promise (caps().fencing is
// false: a stale receipt is not refused; a dead-letter move is two calls, not one).
#include <spool/aws/credentials.hpp>
#include <spool/error.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

struct SPOOL_API sqs_options {
  /// The queue: its URL as SQS gives it ("https://sqs.eu-west-1.amazonaws.com/123456789012/jobs"),
  /// or its name (and the owner's account when it is not the caller's; the region from `region` or
  /// the environment), looked up with GetQueueUrl.
  std::string queue_url;
  std::string queue_name;
  std::string account_id;
  std::string region;  ///< empty: from the queue URL's host, else AWS_REGION / the config file
  /// Where requests go; empty: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL, then AWS's own for the region.
  std::string endpoint;
  std::shared_ptr<credentials_provider> credentials;  ///< null: the default chain
  environment env;                                    ///< null: the process environment
  /// The dead-letter queue (URL or name); empty: the main queue's RedrivePolicy target, if any.
  std::string dead_letter_queue;
  /// The longest single ReceiveMessage wait (SQS allows 20 s); longer waits are several polls.
  std::chrono::seconds poll_wait{20};
  /// FIFO queues: the MessageGroupId of every message; empty gives each message a group of its own
  /// (no ordering between messages, as on a standard queue).
  std::string message_group_id;
  /// redrive of every dead message tries StartMessageMoveTask first (asynchronous on AWS: the count
  /// it returns is the dead-letter queue's approximate size).
  bool use_move_task = true;
  /// list_dead and redrive scan at most this many dead-letter messages per call.
  std::size_t max_dead_letter_scan = 1000;
};

/// Opens the queue: resolves its URL (GetQueueUrl when given a name) and reads its attributes
/// (size limit, FIFO, RedrivePolicy). A missing queue is errc::invalid_argument naming it.
SPOOL_API result<std::shared_ptr<queue::queue_adapter>> make_sqs_queue(const sqs_options& options);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
