// spool's SigV4 against botocore's, request by request: botocore (the machine's python3, through
// tests/aws/tools/botocore_sign.py with its clock frozen) signs the same requests — SQS JSON 1.0
// calls, S3 GETs and PUTs, presigned S3 GET/PUT/UploadPart URLs for keys that need encoding — and
// the signatures, signed-header lists and query parameters must agree. Presigned URLs are compared as
// parameter sets: botocore keeps the original query first, spool may order them otherwise.
#include <boost/algorithm/string/predicate.hpp>
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "aws/sigv4.hpp"
#include "support/child_process.hpp"
#include "support/sigv4_checks.hpp"

namespace json = boost::json;
namespace sigv4 = spool::aws::sigv4;
namespace taws = spool::test::aws;
using namespace std::chrono;
using spool::aws::http_headers;
using spool::aws::http_request;

namespace {

struct frozen_time {
  std::string text;  // what botocore is told
  sys_seconds at;    // what spool is told
};
const frozen_time suite_time{"20150830T123600Z", sys_days{2015y / 8 / 30} + 12h + 36min};
const frozen_time later_time{"20260301T235959Z", sys_days{2026y / 3 / 1} + 23h + 59min + 59s};

struct golden_case {
  std::string name;
  std::string kind = "sign";  // or "presign"
  std::string service, region = "us-east-1";
  frozen_time time = suite_time;
  std::string access_key = "AKIDEXAMPLE", secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", session_token;
  std::string method = "GET";
  std::string url;                    // everything but S3 objects
  std::string endpoint, bucket, key;  // S3 objects, path style: botocore encodes the key its own way
  std::string query;
  http_headers headers;
  std::string body;
  bool unsigned_payload = false;
  int expires = 900;
};

// The URL spool signs: S3 keys encoded as sigv4::uri_encode does it (S3 signs the path as sent).
std::string spool_url(const golden_case& c) {
  std::string url = c.url.empty() ? c.endpoint + "/" + c.bucket + "/" + sigv4::uri_encode(c.key, true) : c.url;
  return c.query.empty() ? url : url + "?" + c.query;
}

json::object to_json(const golden_case& c) {
  json::object o{{"name", c.name},
                 {"kind", c.kind},
                 {"service", c.service},
                 {"region", c.region},
                 {"time", c.time.text},
                 {"access_key", c.access_key},
                 {"secret_key", c.secret_key},
                 {"session_token", c.session_token},
                 {"method", c.method},
                 {"query", c.query},
                 {"body", c.body},
                 {"unsigned_payload", c.unsigned_payload},
                 {"expires", c.expires}};
  if (c.url.empty()) {
    o["endpoint"] = c.endpoint;
    o["bucket"] = c.bucket;
    o["key"] = c.key;
  } else {
    o["url"] = c.url;
  }
  json::object headers;
  for (const auto& h : c.headers) headers[h.name] = h.value;
  o["headers"] = std::move(headers);
  return o;
}

// botocore's answers, one per case, or nothing (after a SKIP warning) when it is not installed.
std::optional<json::array> botocore_sign(const std::vector<golden_case>& cases) {
  const taws::temp_directory dir("spool-botocore-");
  const auto input = dir.path() / "cases.json";
  json::array list;
  for (const auto& c : cases) list.push_back(to_json(c));
  std::ofstream(input) << json::serialize(list);
  const auto script = std::string(SPOOL_SOURCE_DIR) + "/tests/aws/tools/botocore_sign.py";
  const auto r = taws::run_command({"python3", script, input.string()});
  if (r.exit_status == 3) {
    std::string why = r.err;
    while (!why.empty() && why.back() == '\n') why.pop_back();
    WARN("SKIP: botocore is not installed (" << why << ")");
    return std::nullopt;
  }
  INFO("botocore_sign.py stderr: " << r.err);
  REQUIRE(r.exit_status == 0);
  auto out = json::parse(r.out).as_object();
  auto results = out.at("results").as_array();
  REQUIRE(results.size() == cases.size());
  return results;
}

spool::aws::credentials credentials_of(const golden_case& c) {
  spool::aws::credentials creds;
  creds.access_key_id = c.access_key;
  creds.secret_access_key = c.secret_key;
  creds.session_token = c.session_token;
  return creds;
}

std::string header(const http_headers& headers, std::string_view name) {
  for (const auto& h : headers)
    if (boost::iequals(h.name, name)) return h.value;
  return {};
}

std::string boto_header(const json::object& result, std::string_view name) {
  for (const auto& [k, v] : result.at("headers").as_object())
    if (boost::iequals(std::string_view(k), name)) return std::string(v.as_string());
  return {};
}

void check_signed_like_botocore(const golden_case& c, const json::object& boto) {
  http_request r;
  r.method = c.method;
  r.url = spool_url(c);
  r.headers = c.headers;
  r.body = c.body;
  const std::string payload = c.unsigned_payload ? std::string(sigv4::unsigned_payload) : sigv4::sha256_hex(c.body);
  sigv4::sign(r, payload, credentials_of(c), {c.region, c.service}, c.time.at);

  http_request unsigned_copy = r;
  std::erase_if(unsigned_copy.headers, [](const auto& h) { return boost::iequals(h.name, "Authorization"); });
  INFO("botocore's canonical request:\n"
       << boto.at("canonical_request").as_string().c_str() << "\nspool's canonical request:\n"
       << sigv4::canonical_request(unsigned_copy, payload, c.service));
  CHECK(taws::without_query(r.url) == taws::without_query(boto.at("url").as_string()));
  const auto mine = taws::parse_authorization(header(r.headers, "Authorization"));
  const auto theirs = taws::parse_authorization(boto_header(boto, "Authorization"));
  CHECK(mine.credential == theirs.credential);
  CHECK(mine.signed_headers == theirs.signed_headers);
  CHECK(mine.signature == theirs.signature);
  for (const char* name : {"X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-SHA256"})
    CHECK(header(r.headers, name) == boto_header(boto, name));
}

void check_presigned_like_botocore(const golden_case& c, const json::object& boto) {
  http_headers extra;
  const std::string url = sigv4::presign(c.method, spool_url(c), seconds(c.expires), credentials_of(c),
                                         {c.region, c.service}, c.time.at, extra);
  const std::string boto_url(boto.at("url").as_string());
  INFO("botocore: " << boto_url << "\nspool:    " << url);
  CHECK(taws::without_query(url) == taws::without_query(boto_url));
  CHECK(taws::query_parameters(url) == taws::query_parameters(boto_url));
}

void run(const std::vector<golden_case>& cases) {
  const auto results = botocore_sign(cases);
  if (!results) return;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const auto& boto = (*results)[i].as_object();
    REQUIRE(boto.at("name").as_string() == c.name);
    INFO("case: " << c.name);
    if (c.kind == "presign") {
      check_presigned_like_botocore(c, boto);
    } else {
      check_signed_like_botocore(c, boto);
    }
  }
}

