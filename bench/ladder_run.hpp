#pragma once
// The ladder benchmark's methods and options, and what each run of each method records: the data
// the bench collects and the report is made from.
#include <boost/json/value.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ffmpeg_reference.hpp"
#include "machine.hpp"
#include "ssim.hpp"

namespace spool_bench {

enum method_id { spool_m = 0, baseline_m = 1, single_m = 2, per_rung_m = 3, method_count = 4 };

struct method_info {
  const char* key;    ///< JSON key, output directory and --methods name
  const char* tag;    ///< short name in tables
  const char* label;  ///< table label
};

/// In this order before the rotation (run 1); A and A' are spool builds, B and C the reference.
inline constexpr method_info methods[method_count] = {
    {"spool", "A", "A spool"},
    {"spool_baseline", "A'", "A' spool, baseline build"},
    {"ffmpeg_single", "B", "B ffmpeg, 1 process (split=4)"},
    {"ffmpeg_per_rung", "C", "C ffmpeg, 4 processes"},
};

struct options {
  std::string spool;           ///< A
  std::string baseline_spool;  ///< A': another spool binary, run side by side with A
  ffmpeg_reference ffmpeg;
  double duration_s = 120;
  int runs = 3;
  std::string out = "bench-out";
  std::string json_path, markdown_path;
  std::string source;                      ///< use this file instead of generating the lecture clip
  std::vector<std::string> spool_args;     ///< appended to `spool transcode SRC OUTDIR`
  std::vector<std::string> baseline_args;  ///< the same for A' (by default spool_args)
  double timeout_s = 0;
  bool ssim = true;
  bool enabled[method_count] = {true, false, true, true};

  bool on(int m) const { return enabled[m]; }
};

struct run_record {
  int run = 0;
  int position = 0;  ///< 1 = the first method of its run
  bool ok = false;
  std::string error;
  double wall_s = 0, user_s = 0, sys_s = 0;
  double rss_max_mb = 0;  ///< the largest single process
  double rss_sum_mb = 0;  ///< summed over concurrent processes
  std::map<std::string, std::int64_t> rung_bytes;
  double load_before = 0;       ///< 1-minute load average when the run started
  boost::json::value reported;  ///< what spool said about itself (its result JSON), if anything

  double cpu_s() const { return user_s + sys_s; }
  double util() const { return wall_s > 0 ? cpu_s() / wall_s : 0; }
};

struct method_state {
  std::vector<std::vector<std::string>> commands;  ///< as run the first time
  std::vector<run_record> runs;
  bool last_run_ok = false;
  std::map<std::string, ssim_score> ssim;  ///< per rung, from the last run's output
};

struct source_info {
  std::string path, note;
  std::optional<double> duration_s;  ///< when generated
  std::int64_t frames = 0;           ///< counted while scoring SSIM
  double generation_s = 0;
};

/// Everything the report is made from.
struct ladder_results {
  options opt;
  machine_info machine;
  std::string load_before, load_after;
  std::string ffmpeg_libraries, ffmpeg_cli, spool_version, baseline_version;
  source_info source;
  std::vector<std::vector<method_id>> orders;  ///< each run's order
  method_state state[method_count];
  double ssim_s = 0;
};

}  // namespace spool_bench
