// Links against spool and checks that headers and library agree. Exits non-zero on any mismatch.
#include <spool/spool.hpp>

#include <cstdio>
#include <cstring>
#include <string>

int main() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "consumer check failed: %s\n", what);
      ++failures;
    }
  };

  std::printf("spool %s\n", spool::version_string());
  check(spool::version() == SPOOL_VERSION, "the library's version matches the headers'");
  check(std::strlen(spool::version_string()) >= 5, "version_string() is major.minor.patch");

  auto p = spool::make_preset("hls-ladder");
  check(p.has_value(), "make_preset(\"hls-ladder\") succeeds");
  check(p.has_value() && p->video.rungs.size() == 4, "hls-ladder has 4 rungs");
  check(p.has_value() && !spool::validate(*p), "the preset validates");

  auto unknown = spool::make_preset("no-such-preset");
  check(!unknown.has_value() && unknown.error().code == spool::errc::invalid_spec, "an unknown preset is invalid_spec");

  spool::error_code ec = spool::errc::format_not_allowed;
  check(spool::code_name(ec) == "format_not_allowed", "code_name() of a spool error");
  check(spool::kind_of(ec) == spool::category_kind::policy, "format_not_allowed is a policy error");
  check(ec == spool::condition::permanent, "policy errors are permanent");

  return failures == 0 ? 0 : 1;
}