constexpr const char* session_token = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+test/token==";

golden_case sqs_call(std::string name, std::string target, std::string body) {
  golden_case c;
  c.name = std::move(name);
  c.service = "sqs";
  c.method = "POST";
  c.url = "https://sqs.us-east-1.amazonaws.com/";
  c.headers = {{"Content-Type", "application/x-amz-json-1.0"}, {"X-Amz-Target", "AmazonSQS." + std::move(target)}};
  c.body = std::move(body);
  return c;
}

golden_case s3_object(std::string name, std::string method, std::string key) {
  golden_case c;
  c.name = std::move(name);
  c.service = "s3";
  c.method = std::move(method);
  c.endpoint = "http://127.0.0.1:9000";
  c.bucket = "spool-media";
  c.key = std::move(key);
  return c;
}

}  // namespace

TEST_CASE("header signatures agree with botocore's: SQS JSON 1.0 and S3 objects", "[aws][sigv4][botocore]") {
  std::vector<golden_case> cases;
  cases.push_back(sqs_call("sqs SendMessage", "SendMessage",
                           R"({"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/jobs",)"
                           R"("MessageBody":"{\"job\":\"vid\u00e9o 1\"}"})"));
  auto with_token = sqs_call("sqs ReceiveMessage with a session token", "ReceiveMessage",
                             R"({"QueueUrl":"http://127.0.0.1:4566/000000000000/jobs","WaitTimeSeconds":20})");
  with_token.url = "http://127.0.0.1:4566/";
  with_token.session_token = session_token;
  with_token.region = "eu-west-1";
  with_token.time = later_time;
  cases.push_back(with_token);

  auto get = s3_object("s3 GET with a Range", "GET", "vidéo/ü 1+2=3.mp4");
  get.headers = {{"Range", "bytes=0-1023"}};
  cases.push_back(get);
  auto put = s3_object("s3 PUT with a body and a session token", "PUT", "out/with space/a+b=c.m4s");
  put.headers = {{"Content-Type", "video/iso.segment"}};
  put.body = "segment bytes \x01\x02";
  put.session_token = session_token;
  put.time = later_time;
  cases.push_back(put);
  auto unsigned_put = s3_object("s3 PUT with an unsigned payload", "PUT", "master.m3u8");
  unsigned_put.headers = {{"Content-Type", "application/vnd.apple.mpegurl"}};
  unsigned_put.body = "#EXTM3U\n";
  unsigned_put.unsigned_payload = true;
  cases.push_back(unsigned_put);
  run(cases);
}

TEST_CASE("presigned S3 URLs agree with botocore's for keys that need encoding", "[aws][sigv4][botocore]") {
  std::vector<golden_case> cases;
  for (const std::string key : {"plain/segment_001.m4s", "with space.mp4", "a+b=c.mp4", "vidéo/ü 1+2=3.mp4"}) {
    for (const bool token : {false, true}) {
      const std::string suffix = " '" + key + "'" + (token ? " with a session token" : "");
      for (const char* method : {"GET", "PUT"}) {
        auto c = s3_object(std::string("presigned ") + method + suffix, method, key);
        c.kind = "presign";
        c.session_token = token ? session_token : "";
        c.expires = token ? 3600 : 900;
        cases.push_back(c);
      }
      auto part = s3_object("presigned UploadPart" + suffix, "PUT", key);
      part.kind = "presign";
      part.query = "partNumber=7&uploadId=2~Vx.Yz-0_Q";
      part.session_token = token ? session_token : "";
      part.time = later_time;
      part.region = "eu-west-1";
      cases.push_back(part);
    }
  }
  run(cases);
}
