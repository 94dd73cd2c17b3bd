// Presigning's limits without a server: part sizes within S3's, the 7-day cap, and a warning when
// the credentials expire before the URL would.
#include <spool/aws/presign.hpp>

#include <catch2/catch.hpp>

#include "aws/presign.hpp"
#include "s3_fixture.hpp"

using namespace spool;
using namespace spool::aws;

namespace {

constexpr std::int64_t MiB = 1LL << 20;
constexpr std::int64_t GiB = 1LL << 30;

std::string query_value(const std::string& url, const std::string& name) {
  auto at = url.find(name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 1;
  return url.substr(at, url.find('&', at) - at);
}

}  // namespace

TEST_CASE("Multipart part sizes stay within S3's limits", "[s3][presign]") {
  // 5 GB, 50 GB, 5 TB (decimal), 5 TiB (S3's largest object), and small files.
  for (std::int64_t size : std::initializer_list<std::int64_t>{5'000'000'000LL, 50'000'000'000LL, 5'000'000'000'000LL,
                                                               5LL << 40, 1LL, 5 * MiB, 5 * MiB + 1, 48 * GiB + 7}) {
    INFO("size " << size);
    auto plan = choose_part_size(size);
    REQUIRE(plan.has_value());
    CHECK(plan->parts >= 1);
    CHECK(plan->parts <= 10'000);
    CHECK(plan->part_size <= 5 * GiB);
    // Every part but the last is at least 5 MiB; the parts cover the file, the last one not empty.
    if (plan->parts > 1) CHECK(plan->part_size >= 5 * MiB);
    CHECK(plan->part_size * plan->parts >= size);
    CHECK(plan->part_size * (plan->parts - 1) < size);
  }
  for (std::int64_t bad : std::initializer_list<std::int64_t>{0LL, -1LL, (5LL << 40) + 1}) {
    INFO("size " << bad);
    auto plan = choose_part_size(bad);
    REQUIRE_FALSE(plan.has_value());
    CHECK(plan.error().code == errc::invalid_argument);
  }
}

TEST_CASE("Presigned URLs live at most 7 days, and say when credentials end sooner", "[s3][presign]") {
  const auto now = wall_clock::now();
  auto o = s3test::options_for("http://127.0.0.1:9");
  s3_client long_term(o);
  presign_options po;
  po.expires = std::chrono::hours(24 * 8);
  auto capped = presign_url(long_term, {"media", "x.mp4"}, po, now);
  REQUIRE(capped.has_value());
  CHECK(query_value(capped->url, "X-Amz-Expires") == "604800");
  REQUIRE(capped->warnings.size() == 1);
  CHECK(capped->warnings[0].find("7 days") != std::string::npos);

  po.expires = std::chrono::seconds(3600);
  auto fine = presign_url(long_term, {"media", "x.mp4"}, po, now);
  REQUIRE(fine.has_value());
  CHECK(query_value(fine->url, "X-Amz-Expires") == "3600");
  CHECK(fine->warnings.empty());

  // Temporary credentials that end in 30 minutes.
  o.credentials = static_credentials(
      credentials{"ASIATEST", "very-secret-key", "session-token-secret", now + std::chrono::minutes(30), "test"});
  s3_client temporary(o);
  auto short_lived = presign_url(temporary, {"media", "x.mp4"}, po, now);
  REQUIRE(short_lived.has_value());
  REQUIRE(short_lived->warnings.size() == 1);
  CHECK(short_lived->warnings[0].find("credentials") != std::string::npos);
  CHECK(short_lived->warnings[0].find("very-secret-key") == std::string::npos);
  CHECK(short_lived->warnings[0].find("session-token-secret") == std::string::npos);
  CHECK_FALSE(query_value(short_lived->url, "X-Amz-Security-Token").empty());
  po.expires = std::chrono::seconds(600);
  auto within = presign_url(temporary, {"media", "x.mp4"}, po, now);
  REQUIRE(within.has_value());
  CHECK(within->warnings.empty());

  po.expires = std::chrono::seconds(0);
  CHECK(presign_url(long_term, {"media", "x.mp4"}, po, now).error().code == errc::invalid_argument);
  po.expires = std::chrono::seconds(60);
  po.method = "DELETE";
  CHECK(presign_url(long_term, {"media", "x.mp4"}, po, now).error().code == errc::invalid_argument);
}
