#pragma once
// What the [sqs] tests share: the fauxqs emulator (one for the run), queues made for one test each,
// spool's SQS adapter on them, and plain unsigned calls for setting things up.
#include <spool/aws/sqs.hpp>
#include <spool/queue/adapter.hpp>

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace sqs_test {

/// The emulator's endpoint ("http://127.0.0.1:PORT"), started on first use.
const std::string& endpoint();

/// A queue name no other test uses ("spool-<prefix>-<n>-<random>").
std::string unique_name(const std::string& prefix);

/// One SQS JSON 1.0 call, unsigned, straight to the emulator; the answer (REQUIREd to be a 200).
boost::json::value call(const std::string& action, const boost::json::object& body);

/// Creates a queue; its URL.
std::string create_queue(const std::string& name, const boost::json::object& attributes = {});

/// A main queue with a dead-letter queue behind it (RedrivePolicy with max_receive_count).
struct queue_pair {
  std::string url, dead_url;
};
queue_pair create_pair(const std::string& prefix, int max_receive_count = 100, bool fifo = false);

/// Options for spool's adapter on `url` against the emulator (static credentials).
spool::aws::sqs_options options_for(const std::string& url);

/// spool's adapter on `url` (REQUIREd to open).
std::shared_ptr<spool::queue::queue_adapter> open(const spool::aws::sqs_options& options);

/// Runs the AWS CLI against the emulator (`aws ARGS... --endpoint-url E --output json`); its stdout.
std::string aws_cli(const std::vector<std::string>& args);

/// The queue's attributes as the service reports them (an independent read).
boost::json::object attributes(const std::string& url);

}  // namespace sqs_test
