#pragma once
// What the benchmark reports say about the machine they ran on, read from /proc.
#include <filesystem>
#include <string>

namespace spool_bench {

/// A whole file's contents; empty when it cannot be read.
std::string read_text(const std::filesystem::path& p);

/// `s` up to its first newline.
std::string first_line(const std::string& s);

/// The 1-, 5- and 15-minute load averages as the kernel prints them ("0.52 0.61 0.70"); empty when
/// unknown.
std::string loadavg();

/// The 1-minute load average; 0 when unknown.
double load1();

struct machine_info {
  long nproc = 0;
  std::string cpu_model;  ///< empty when unknown
  double mem_gb = 0;
};

machine_info probe_machine();

}  // namespace spool_bench
