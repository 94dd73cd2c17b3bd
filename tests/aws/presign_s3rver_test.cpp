// Presigned URLs used with curl against s3rver, which recomputes every signature: they work for
// awkward keys, and tampered, expired and misused ones are refused.
#include <spool/aws/presign.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <set>

#include "aws/presign.hpp"
#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;
namespace fs = std::filesystem;

namespace {

struct answer {
  int status = 0;
  std::string body;
};

// curl with the body from `file` (when given) and the headers given; the status and the body.
answer curl(const std::string& method, const std::string& url, const fs::path& file = {},
            const std::vector<std::string>& headers = {}) {
  std::string cmd = "curl -s --max-time 20 -o - -w '\\n%{http_code}' -X " + method;
  for (const auto& h : headers) cmd += " -H " + s3test::quoted(h);
  if (!file.empty()) cmd += " --data-binary @" + s3test::quoted(file.string());
  cmd += " " + s3test::quoted(url);
  auto out = s3test::run(cmd);
  auto nl = out.rfind('\n');
  return {std::stoi(out.substr(nl + 1)), out.substr(0, nl)};
}

struct s3rver_env {
  spool::test::aws::temp_directory dir{"spool-presign"};
  s3test::s3rver_service server = s3test::s3rver_service::start();
  std::unique_ptr<s3_client> client;

