#pragma once
// Whole-string number parsing for the benchmark programs' command-line options.
#include <charconv>
#include <string_view>
#include <system_error>

namespace spool_bench {

/// True when all of `s` is a number of out's type (no sign games, no trailing characters).
template <class T>
bool parse_number(std::string_view s, T& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

}  // namespace spool_bench
