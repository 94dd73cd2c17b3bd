// The AWS HTTP client on its own against a loopback TLS server with a CA of the test's making:
// certificate checks, streamed bodies, connection reuse, the idle timeout and interruption.
#include "aws/http_client.hpp"

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "catch_result.hpp"
#include "support/child_process.hpp"
#include "test_pki.hpp"
#include "tls_server.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
using spool::errc;
using spool::aws::http_client;
using spool::aws::http_options;
using spool::aws::http_request;

namespace {

struct setup {
  spool::test::aws::temp_directory dir{"spool-http-client-"};
  test_pki pki = make_test_pki(dir.path());
  fs::path file = dir.path() / "blob.bin";
  std::string bytes;

  setup() {
    bytes.resize(300 * 1024 + 7);  // several of the client's chunks
    std::mt19937 gen(11);
    for (auto& b : bytes) b = static_cast<char>(gen());
    std::ofstream(file, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  tls_server_options server(bool trusted = true) const {
    tls_server_options o;
    o.cert_file = trusted ? pki.server_cert : pki.self_signed_cert;
    o.key_file = trusted ? pki.server_key : pki.self_signed_key;
    o.body_file = file;
    return o;
  }
  http_options client() const {
    http_options o;
    o.ca_file = pki.ca_cert.string();
    return o;
  }
};

}  // namespace

TEST_CASE("aws http: a certificate no trusted CA signed is refused before any request", "[aws][http]") {
  setup s;
  tls_server server(s.server(false));
  http_client client(s.client());
  http_request r;
  r.url = server.url("localhost", "/bucket/key");
  auto got = client.send(r);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::protocol_not_allowed);
  CHECK(got.error().message.find("certificate") != std::string::npos);
  CHECK(server.requests() == 0);
}

TEST_CASE("aws http: a certificate for another name is refused", "[aws][http]") {
  setup s;
  auto options = s.server();
  options.cert_file = s.pki.other_cert;
  options.key_file = s.pki.other_key;
  tls_server server(options);
  http_client client(s.client());
  http_request r;
  r.url = server.url("localhost");
  auto got = client.send(r);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::protocol_not_allowed);
  CHECK(server.requests() == 0);
}

TEST_CASE("aws http: bodies stream to the writer whole, and one connection serves every request", "[aws][http]") {
  setup s;
  tls_server server(s.server());
  http_client client(s.client());
  for (int i = 0; i < 3; ++i) {
    std::string streamed;
    int chunks = 0;
    http_request r;
    r.url = server.url("localhost", "/object?versionId=" + std::to_string(i));
    auto got = client.send(r, [&](std::span<const std::byte> chunk) -> spool::error {
      streamed.append(reinterpret_cast<const char*>(chunk.data()), chunk.size());
      ++chunks;
      return {};
    });
    REQUIRE(got);
    CHECK(got->status == 200);
    CHECK(got->body.empty());
    CHECK(streamed == s.bytes);
    CHECK(chunks > 1);
  }
  CHECK(server.connections() == 1);
  CHECK(client.connections_opened() == 1);
  CHECK(server.targets().back() == "/object?versionId=2");
}

TEST_CASE("aws http: without a writer the body is read into the response", "[aws][http]") {
  setup s;
  tls_server server(s.server());
  http_client client(s.client());
  http_request r;
  r.url = server.url("127.0.0.1");
  r.headers = {{"Range", "bytes=100-199"}};
  auto got = client.send(r);
  REQUIRE(got);
  CHECK(got->status == 206);
  CHECK(got->body == s.bytes.substr(100));  // the test server serves a range to the end
}

TEST_CASE("aws http: a writer's error stops the transfer with that error", "[aws][http]") {
  setup s;
  tls_server server(s.server());
  http_client client(s.client());
  http_request r;
  r.url = server.url("localhost");
  auto got = client.send(r, [](std::span<const std::byte>) { return spool::error(errc::no_space, "disk full"); });
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::no_space);
}

TEST_CASE("aws http: a body cut short is a network error", "[aws][http]") {
  setup s;
  auto options = s.server();
  options.cut_after = 1000;
  tls_server server(options);
  http_client client(s.client());
  http_request r;
  r.url = server.url("localhost");
  auto got = client.send(r, [](std::span<const std::byte>) { return spool::error{}; });
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::network);
}

TEST_CASE("aws http: a silent server hits the idle timeout, an interrupt stops the wait at once", "[aws][http]") {
  setup s;
  auto options = s.server();
  options.stall = true;
  tls_server server(options);
  auto client_options = s.client();
  client_options.connect_timeout = std::chrono::milliseconds(300);
  client_options.idle_timeout = std::chrono::milliseconds(300);
  http_client client(client_options);
  http_request r;
  r.url = server.url("localhost");
  auto timed_out = client.send(r);
  REQUIRE_FALSE(timed_out);
  CHECK(timed_out.error().code == errc::network);
  CHECK(timed_out.error().message.find("no progress") != std::string::npos);

  client_options.connect_timeout = client_options.idle_timeout = std::chrono::minutes(10);
  http_client patient(client_options);
  std::atomic<int> asked{0};
  auto stopped = patient.send(r, {}, [&]() -> spool::error_code {
    return ++asked > 3 ? spool::make_error_code(errc::cancelled) : spool::error_code{};
  });
  REQUIRE_FALSE(stopped);
  CHECK(stopped.error().code == errc::cancelled);
}

TEST_CASE("aws http: a malformed URL is the caller's mistake, and messages never show a query", "[aws][http]") {
  http_client client;
  http_request r;
  r.url = "ftp://example.com/x?X-Amz-Signature=secret";
  auto got = client.send(r);
  REQUIRE_FALSE(got);
  CHECK(got.error().code == errc::invalid_argument);
  CHECK(got.error().message.find("secret") == std::string::npos);
  CHECK(spool::aws::redact("https://user:pw@host:9/p/a?X-Amz-Credential=k#f") == "https://host:9/p/a");
}
