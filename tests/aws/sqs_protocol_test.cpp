// SQS's JSON 1.0 requests and answers, without a service: requests parse back to what was asked,
// answers and errors read as SQS and moto write them, sqs:// URIs and dead-letter positions.
#include "aws/sqs_protocol.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "aws/sqs_dead_letters.hpp"
#include "aws/sqs_queue.hpp"
#include "aws/sqs_uri.hpp"

namespace sqs = spool::aws::sqs;
namespace json = boost::json;
using spool::errc;

TEST_CASE("Aws::Sqs::Protocol: a request is a JSON 1.0 POST whose body parses back to what was asked", "[sqs]") {
  const std::string url = "http://sqs.us-east-1.localhost:4566/000000000000/jobs";
  auto req = sqs::make_request("http://127.0.0.1:4566", "ReceiveMessage", sqs::receive_request(url, 7, 20, 90));
  CHECK(req.method == "POST");
  CHECK(req.url == "http://127.0.0.1:4566/");
  CHECK(spool::aws::find_header(req.headers, "x-amz-target") == "AmazonSQS.ReceiveMessage");
  CHECK(spool::aws::find_header(req.headers, "content-type") == "application/x-amz-json-1.0");
  auto body = json::parse(req.body).as_object();
  CHECK(body.at("QueueUrl").as_string() == url);
  CHECK(body.at("MaxNumberOfMessages").to_number<int>() == 7);
  CHECK(body.at("WaitTimeSeconds").to_number<int>() == 20);
  CHECK(body.at("VisibilityTimeout").to_number<int>() == 90);
  CHECK(body.at("MessageSystemAttributeNames") == json::array{"All"});
  CHECK(body.at("MessageAttributeNames") == json::array{"All"});
  // SQS's own bounds, whatever the caller asks.
  auto big = sqs::receive_request(url, 50, 60, 0);
  CHECK(big.at("MaxNumberOfMessages").to_number<int>() == 10);
  CHECK(big.at("WaitTimeSeconds").to_number<int>() == 20);
}

TEST_CASE("Aws::Sqs::Protocol: a message to send carries its body, delay, FIFO ids and attributes", "[sqs]") {
  sqs::outgoing m;
  m.body = "{\"job\":\"a\\\"b\"}";
  m.delay_s = 30;
  m.group_id = "g-1";
  m.dedup_id = "d-1";
  m.attributes["spool.reason"] = "max attempts";
  auto back = json::parse(json::serialize(sqs::send_fields(m))).as_object();
  CHECK(back.at("MessageBody").as_string() == m.body);
  CHECK(back.at("DelaySeconds").to_number<int>() == 30);
  CHECK(back.at("MessageGroupId").as_string() == "g-1");
  CHECK(back.at("MessageDeduplicationId").as_string() == "d-1");
  const auto& attr = back.at("MessageAttributes").at("spool.reason").as_object();
  CHECK(attr.at("DataType").as_string() == "String");
  CHECK(attr.at("StringValue").as_string() == "max attempts");
  // Nothing that was not asked for.
  auto plain = sqs::send_fields(sqs::outgoing{"x", 0, "", "", {}});
  CHECK(plain.size() == 1);
}

TEST_CASE("Aws::Sqs::Protocol: bodies that are not SQS text travel as base64 and come back byte for byte", "[sqs]") {
  CHECK(sqs::is_sqs_text("plain {\"json\": 1}\t\r\n é ✓ 😀"));
  CHECK_FALSE(sqs::is_sqs_text(std::string(1, '\0')));
  CHECK_FALSE(sqs::is_sqs_text("\x01"));
  CHECK_FALSE(sqs::is_sqs_text("\xff\xfe"));
  CHECK_FALSE(sqs::is_sqs_text("\xc0\xaf"));      // overlong '/'
  CHECK_FALSE(sqs::is_sqs_text("\xed\xa0\x80"));  // a surrogate
  CHECK_FALSE(sqs::is_sqs_text("\xef\xbf\xbf"));  // U+FFFF
  CHECK_FALSE(sqs::is_sqs_text("\xe2\x82"));      // cut short
  std::mt19937 gen(7);
  for (std::size_t n : {0u, 1u, 2u, 3u, 4u, 5u, 1000u}) {
    std::string bytes(n, '\0');
    for (auto& b : bytes) b = static_cast<char>(gen() & 0xff);
    sqs::outgoing m;
    sqs::set_body(m, bytes);
    sqs::message back;
    back.body = m.body;
    for (const auto& [k, v] : m.attributes) back.custom[k] = v;
    CHECK(sqs::body_of(back) == bytes);
    CHECK(sqs::is_sqs_text(m.body));
  }
  std::string out;
  CHECK_FALSE(sqs::base64_decode("abc", out));
  CHECK_FALSE(sqs::base64_decode("ab=c", out));
  CHECK_FALSE(sqs::base64_decode("a!cd", out));
  REQUIRE(sqs::base64_decode("aGk=", out));  // RFC 4648's alphabet: "hi"
  CHECK(out == "hi");
}

