#include <spool/error.hpp>

#include <boost/asio/error.hpp>
#include <catch2/catch.hpp>

#include <cerrno>
#include <system_error>

using spool::category_kind;
using spool::errc;

TEST_CASE("Error::Categories: every spool code maps to its documented category", "[error]") {
  CHECK(spool::kind_of(errc::input_not_media) == category_kind::input);
  CHECK(spool::kind_of(errc::invalid_spec) == category_kind::input);
  CHECK(spool::kind_of(errc::format_not_allowed) == category_kind::policy);
  CHECK(spool::kind_of(errc::too_many_pixels) == category_kind::policy);
  CHECK(spool::kind_of(errc::encoder_unavailable) == category_kind::unsupported);
  CHECK(spool::kind_of(errc::no_space) == category_kind::resource);
  CHECK(spool::kind_of(errc::lease_lost) == category_kind::transient);
  CHECK(spool::kind_of(errc::cancelled) == category_kind::cancelled);
  CHECK(spool::kind_of(errc::internal) == category_kind::internal);
  CHECK(spool::kind_of(spool::error_code{}) == category_kind::none);
}

TEST_CASE("Error::Conditions: codes compare equal to their category's condition", "[error]") {
  spool::error_code ec = errc::format_not_allowed;
  CHECK(ec == spool::condition::policy);
  CHECK(ec == spool::condition::permanent);
  CHECK_FALSE(ec == spool::condition::retryable);
  CHECK_FALSE(ec == spool::condition::input);
  spool::error_code full = errc::no_space;
  CHECK(full == spool::condition::resource);
  CHECK(full == spool::condition::retryable);
  CHECK(spool::is_retryable(full));
  CHECK_FALSE(spool::is_permanent(full));
}

TEST_CASE("Error::Foreign: system and Asio codes are classified too", "[error]") {
  spool::error_code enospc(ENOSPC, boost::system::generic_category());
  CHECK(spool::kind_of(enospc) == category_kind::resource);
  CHECK(spool::code_name(enospc) == "no_space");
  CHECK(spool::kind_of(boost::asio::error::operation_aborted) == category_kind::cancelled);
  spool::error_code reset(ECONNRESET, boost::system::system_category());
  CHECK(spool::kind_of(reset) == category_kind::transient);
}

TEST_CASE("Error::StdInterop: a spool code converts to std::error_code", "[error]") {
  spool::error_code ec = errc::too_long;
  std::error_code s = ec;
  CHECK(s);
  CHECK(s.message() == ec.message());
}

TEST_CASE("Error::Names: code names are stable snake_case", "[error]") {
  CHECK(spool::code_name(errc::format_not_allowed) == "format_not_allowed");
  CHECK(spool::code_name(errc::no_space) == "no_space");
  CHECK(spool::to_string(category_kind::unsupported) == "unsupported");
  CHECK(spool::code_name(spool::error_code{}) == "ok");
}

TEST_CASE("Error::Usage: usage errors are neither permanent nor retried as a job's fault", "[error]") {
  for (auto e : {errc::invalid_argument, errc::already_registered, errc::already_running}) {
    spool::error_code ec = e;
    INFO(spool::code_name(ec));
    CHECK(spool::kind_of(ec) == category_kind::usage);
    CHECK(ec == spool::condition::usage);
    CHECK_FALSE(ec == spool::condition::input);
    CHECK_FALSE(spool::is_permanent(ec));
    CHECK(spool::to_string(spool::kind_of(ec)) == "usage");
  }
  CHECK(spool::kind_of(errc::codec_not_allowed) == category_kind::policy);
  CHECK(spool::error_code(errc::codec_not_allowed) == spool::condition::permanent);
  CHECK(spool::code_name(errc::codec_not_allowed) == "codec_not_allowed");
  // Values from before these codes keep their numbers.
  CHECK(static_cast<int>(errc::internal) == 26);
}

TEST_CASE("Error::Names: every spool code reads back from its name", "[error]") {
  for (int v = 1; v <= static_cast<int>(errc::already_running); ++v) {
    spool::error_code ec = static_cast<errc>(v);
    INFO(spool::code_name(ec));
    CHECK(spool::error_from_name(spool::code_name(ec)) == ec);
  }
  CHECK(spool::error_from_name("no_such_code") == errc::internal);
}

TEST_CASE("Error::Result: a failure keeps its message, also when value() throws", "[error]") {
  auto fails = []() -> spool::result<int> {
    return spool::error(errc::format_not_allowed, "the input's format 'hls' is not allowed");
  };
  auto works = []() -> spool::result<int> { return 42; };
  auto r = fails();
  REQUIRE_FALSE(r);
  CHECK(r.error().code == errc::format_not_allowed);
  CHECK(r.error().what() == "the input's format 'hls' is not allowed");
  CHECK(*works() == 42);
  try {
    (void)r.value();
    FAIL("value() of a failure must throw");
  } catch (const spool::failure& f) {
    CHECK(f.code() == errc::format_not_allowed);
    CHECK(f.message() == "the input's format 'hls' is not allowed");
    CHECK(std::string(f.what()).find("'hls'") != std::string::npos);
  }
  spool::error bare = errc::no_space;
  CHECK(bare.what() == spool::error_code(errc::no_space).message());
  spool::result<void> ok;
  CHECK(ok.has_value());
}
