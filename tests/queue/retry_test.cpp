#include <spool/queue/retry.hpp>

#include <catch2/catch.hpp>

#include <cerrno>
#include <random>

namespace q = spool::queue;
using spool::errc;
using std::chrono::milliseconds;

TEST_CASE("Queue::Retry::Permanent: input, policy and unsupported dead-letter on the first failure", "[retry]") {
  q::retry_policy p;
  for (auto e : {errc::input_not_media, errc::format_not_allowed, errc::codec_unsupported}) {
    auto d = q::decide(p, e, 1, 0);
    CHECK(d.what == q::verdict::dead_letter);
    CHECK(d.reason.find(spool::code_name(e)) != std::string::npos);
  }
}

TEST_CASE("Queue::Retry::Transient: retryable failures retry until max_attempts, then dead-letter", "[retry]") {
  q::retry_policy p;
  p.max_attempts = 3;
  for (auto e :
       {spool::error_code(errc::no_space), spool::error_code(errc::network), spool::error_code(errc::internal),
        spool::error_code(errc::invalid_argument), spool::error_code(ECONNRESET, boost::system::generic_category())}) {
    INFO(e.message());
    CHECK(q::decide(p, e, 1, 7).what == q::verdict::retry);
    CHECK(q::decide(p, e, 2, 7).what == q::verdict::retry);
    auto last = q::decide(p, e, 3, 7);
    CHECK(last.what == q::verdict::dead_letter);
    CHECK(last.reason.find("3 attempts") != std::string::npos);
  }
}

TEST_CASE("Queue::Retry::Cancelled: a cancelled job is released at once", "[retry]") {
  auto d = q::decide(q::retry_policy{}, errc::cancelled, 4, 1);
  CHECK(d.what == q::verdict::release);
  CHECK(d.delay == milliseconds(0));
}

TEST_CASE("Queue::Retry::Backoff: full jitter under an exponential ceiling with a cap", "[retry]") {
  q::retry_policy p;
  p.base = milliseconds(1000);
  p.cap = milliseconds(10'000);
  std::mt19937_64 gen(42);
  for (int attempt = 1; attempt <= 8; ++attempt) {
    std::int64_t ceiling = std::min<std::int64_t>(10'000, 1000LL << (attempt - 1));
    std::int64_t lo = ceiling, hi = 0;
    for (int i = 0; i < 2000; ++i) {
      auto b = q::backoff(p, attempt, gen()).count();
      REQUIRE(b >= 0);
      REQUIRE(b <= ceiling);
      lo = std::min(lo, b);
      hi = std::max(hi, b);
    }
    INFO("attempt " << attempt << " ceiling " << ceiling);
    // Spread over the whole range, not a fixed delay.
    CHECK(lo < ceiling / 10);
    CHECK(hi > ceiling * 9 / 10);
  }
  CHECK(q::backoff(p, 1000, ~0ULL).count() <= 10'000);  // no overflow at absurd attempt numbers
  q::retry_policy zero;
  zero.base = milliseconds(0);
  CHECK(q::backoff(zero, 3, 12345).count() == 0);
}
