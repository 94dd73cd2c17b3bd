#pragma once
// The one statistic the benchmark programs report: medians, which ignore a single run disturbed by
// load from elsewhere where a mean would not.
#include <algorithm>
#include <optional>
#include <vector>

namespace spool_bench {

/// The median of `v`, or nothing when it is empty.
inline std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

}  // namespace spool_bench