TEST_CASE("Aws::Sqs::Protocol: received messages, with system and message attributes", "[sqs]") {
  auto answer = json::parse(R"({"Messages":[{"MessageId":"m-1","ReceiptHandle":"r-1","Body":"hello",
    "Attributes":{"ApproximateReceiveCount":"3","SentTimestamp":"1700000000123","ApproximateFirstReceiveTimestamp":"1700000001456"},
    "MessageAttributes":{"spool.id":{"DataType":"String","StringValue":"orig-7"}}}]})");
  auto msgs = sqs::parse_messages(answer);
  REQUIRE(msgs.has_value());
  REQUIRE(msgs->size() == 1);
  auto d = sqs::to_delivery(msgs->front(), {});
  CHECK(d.message_id == "orig-7");  // spool's id survives a move to the dead-letter queue and back
  CHECK(d.receipt == "r-1");
  CHECK(d.body == "hello");
  CHECK(d.receive_count == 3);
  CHECK(d.sent_at.time_since_epoch() == std::chrono::milliseconds(1700000000123));
  CHECK(d.first_received_at.time_since_epoch() == std::chrono::milliseconds(1700000001456));
  auto none = sqs::parse_messages(json::parse("{}"));
  REQUIRE(none.has_value());
  CHECK(none->empty());
  CHECK_FALSE(sqs::parse_messages(json::parse(R"({"Messages":[{"Body":"no id"}]})")).has_value());
}

TEST_CASE("Aws::Sqs::Protocol: a batch answer gives each entry its outcome", "[sqs]") {
  auto parsed = sqs::parse_batch(json::parse(R"({"Successful":[{"Id":"m0","MessageId":"a"},{"Id":"m2","MessageId":"c"}],
    "Failed":[{"Id":"m1","Code":"InvalidParameterValue","Message":"too long","SenderFault":true}]})"));
  REQUIRE(parsed.has_value());
  CHECK(parsed->successful.size() == 2);
  CHECK(sqs::string_of(parsed->successful.at("m2"), "MessageId") == "c");
  REQUIRE(parsed->failed.count("m1"));
  CHECK(parsed->failed.at("m1").code == "InvalidParameterValue");
  CHECK(parsed->failed.at("m1").message == "too long");
}

