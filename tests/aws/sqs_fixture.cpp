// The [sqs] tests' fauxqs, queues and adapter.
#include "sqs_fixture.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <random>

#include "aws/http_client.hpp"
#include "support/services.hpp"

namespace sqs_test {
namespace json = boost::json;

const std::string& endpoint() {
  // One emulator for the whole run (each test makes queues of its own); stopped at exit by its pid.
  static const spool::test::aws::fauxqs_service service = spool::test::aws::fauxqs_service::start();
  return service.endpoint;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> n{0};
  static const auto run = std::random_device{}() % 100000;
  return "spool-" + prefix + "-" + std::to_string(run) + "-" + std::to_string(++n);
}

json::value call(const std::string& action, const json::object& body) {
  static spool::aws::http_client http;
  spool::aws::http_request r;
  r.method = "POST";
  r.url = endpoint() + "/";
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS." + action}};
  r.body = json::serialize(body);
  auto answer = http.send(r);
  REQUIRE(answer.has_value());
  INFO(action << ": " << answer->body);
  REQUIRE(answer->status == 200);
  return answer->body.empty() ? json::value(json::object{}) : json::parse(answer->body);
}

std::string create_queue(const std::string& name, const json::object& attributes) {
  json::object body{{"QueueName", name}};
  if (!attributes.empty()) body["Attributes"] = attributes;
  auto answer = call("CreateQueue", body);
  return std::string(answer.at("QueueUrl").as_string());
}

json::object attributes(const std::string& url) {
  auto answer = call("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", json::array{"All"}}});
  return answer.at("Attributes").as_object();
}

queue_pair create_pair(const std::string& prefix, int max_receive_count, bool fifo) {
  const std::string suffix = fifo ? ".fifo" : "";
  json::object fifo_attrs;
  if (fifo) fifo_attrs["FifoQueue"] = "true";
  queue_pair p;
  const auto name = unique_name(prefix);
  p.dead_url = create_queue(name + "-dlq" + suffix, fifo_attrs);
  const auto dead_arn = std::string(attributes(p.dead_url).at("QueueArn").as_string());
  json::object attrs = fifo_attrs;
  attrs["RedrivePolicy"] = json::serialize(
      json::object{{"deadLetterTargetArn", dead_arn}, {"maxReceiveCount", std::to_string(max_receive_count)}});
  p.url = create_queue(name + suffix, attrs);
  return p;
}

spool::aws::sqs_options options_for(const std::string& url) {
  spool::aws::sqs_options o;
  o.queue_url = url;
  o.endpoint = endpoint();
  o.region = "us-east-1";
  o.credentials = spool::aws::static_credentials({"AKIDSPOOLTEST", "spool-test-secret", "", std::nullopt, "test"});
  o.env = [](std::string_view) -> std::optional<std::string> { return std::nullopt; };
  return o;
}

std::string aws_cli(const std::vector<std::string>& args) {
  auto r = spool::test::aws::aws_cli(endpoint(), args);
  INFO("aws " << args.front() << " " << args.at(1) << ": " << r.err);
  REQUIRE(r.exit_status == 0);
  return r.out.empty() ? "{}" : r.out;
}

std::shared_ptr<spool::queue::queue_adapter> open(const spool::aws::sqs_options& options) {
  auto q = spool::aws::make_sqs_queue(options);
  INFO((q ? std::string() : q.error().what()));
  REQUIRE(q.has_value());
  return *q;
}

}  // namespace sqs_test
