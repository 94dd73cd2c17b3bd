// s3:// inputs against fauxqs: ranged reads at random offsets give the object's bytes, through a
// window no larger than configured, under the input policy.
#include "aws/s3_source.hpp"

#include <spool/aws/s3.hpp>

#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <thread>

#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;

namespace {

struct source_env {
  s3test::fauxqs_service server = s3test::fauxqs_service::start();
  std::shared_ptr<s3_client> client;
  std::vector<std::byte> object;

  explicit source_env(std::int64_t window, std::size_t size = 3 * 1000 * 1000 + 17) {
    auto o = s3test::options_for(server.endpoint);
    o.read_window = window;
    client = std::make_shared<s3_client>(o);
    s3test::create_bucket(*client, "media");
    object = s3test::random_bytes(size, 7);
    auto e = client->put("media", "in/clip one+1=2.mp4",
                         std::string(reinterpret_cast<const char*>(object.data()), object.size()),
                         {{"Content-Type", "video/mp4"}});
    REQUIRE_FALSE(e);
  }
};

input_policy allowing(std::vector<std::string> prefixes) {
  input_policy p;
  p.s3_prefixes = std::move(prefixes);
  return p;
}

}  // namespace

TEST_CASE("An S3 source reads any range of the object through a bounded window", "[s3]") {
  const std::int64_t window = 256 * 1024;
  source_env env(window);
  auto src = open_s3_source(env.client, "media/in/clip one+1=2.mp4", allowing({"media/in/"}), {});
  REQUIRE(src.has_value());
  auto& s = **src;
  CHECK(s.size() == static_cast<std::int64_t>(env.object.size()));
  CHECK(s.name() == "s3://media/in/clip one+1=2.mp4");

  std::mt19937 rng(42);
  std::vector<std::byte> buf(700 * 1024);
  for (int i = 0; i < 60; ++i) {
    auto off = static_cast<std::int64_t>(rng() % env.object.size());
    auto len = 1 + rng() % buf.size();
    auto n = s.read_at(off, std::span(buf.data(), len));
    REQUIRE(n.has_value());
    REQUIRE(*n > 0);
    REQUIRE(*n <= len);
    INFO("offset " << off << " length " << len);
    REQUIRE(std::memcmp(buf.data(), env.object.data() + off, *n) == 0);
  }
  // Sequential reading to the end gives the whole object, and 0 at the end.
  std::vector<std::byte> all;
  for (std::int64_t off = 0;;) {
    auto n = s.read_at(off, buf);
    REQUIRE(n.has_value());
    if (*n == 0) break;
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    off += static_cast<std::int64_t>(*n);
  }
  CHECK(all == env.object);
  // No GET brought more than the window, and the reading took many of them: never the whole object.
  CHECK(s.largest_body() <= window);
  CHECK(s.largest_body() > 0);
  CHECK(s.gets() >= static_cast<int>(env.object.size() / window));
}

TEST_CASE("S3 inputs are refused unless the policy lists their bucket or prefix", "[s3]") {
  source_env env(64 * 1024, 1000);
  for (auto prefixes :
       {std::vector<std::string>{}, std::vector<std::string>{"other"}, std::vector<std::string>{"media/out/"}}) {
    auto src = open_s3_source(env.client, "media/in/clip one+1=2.mp4", allowing(prefixes), {});
    REQUIRE_FALSE(src.has_value());
    CHECK(src.error().code == errc::protocol_not_allowed);
  }
  auto whole_bucket = open_s3_source(env.client, "media/in/clip one+1=2.mp4", allowing({"media"}), {});
  CHECK(whole_bucket.has_value());
}

TEST_CASE("A missing S3 input is input_unreadable", "[s3]") {
  source_env env(64 * 1024, 1000);
  auto src = open_s3_source(env.client, "media/in/nothing.mp4", allowing({"media"}), {});
  REQUIRE_FALSE(src.has_value());
  CHECK(src.error().code == errc::input_unreadable);
  CHECK(src.error().what().find("s3://media/in/nothing.mp4") != std::string::npos);
}

TEST_CASE("An S3 object replaced while it is read is an error, not a mix", "[s3]") {
  source_env env(64 * 1024, 300 * 1024);
  auto src = open_s3_source(env.client, "media/in/clip one+1=2.mp4", allowing({"media"}), {});
  REQUIRE(src.has_value());
  std::vector<std::byte> buf(1024);
  REQUIRE((*src)->read_at(0, buf).has_value());
  auto other = s3test::random_bytes(300 * 1024, 8);
  REQUIRE_FALSE(env.client->put("media", "in/clip one+1=2.mp4",
                                std::string(reinterpret_cast<const char*>(other.data()), other.size()),
                                {{"Content-Type", "video/mp4"}}));
  auto n = (*src)->read_at(200 * 1024, buf);
  if (n.has_value()) {
    // A server that ignores If-Match: then at least the bytes must be the new object's, whole.
    WARN("the S3 emulator ignores If-Match");
    CHECK(std::memcmp(buf.data(), other.data() + 200 * 1024, *n) == 0);
  } else {
    CHECK(n.error().code == errc::input_unreadable);
  }
}

TEST_CASE("Reading an S3 input front to back fetches each window once, the next one ahead", "[s3]") {
  const std::int64_t window = 128 * 1024;
  source_env env(window, 1000 * 1000);
  auto src = open_s3_source(env.client, "media/in/clip one+1=2.mp4", allowing({"media"}), {});
  REQUIRE(src.has_value());
  auto& s = **src;
  std::vector<std::byte> buf(32 * 1024);
  // Three quarters into the first window: the second is asked for without another read.
  for (std::int64_t off = 0; off < window * 3 / 4; off += static_cast<std::int64_t>(buf.size()))
    REQUIRE(s.read_at(off, buf).has_value());
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s.gets() < 2 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK(s.gets() == 2);
  std::vector<std::byte> all;
  for (std::int64_t off = 0;;) {
    auto n = s.read_at(off, buf);
    REQUIRE(n.has_value());
    if (*n == 0) break;
    all.insert(all.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(*n));
    off += static_cast<std::int64_t>(*n);
  }
  CHECK(all == env.object);
  // 1,000,000 bytes in windows of 131,072: 8 windows, each asked for once.
  CHECK(s.gets() == 8);
  CHECK(s.largest_body() <= window);
}

TEST_CASE("An S3 read stops when its interrupt says so", "[s3]") {
  source_env env(64 * 1024, 300 * 1024);
  auto src = open_s3_source(env.client, "media/in/clip one+1=2.mp4", allowing({"media"}), {});
  REQUIRE(src.has_value());
  (*src)->set_interrupt([] { return make_error_code(errc::cancelled); });
  std::vector<std::byte> buf(1024);
  auto n = (*src)->read_at(200 * 1024, buf);
  REQUIRE_FALSE(n.has_value());
  CHECK(n.error().code == errc::cancelled);
}