TEST_CASE("Aws::Sqs::Protocol: errors in JSON, in query-style XML and in the query-error header", "[sqs]") {
  spool::aws::http_response json_error{400, {}, R"({"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no"})"};
  auto e = sqs::answer_error(json_error);
  CHECK(e.code == "QueueDoesNotExist");
  auto err = sqs::to_spool_error(e, "SendMessage", "https://q/1/jobs", false);
  CHECK(err.code == errc::invalid_argument);
  CHECK(err.message.find("https://q/1/jobs") != std::string::npos);

  spool::aws::http_response xml_error{403,
                                      {},
                                      "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not "
                                      "allowed</Message></Error></ErrorResponse>"};
  CHECK(sqs::to_spool_error(sqs::answer_error(xml_error), "ReceiveMessage", "q", false).code == errc::access_denied);

  spool::aws::http_response header_only{
      400, {{"x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender"}}, ""};
  CHECK(sqs::to_spool_error(sqs::answer_error(header_only), "x", "q", false).code == errc::invalid_argument);

  spool::aws::service_error throttled{400, "ThrottlingException", "slow down"};
  CHECK(sqs::to_spool_error(throttled, "x", "q", false).code == errc::throttled);

  // Receipts: invalid or expired is a lost lease, only on calls that take one.
  spool::aws::service_error invalid{400, "ReceiptHandleIsInvalid", "bad"};
  CHECK(sqs::to_spool_error(invalid, "ack", "q", true).code == errc::lease_lost);
  spool::aws::service_error expired{
      400, "InvalidParameterValue",
      "Value x for parameter ReceiptHandle is invalid. Reason: The receipt handle has expired."};
  CHECK(sqs::to_spool_error(expired, "extend", "q", true).code == errc::lease_lost);
  spool::aws::service_error ceiling{400, "InvalidParameterValue",
                                    "Total VisibilityTimeout for the message is beyond the limit [43200 seconds]"};
  auto c = sqs::to_spool_error(ceiling, "extend", "q", true);
  CHECK(c.code == errc::invalid_argument);
  CHECK(c.message.find("12-hour") != std::string::npos);
}

TEST_CASE("Aws::Sqs::Protocol: durations round up to SQS's whole seconds", "[sqs]") {
  using std::chrono::milliseconds;
  CHECK(sqs::whole_seconds(milliseconds(0)) == 0);
  CHECK(sqs::whole_seconds(milliseconds(1)) == 1);
  CHECK(sqs::whole_seconds(milliseconds(1000)) == 1);
  CHECK(sqs::whole_seconds(milliseconds(1001)) == 2);
  CHECK(sqs::whole_seconds(milliseconds(-5)) == 0);
}

TEST_CASE("Aws::Sqs::Protocol: queue ARNs", "[sqs]") {
  sqs::queue_arn a;
  REQUIRE(sqs::parse_queue_arn("arn:aws:sqs:eu-west-1:123456789012:jobs-dlq", a));
  CHECK(a.region == "eu-west-1");
  CHECK(a.account == "123456789012");
  CHECK(a.name == "jobs-dlq");
  CHECK_FALSE(sqs::parse_queue_arn("arn:aws:s3:::bucket", a));
  CHECK_FALSE(sqs::parse_queue_arn("arn:aws:sqs:eu-west-1:123456789012", a));
}

TEST_CASE("Aws::Sqs::Uri: sqs://REGION/ACCOUNT/QUEUE and its parameters", "[sqs]") {
  auto o = spool::aws::parse_sqs_uri(
      "sqs://eu-west-1/123456789012/jobs.fifo?dead_letter_queue=jobs-dlq.fifo&message_group_id=g1");
  REQUIRE(o.has_value());
  CHECK(o->region == "eu-west-1");
  CHECK(o->account_id == "123456789012");
  CHECK(o->queue_name == "jobs.fifo");
  CHECK(o->dead_letter_queue == "jobs-dlq.fifo");
  CHECK(o->message_group_id == "g1");
  for (const char* bad :
       {"sqs://eu-west-1/jobs", "sqs://eu-west-1/12ab/jobs", "sqs://EU/123/jobs", "sqs://eu-west-1/123/jo bs",
        "sqs://eu-west-1/123/jobs?colour=red", "sqs://u@eu-west-1/123/jobs", "mem://x", "sqs://eu-west-1/123/a/b"}) {
    auto r = spool::aws::parse_sqs_uri(bad);
    INFO(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_argument);
    CHECK(r.error().message.find("sqs://REGION/ACCOUNT/QUEUE") != std::string::npos);
  }
}

TEST_CASE("Aws::Sqs::DeadLetters: positions order by time of death, then id, and read back", "[sqs]") {
  sqs::dead_position p{1700000000123456, "m-1"}, back;
  REQUIRE(sqs::parse_position(sqs::to_string(p), back));
  CHECK(back == p);
  CHECK(sqs::dead_position{1, "b"} < sqs::dead_position{2, "a"});
  CHECK(sqs::dead_position{2, "a"} < sqs::dead_position{2, "b"});
  for (const char* bad : {"", "12", "/x", "12/", "x/y", "-1/a"}) CHECK_FALSE(sqs::parse_position(bad, back));
}
