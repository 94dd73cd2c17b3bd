// The fault proxy in front of fauxqs: requests pass through unchanged unless scripted otherwise, and
// each scripted fault looks to a client the way AWS's own would — botocore (through the AWS CLI)
// retries the throttling answers and then succeeds.
#include "support/fault_proxy.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <future>
#include <string>
#include <thread>

#include "support/loopback_http.hpp"
#include "support/services.hpp"

namespace taws = spool::test::aws;
namespace json = boost::json;
using namespace std::chrono_literals;
using taws::fault;

namespace {

taws::loopback_request get(const std::string& target) {
  taws::loopback_request r;
  r.target = target;
  return r;
}

taws::loopback_request sqs_call(const std::string& action, std::string body) {
  taws::loopback_request r;
  r.method = "POST";
  r.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS." + action}};
  r.body = std::move(body);
  return r;
}

std::string create_queue(const taws::fauxqs_service& fauxqs, const std::string& name) {
  const auto r = taws::aws_cli(fauxqs.endpoint, {"sqs", "create-queue", "--queue-name", name});
  INFO(r.err);
  REQUIRE(r.exit_status == 0);
  return std::string(json::parse(r.out).at("QueueUrl").as_string());
}

}  // namespace

TEST_CASE("the fault proxy forwards to fauxqs and answers with scripted faults", "[aws][fault-proxy]") {
  const auto fauxqs = taws::fauxqs_service::start();
  taws::fault_proxy proxy(fauxqs.endpoint);

  SECTION("unscripted requests pass through; scripted ones fail as AWS would, one each") {
    const auto direct = taws::loopback_http(fauxqs.process.port(), get("/health"));
    const auto through = taws::loopback_http(proxy.port(), get("/health"));
    CHECK(through.status == direct.status);
    CHECK(through.body == direct.body);

    proxy.script({fault::sqs_throttling(), fault::s3_slow_down(), fault::internal_error(), fault::connection_reset(),
                  fault::delayed(50ms)});
    CHECK(proxy.pending() == 5);

    const auto throttled = taws::loopback_http(proxy.port(), get("/health"));
    CHECK(throttled.status == 400);
    CHECK(throttled.header("Content-Type") == "application/x-amz-json-1.0");
    CHECK(json::parse(throttled.body).at("__type").as_string() == "com.amazonaws.sqs#ThrottlingException");

    const auto slow_down = taws::loopback_http(proxy.port(), get("/health"));
    CHECK(slow_down.status == 503);
    CHECK_THAT(slow_down.body, Catch::Contains("<Code>SlowDown</Code>"));

    CHECK(taws::loopback_http(proxy.port(), get("/health")).status == 500);
    CHECK_THROWS_WITH(taws::loopback_http(proxy.port(), get("/health")), Catch::Contains("reset by peer"));

    const auto late = taws::loopback_http(proxy.port(), get("/health"));
    CHECK(late.status == direct.status);
    CHECK(late.body == direct.body);

    CHECK(taws::loopback_http(proxy.port(), get("/health")).status == direct.status);
    CHECK(proxy.pending() == 0);
    CHECK(proxy.requests() == 7);
    CHECK(proxy.forwarded() == 3);
  }

  SECTION("a reset after forwarding loses the answer, not the call") {
    const std::string queue = create_queue(fauxqs, "spool-proxy-reset");
    proxy.script({fault::reset_after_forwarding()});
    const json::object send{{"QueueUrl", queue}, {"MessageBody", "sent once"}};
    CHECK_THROWS(taws::loopback_http(proxy.port(), sqs_call("SendMessage", json::serialize(send))));
    CHECK(proxy.forwarded() == 1);

    const auto attrs = taws::aws_cli(fauxqs.endpoint, {"sqs", "get-queue-attributes", "--queue-url", queue,
                                                       "--attribute-names", "ApproximateNumberOfMessages"});
    INFO(attrs.err);
    REQUIRE(attrs.exit_status == 0);
    CHECK(json::parse(attrs.out).at("Attributes").at("ApproximateNumberOfMessages").as_string() == "1");
  }

  SECTION("botocore retries the throttling answers and then succeeds") {
    create_queue(fauxqs, "spool-proxy-retry");
    taws::aws_cli_options retrying;
    retrying.extra_env = {{"AWS_RETRY_MODE", "standard"}, {"AWS_MAX_ATTEMPTS", "3"}};

    proxy.script({fault::sqs_throttling()});
    const auto listed = taws::aws_cli(proxy.endpoint(), {"sqs", "list-queues"}, retrying);
    INFO(listed.err);
    CHECK(listed.exit_status == 0);
    CHECK_THAT(listed.out, Catch::Contains("spool-proxy-retry"));
    CHECK(proxy.seen() == std::vector<std::string>(2, "POST / AmazonSQS.ListQueues"));

    proxy.script({fault::s3_slow_down()});
    const auto buckets = taws::aws_cli(proxy.endpoint(), {"s3api", "list-buckets"}, retrying);
    INFO(buckets.err);
    CHECK(buckets.exit_status == 0);
    CHECK(proxy.requests() == 4);
    CHECK(proxy.pending() == 0);
  }
}

TEST_CASE("the fault proxy stops at once with a delayed request in flight", "[aws][fault-proxy]") {
  const auto fauxqs = taws::fauxqs_service::start();
  std::future<taws::loopback_response> call;
  {
    taws::fault_proxy proxy(fauxqs.endpoint);
    proxy.script({fault::delayed(60s)});
    const auto port = proxy.port();
    call = std::async(std::launch::async, [port] { return taws::loopback_http(port, get("/health"), 30s); });
    for (int i = 0; i < 500 && proxy.requests() == 0; ++i) std::this_thread::sleep_for(10ms);
    REQUIRE(proxy.requests() == 1);
  }
  // The proxy is gone: the client's connection is closed under it rather than left to its own timeout.
  CHECK_THROWS_WITH(call.get(), !Catch::Contains("timeout"));
}