  s3rver_env() {
    client = std::make_unique<s3_client>(s3test::options_for(server.endpoint, "S3RVER", "S3RVER"));
    s3test::create_bucket(*client, "media");
  }
  fs::path file(const std::string& name, const std::string& content) {
    auto p = dir.path() / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
};

presign_options opts(std::string method, std::chrono::seconds expires = std::chrono::seconds(300),
                     std::string type = {}) {
  presign_options o;
  o.method = std::move(method);
  o.expires = expires;
  o.content_type = std::move(type);
  return o;
}

std::string query_value(const std::string& url, const std::string& name) {
  auto at = url.find(name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 1;
  return url.substr(at, url.find('&', at) - at);
}

}  // namespace

TEST_CASE("Presigned PUT and GET URLs work for awkward keys", "[s3][presign]") {
  s3rver_env env;
  const auto now = wall_clock::now();
  for (std::string key : {"in/plain.mp4", "in/with space.mp4", "in/a+b=c.mp4", "in/caf\xC3\xA9/\xE2\x82\xAC 1.mp4"}) {
    INFO(key);
    const std::string content = "bytes of " + key;
    auto put = presign_url(*env.client, {"media", key}, opts("PUT", std::chrono::seconds(300), "video/mp4"), now);
    REQUIRE(put.has_value());
    REQUIRE(put->headers.size() == 1);
    auto up = curl("PUT", put->url, env.file("body", content), {"Content-Type: video/mp4"});
    CHECK(up.status == 200);
    auto get = presign_url(*env.client, {"media", key}, opts("GET"), now);
    REQUIRE(get.has_value());
    auto down = curl("GET", get->url);
    CHECK(down.status == 200);
    CHECK(down.body == content);
  }
  // Stored under exactly those keys.
  auto page = env.client->list("media", "in/", "");
  REQUIRE(page.has_value());
  std::set<std::string> keys(page->keys.begin(), page->keys.end());
  CHECK(keys == std::set<std::string>{"in/plain.mp4", "in/with space.mp4", "in/a+b=c.mp4",
                                      "in/caf\xC3\xA9/\xE2\x82\xAC 1.mp4"});
}

TEST_CASE("Tampered, expired and misused presigned URLs are refused", "[s3][presign]") {
  s3rver_env env;
  auto body = env.file("body", "payload");
  const auto now = wall_clock::now();
  auto put = presign_url(*env.client, {"media", "in/x.mp4"}, opts("PUT", std::chrono::seconds(300), "video/mp4"), now);
  REQUIRE(put.has_value());

  SECTION("one character of the signature changed") {
    std::string url = put->url;
    auto at = url.find("X-Amz-Signature=") + 16;
    url[at] = url[at] == 'a' ? 'b' : 'a';
    auto r = curl("PUT", url, body, {"Content-Type: video/mp4"});
    CHECK(r.status == 403);
    CHECK(r.body.find("SignatureDoesNotMatch") != std::string::npos);
  }
  SECTION("another key") {
    std::string url = put->url;
    url.replace(url.find("in/x.mp4"), 8, "in/y.mp4");
    auto r = curl("PUT", url, body, {"Content-Type: video/mp4"});
    CHECK(r.status == 403);
    CHECK(r.body.find("SignatureDoesNotMatch") != std::string::npos);
  }
  SECTION("another Content-Type than signed") {
    auto r = curl("PUT", put->url, body, {"Content-Type: text/html"});
    CHECK(r.status == 403);
  }
  SECTION("expired") {
    auto old = presign_url(*env.client, {"media", "in/x.mp4"}, opts("GET", std::chrono::seconds(1)),
                           now - std::chrono::seconds(10));
    REQUIRE(old.has_value());
    REQUIRE(curl("PUT", put->url, body, {"Content-Type: video/mp4"}).status == 200);
    auto r = curl("GET", old->url);
    CHECK(r.status == 403);
    CHECK(r.body.find("AccessDenied") != std::string::npos);
    // The same object, signed now with a minute to live (a slow machine may take a second between
    // signing and asking), works: the refusal was the expiry's.
    auto fresh =
        presign_url(*env.client, {"media", "in/x.mp4"}, opts("GET", std::chrono::seconds(60)), wall_clock::now());
    REQUIRE(fresh.has_value());
    CHECK(curl("GET", fresh->url).status == 200);
  }
}

TEST_CASE("A presigned multipart upload: each part's URL, and only for its part", "[s3][presign]") {
  s3rver_env env;
  const std::int64_t size = (11 << 20) + 5;
  auto up = presign_multipart(*env.client, {"media", "big/file one.mp4"}, size,
                              opts("PUT", std::chrono::seconds(600), "video/mp4"), wall_clock::now());
  REQUIRE(up.has_value());
  REQUIRE(up->part_urls.size() == static_cast<std::size_t>(up->plan.parts));
  REQUIRE(up->plan.parts == 3);  // 5 MiB parts: the smallest S3 takes
  auto data = s3test::random_bytes(static_cast<std::size_t>(size), 3);
  std::string etags;
  for (int n = 1; n <= up->plan.parts; ++n) {
    auto from = static_cast<std::size_t>((n - 1) * up->plan.part_size);
    auto len = std::min<std::size_t>(static_cast<std::size_t>(up->plan.part_size), data.size() - from);
    auto part = env.file("part", std::string(reinterpret_cast<const char*>(data.data()) + from, len));
    if (n == 2) {
      // Part 1's URL with its part number changed to 2.
      std::string reused = up->part_urls[0];
      reused.replace(reused.find("partNumber=1"), 12, "partNumber=2");
      CHECK(curl("PUT", reused, part).status == 403);
    }
    auto out =
        s3test::run("curl -s --max-time 20 -D - -o /dev/null -X PUT --data-binary @" + s3test::quoted(part.string()) +
                    " " + s3test::quoted(up->part_urls[static_cast<std::size_t>(n - 1)]));
    auto at = out.find("ETag: ");
    if (at == std::string::npos) at = out.find("etag: ");
    REQUIRE(at != std::string::npos);
    auto etag = out.substr(at + 6, out.find('\r', at) - at - 6);
    etags += "<Part><PartNumber>" + std::to_string(n) + "</PartNumber><ETag>" + etag + "</ETag></Part>";
  }
  auto xml = env.file("complete.xml", "<CompleteMultipartUpload>" + etags + "</CompleteMultipartUpload>");
  auto done = curl("POST", up->complete_url, xml, {"Content-Type: application/xml"});
  CHECK(done.status == 200);
  auto get = presign_url(*env.client, {"media", "big/file one.mp4"}, opts("GET"), wall_clock::now());
  REQUIRE(get.has_value());
  auto whole = curl("GET", get->url);
  CHECK(whole.status == 200);
  CHECK(whole.body == std::string(reinterpret_cast<const char*>(data.data()), data.size()));
  CHECK(query_value(up->part_urls[0], "X-Amz-Expires") == "600");
}
