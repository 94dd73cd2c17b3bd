// The https reader on its own, without FFmpeg: random access through Range requests, connection
// reuse, a server that ignores Range, and the idle timeout and stop predicate.
#include "storage/https_source.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "fixtures.hpp"
#include "test_pki.hpp"
#include "tls_server.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
using spool::errc;
using spool::storage::https_settings;
using spool::storage::https_source;

namespace {

struct source_setup {
  scratch_dir dir{"https-source"};
  test_pki pki = make_test_pki(dir.path());
  fs::path file = dir / "blob.bin";
  std::vector<std::uint8_t> bytes;

  source_setup() {
    // Not media: the reader must hand back exactly these bytes at every offset.
    bytes.resize(700 * 1024 + 123);
    std::mt19937 gen(7);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(gen());
    std::ofstream(file, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  tls_server_options server() const {
    tls_server_options o;
    o.cert_file = pki.server_cert;
    o.key_file = pki.server_key;
    o.body_file = file;
    return o;
  }
  https_settings settings() const {
    https_settings s;
    s.allowed_hosts = {"localhost"};
    s.allow_private_addresses = true;
    s.ca_file = pki.ca_cert.string();
    return s;
  }
  /// Reads `n` bytes at `offset` through `src` (several reads if need be) and compares with the file.
  bool read_matches(https_source& src, std::int64_t offset, std::size_t n) const {
    std::vector<std::uint8_t> got(n);
    std::size_t have = 0;
    if (!src.seek(offset)) return false;
    while (have < n) {
      auto r = src.read({got.data() + have, n - have});
      if (r <= 0) break;
      have += static_cast<std::size_t>(r);
    }
    const auto end = std::min<std::size_t>(bytes.size(), static_cast<std::size_t>(offset) + n);
    const auto expected = end > static_cast<std::size_t>(offset) ? end - static_cast<std::size_t>(offset) : 0;
    return have == expected && std::equal(got.begin(), got.begin() + static_cast<std::ptrdiff_t>(have),
                                          bytes.begin() + static_cast<std::ptrdiff_t>(offset));
  }
};

}  // namespace

TEST_CASE("https source: random access returns the file's bytes", "[https]") {
  source_setup s;
  tls_server server(s.server());
  https_source src(server.url("localhost", "/blob.bin"), s.settings());
  REQUIRE(src.open());
  CHECK(src.size() == static_cast<std::int64_t>(s.bytes.size()));
  CHECK(src.seekable());
  const auto size = static_cast<std::int64_t>(s.bytes.size());
  CHECK(s.read_matches(src, 0, 1000));
  CHECK(s.read_matches(src, size - 100, 1000));        // the tail: only 100 bytes
  CHECK(s.read_matches(src, 10, 5000));                // backwards
  CHECK(s.read_matches(src, 600 * 1024, 4096));        // far forwards
  CHECK(s.read_matches(src, 600 * 1024 + 8192, 100));  // near forwards
  std::uint8_t one = 0;
  CHECK(src.read_at(size, {&one, 1}) == 0);       // at the end
  CHECK(src.read_at(size + 10, {&one, 1}) == 0);  // past it
  INFO(src.detail());
  CHECK_FALSE(src.error());
  // Each range request is one the server saw, starting where the reader asked.
  const auto ranges = server.range_headers();
  CHECK(static_cast<int>(ranges.size()) == src.requests());
  CHECK(std::count(ranges.begin(), ranges.end(), "bytes=10-") == 1);
}

TEST_CASE("https source: a body read to its end leaves the connection for the next request", "[https]") {
  source_setup s;
  tls_server server(s.server());
  https_source src(server.url("localhost", "/blob.bin"), s.settings());
  REQUIRE(src.open());
  CHECK(s.read_matches(src, 0, s.bytes.size()));  // the whole body
  CHECK(s.read_matches(src, 100, 100));           // a new request on the same connection
  CHECK(server.requests() == 2);
  CHECK(server.connections() == 1);
  CHECK(src.connections() == 1);
}

TEST_CASE("https source: without Range support, forward seeks discard and backward seeks fail typed", "[https]") {
  source_setup s;
  auto o = s.server();
  o.ranges = false;
  tls_server server(o);
  https_source src(server.url("localhost", "/blob.bin"), s.settings());
  REQUIRE(src.open());
  CHECK_FALSE(src.seekable());
  CHECK(src.size() == static_cast<std::int64_t>(s.bytes.size()));
  CHECK(s.read_matches(src, 0, 100));
  CHECK(s.read_matches(src, 650 * 1024, 100));  // forwards, past the discard limit: still the same body
  CHECK(server.requests() == 1);
  std::uint8_t buf[16];
  CHECK(src.read_at(50, buf) < 0);
  CHECK(src.error() == errc::feature_unsupported);
  CHECK(src.read({buf, 1}) < 0);  // sticky
}

TEST_CASE("https source: a silent server hits the idle timeout, a stop request wins at once", "[https]") {
  source_setup s;
  auto o = s.server();
  o.stall = true;
  tls_server server(o);

  SECTION("idle timeout") {
    auto settings = s.settings();
    settings.idle_timeout = std::chrono::milliseconds(300);
    https_source src(server.url("localhost", "/blob.bin"), settings);
    CHECK_FALSE(src.open());
    INFO(src.detail());
    CHECK(src.error() == errc::network);
    CHECK(src.detail().find("no progress") != std::string::npos);
  }
  SECTION("stop predicate") {
    auto settings = s.settings();
    auto started = std::chrono::steady_clock::now();
    settings.should_stop = [started]() -> spool::error_code {
      if (std::chrono::steady_clock::now() - started > std::chrono::milliseconds(200)) return errc::cancelled;
      return {};
    };
    https_source src(server.url("localhost", "/blob.bin"), settings);
    CHECK_FALSE(src.open());
    INFO(src.detail());
    CHECK(src.error() == errc::cancelled);
  }
  CHECK(server.connections() == 1);
}

TEST_CASE("https source: a CA file that cannot be loaded is the caller's mistake", "[https]") {
  source_setup s;
  auto settings = s.settings();
  settings.ca_file = (s.dir / "missing.pem").string();
  https_source src("https://localhost:9/blob.bin", settings);
  CHECK_FALSE(src.open());
  INFO(src.detail());
  CHECK(src.error() == errc::invalid_argument);
}

TEST_CASE("https source: URLs in messages lose their query, fragment and user info", "[https]") {
  using spool::storage::redact_url;
  CHECK(redact_url("https://bucket.example.com/a/b.mp4?X-Amz-Signature=abc") == "https://bucket.example.com/a/b.mp4");
  CHECK(redact_url("https://user:pw@host.example:8443/x#frag") == "https://host.example:8443/x");
  CHECK(redact_url("https://[::1]:8443/v.mp4?sig=1") == "https://[::1]:8443/v.mp4");
  CHECK(redact_url("not a url?token=1") == "not a url");
}
