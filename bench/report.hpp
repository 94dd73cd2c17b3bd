#pragma once
// The ladder benchmark's report: Markdown tables for people and JSON with every figure for tools.
#include <string>

#include "ladder_run.hpp"

namespace spool_bench {

struct ladder_report {
  std::string markdown;
  std::string json;       ///< one line, numbers written as people write them
  bool failures = false;  ///< some run of some method failed
};

ladder_report make_report(const ladder_results& r);

}  // namespace spool_bench
