#pragma once
// Processes the aws tests start (emulators, the AWS CLI, botocore), stopped by the pid the test
// started. Each child leads its own process group, so a wrapper (a pyenv shim, `sh -c`) and whatever
// it started go together. Every wait has a timeout.
#include <spool/version.hpp>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

/// Environment changes for a child: each pair sets NAME=VALUE; a variable whose name starts with a
/// removed prefix is left out (unless set again here).
struct child_environment {
  std::vector<std::pair<std::string, std::string>> set;
  std::vector<std::string> remove_prefixes;
};

/// How a started service says it is ready.
struct readiness {
  /// Waits for a line "READY <port>" on the child's stdout; the port is the child's to choose.
  static readiness ready_line() { return {}; }
  /// Waits until a TCP connection to 127.0.0.1:`port` succeeds (for servers that print nothing).
  static readiness listening_on(std::uint16_t port) { return readiness{port}; }
  std::optional<std::uint16_t> tcp_port;
};

/// A long-running child process (a server). The destructor sends SIGTERM to its process group, waits
/// up to three seconds for it to exit, then SIGKILLs the group, and reaps the child: nothing is left
/// behind even when a test throws.
class child_process {
 public:
  /// Starts `argv` (argv[0] looked up on PATH) and waits for it to be ready. The child's stderr (and
  /// stdout when waiting for a TCP port) goes to a log file, quoted when it fails to start. Throws
  /// std::runtime_error when it exits, or is not ready within `timeout` (then it is stopped first).
  static child_process start(const std::vector<std::string>& argv, readiness ready,
                             std::chrono::milliseconds timeout = std::chrono::seconds(20),
                             const child_environment& env = {});

  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  pid_t pid() const noexcept { return pid_; }
  /// The port from the READY line, or the port waited for.
  std::uint16_t port() const noexcept { return port_; }
  /// The last `max_bytes` of what the child wrote to its log.
  std::string log_tail(std::size_t max_bytes = 4096) const;
  /// Stops the process group (SIGTERM, then SIGKILL after `grace`) and reaps the child; idempotent.
  void stop(std::chrono::milliseconds grace = std::chrono::seconds(3)) noexcept;

 private:
  child_process() = default;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;  // kept open while the child runs: a late write must not raise SIGPIPE there
  std::uint16_t port_ = 0;
  std::filesystem::path log_;
};

/// What a short command did.
struct command_result {
  int exit_status = -1;  ///< the exit code, or 128 + signal
  std::string out;
  std::string err;
};

/// Runs `argv` to completion and collects its output. Throws std::runtime_error when it cannot be
/// started or outlives `timeout` (it is killed first).
command_result run_command(const std::vector<std::string>& argv, const child_environment& env = {},
                           std::chrono::milliseconds timeout = std::chrono::seconds(60));

/// True while `pid` names a process that has not exited (a zombie counts as exited).
bool process_alive(pid_t pid);

/// True when something accepts TCP connections on 127.0.0.1:`port`.
bool port_open(std::uint16_t port);

/// A port that was free on 127.0.0.1 a moment ago, for servers that cannot be told to pick one.
std::uint16_t free_loopback_port();

/// A fresh directory under the system's temporary directory, removed with everything in it.
class temp_directory {
 public:
  explicit temp_directory(const std::string& prefix);
  temp_directory(temp_directory&& other) noexcept : path_(std::exchange(other.path_, {})) {}
  temp_directory& operator=(temp_directory&& other) noexcept;
  temp_directory(const temp_directory&) = delete;
  temp_directory& operator=(const temp_directory&) = delete;
  ~temp_directory();
  const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
