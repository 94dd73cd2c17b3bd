#pragma once
// Runs child processes concurrently and measures them: wall time on the steady clock, CPU time and
// peak RSS from wait4()'s rusage. Every group has a timeout after which its children are killed.
#include <string>
#include <vector>

namespace spool_bench {

struct child_spec {
  std::vector<std::string> argv;  ///< argv[0] is looked up in PATH when it has no slash
  std::string stdout_path;        ///< empty: /dev/null
  std::string stderr_path;        ///< empty: /dev/null
};

struct child_result {
  bool started = false;
  int exit_code = -1;      ///< when it exited normally
  int term_signal = 0;     ///< when a signal ended it
  bool timed_out = false;  ///< killed by us after the timeout
  double wall_s = 0;       ///< from spawn to reaping
  double user_s = 0, sys_s = 0;
  double max_rss_mb = 0;  ///< ru_maxrss
  std::string error;      ///< spawn failure, or how it ended when not with status 0

  bool ok() const { return started && !timed_out && term_signal == 0 && exit_code == 0; }
};

/// Starts all children at once (each in its own process group, stdin from /dev/null) and waits
/// for all of them. `group_wall_s` is from the first spawn to the last exit. After `timeout_s`,
/// the remaining children's process groups get SIGKILL. A SIGINT or SIGTERM to this process while
/// waiting kills the children too and sets `interrupted`.
std::vector<child_result> run_children(const std::vector<child_spec>& children, double timeout_s, double& group_wall_s,
                                       bool& interrupted);

/// `argv` as one shell command line, each argument quoted when the shell would split or expand it.
std::string join_command(const std::vector<std::string>& argv);

/// Runs one short command and returns its stdout (at most `max_bytes`); empty on any failure.
std::string capture_output(const std::vector<std::string>& argv, const std::string& scratch_file, double timeout_s = 20,
                           std::size_t max_bytes = 64 * 1024);

}  // namespace spool_bench
