#include "process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>

extern char** environ;

namespace spool_bench {
namespace {

using steady = std::chrono::steady_clock;

double seconds(steady::duration d) { return std::chrono::duration<double>(d).count(); }

double tv_seconds(const timeval& tv) { return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6; }

/// Blocks SIGCHLD, SIGINT and SIGTERM in this thread for its lifetime, so they can be waited for.
class signal_block {
 public:
  signal_block() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGCHLD);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~signal_block() {
    // A SIGCHLD left pending is harmless; a pending SIGINT/SIGTERM is delivered on unblocking.
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  signal_block(const signal_block&) = delete;
  signal_block& operator=(const signal_block&) = delete;
  const sigset_t& set() const { return set_; }

 private:
  sigset_t set_{}, old_{};
};

int spawn(const child_spec& c, pid_t& pid, std::string& error) {
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, c.stdout_path.empty() ? "/dev/null" : c.stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, c.stderr_path.empty() ? "/dev/null" : c.stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGCHLD, SIGINT, SIGTERM, SIGPIPE, SIGHUP}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> argv;
  for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  const int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) error = "cannot start " + c.argv[0] + ": " + std::strerror(rc);
  return rc;
}

}  // namespace

std::vector<child_result> run_children(const std::vector<child_spec>& children, double timeout_s, double& group_wall_s,
                                       bool& interrupted) {
  interrupted = false;
  std::vector<child_result> results(children.size());
  std::vector<pid_t> pids(children.size(), -1);
  std::vector<steady::time_point> ends(children.size());
  signal_block block;

  const auto start = steady::now();
  std::size_t running = 0;
  for (std::size_t i = 0; i < children.size(); ++i) {
    if (children[i].argv.empty()) {
      results[i].error = "empty command";
      continue;
    }
    if (spawn(children[i], pids[i], results[i].error) == 0) {
      results[i].started = true;
      ++running;
    } else {
      pids[i] = -1;
    }
  }

  const auto reap = [&](std::size_t i, int options) {
    int status = 0;
    rusage ru{};
    const pid_t r = wait4(pids[i], &status, options, &ru);
    if (r != pids[i]) return false;
    ends[i] = steady::now();
    auto& res = results[i];
    res.wall_s = seconds(ends[i] - start);
    res.user_s = tv_seconds(ru.ru_utime);
    res.sys_s = tv_seconds(ru.ru_stime);
    res.max_rss_mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
    if (WIFEXITED(status)) {
      res.exit_code = WEXITSTATUS(status);
      if (res.exit_code != 0) res.error = "exited with status " + std::to_string(res.exit_code);
    } else if (WIFSIGNALED(status)) {
      res.term_signal = WTERMSIG(status);
      res.error = std::string("killed by signal ") + strsignal(res.term_signal);
    }
    if (res.timed_out) res.error = "timed out after " + std::to_string(static_cast<long>(timeout_s)) + " s";
    pids[i] = -1;
    --running;
    return true;
  };
  const auto kill_all = [&] {
    for (std::size_t i = 0; i < pids.size(); ++i)
      if (pids[i] > 0) kill(-pids[i], SIGKILL);
  };

  while (running > 0) {
    for (std::size_t i = 0; i < pids.size(); ++i)
      if (pids[i] > 0) reap(i, WNOHANG);
    if (running == 0) break;
    const double left = timeout_s - seconds(steady::now() - start);
    if (left <= 0) {
      for (std::size_t i = 0; i < pids.size(); ++i)
        if (pids[i] > 0) results[i].timed_out = true;
      kill_all();
      for (std::size_t i = 0; i < pids.size(); ++i)
        if (pids[i] > 0) reap(i, 0);
      break;
    }
    // Wake on any child's exit (or after 50 ms regardless, in case another thread took SIGCHLD).
    const double wait_s = std::min(left, 0.05);
    const auto whole = static_cast<time_t>(wait_s);
    const timespec ts{whole, static_cast<long>((wait_s - static_cast<double>(whole)) * 1e9)};
    const int sig = sigtimedwait(&block.set(), nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      interrupted = true;
      kill_all();
      for (std::size_t i = 0; i < pids.size(); ++i)
        if (pids[i] > 0) {
          reap(i, 0);
          results[i].error = "interrupted";
        }
      break;
    }
  }
  group_wall_s = 0;
  for (const auto& r : results) group_wall_s = std::max(group_wall_s, r.wall_s);
  return results;
}

std::string join_command(const std::vector<std::string>& argv) {
  const auto quote = [](const std::string& s) {
    constexpr const char* plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@";
    if (!s.empty() && s.find_first_not_of(plain) == std::string::npos) return s;
    std::string q = "'";
    for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return q + "'";
  };
  std::string line;
  for (const auto& a : argv) line += (line.empty() ? "" : " ") + quote(a);
  return line;
}

std::string capture_output(const std::vector<std::string>& argv, const std::string& scratch_file, double timeout_s,
                           std::size_t max_bytes) {
  child_spec c{argv, scratch_file, {}};
  double wall = 0;
  bool interrupted = false;
  const auto r = run_children({c}, timeout_s, wall, interrupted);
  std::string text;
  if (!r.empty() && r[0].ok()) {
    std::ifstream in(scratch_file, std::ios::binary);
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (text.size() > max_bytes) text.resize(max_bytes);
  }
  std::remove(scratch_file.c_str());
  return text;
}

}  // namespace spool_bench
