#include "support/child_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX declares it nowhere

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

namespace {

using clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

[[noreturn]] void fail_errno(const std::string& what) {
  throw std::runtime_error(what + ": " + std::generic_category().message(errno));
}

class fd_guard {
 public:
  explicit fd_guard(int fd = -1) noexcept : fd_(fd) {}
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  ~fd_guard() { reset(); }
  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<std::string> child_env(const child_environment& env) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view name = entry.substr(0, entry.find('='));
    const bool removed = std::any_of(env.remove_prefixes.begin(), env.remove_prefixes.end(),
                                     [&](const std::string& p) { return name.starts_with(p); });
    const bool replaced = std::any_of(env.set.begin(), env.set.end(), [&](const auto& kv) { return name == kv.first; });
    if (!removed && !replaced) out.emplace_back(entry);
  }
  for (const auto& [name, value] : env.set) out.push_back(name + "=" + value);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Starts argv in a process group of its own with stdin from /dev/null and stdout/stderr on the given
// descriptors (which are close-on-exec in this process, so no other child inherits them).
pid_t spawn(const std::vector<std::string>& argv, const child_environment& env, int out_fd, int err_fd) {
  if (argv.empty()) throw std::invalid_argument("spawn: empty argv");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD, SIGHUP}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> args = argv;
  std::vector<std::string> envs = child_env(env);
  std::vector<char*> c_args = c_strings(args), c_envs = c_strings(envs);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, c_args[0], &actions, &attr, c_args.data(), c_envs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw std::runtime_error("cannot start '" + join(argv) + "': " + std::generic_category().message(rc));
  return pid;
}

// The child's exit status when it has exited (the zombie stays until reaped), or nothing.
std::optional<int> exited(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid != pid)
    return std::nullopt;
  return info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
}

int decode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// SIGTERM to the group, up to `grace` for the leader to exit, SIGKILL to whatever is left of the
// group (while the leader is an unreaped zombie its id cannot be reused), then reap. Returns the status.
int terminate_group(pid_t pid, std::chrono::milliseconds grace) noexcept {
  ::kill(-pid, SIGTERM);
  const auto deadline = clock::now() + grace;
  while (!exited(pid) && clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ::kill(-pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return decode(status);
}

std::filesystem::path make_log_file(int& fd) {
  std::string name = (std::filesystem::temp_directory_path() / "spool-child-XXXXXX.log").string();
  fd = ::mkostemps(name.data(), 4, O_CLOEXEC);
  if (fd < 0) fail_errno("cannot create a log file for a child process");
  return name;
}

std::string tail_of(const std::filesystem::path& file, std::size_t max_bytes) {
  std::ifstream in(file, std::ios::binary);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > max_bytes ? "..." + all.substr(all.size() - max_bytes) : all;
}

// The port of the first complete "READY <port>" line in `text`.
std::optional<std::uint16_t> ready_port(const std::string& text) {
  std::size_t line = 0;
  for (std::size_t end; (end = text.find('\n', line)) != std::string::npos; line = end + 1) {
    const std::string_view l(text.data() + line, end - line);
    if (!l.starts_with("READY ")) continue;
    unsigned port = 0;
    auto [p, ec] = std::from_chars(l.data() + 6, l.data() + l.size(), port);
    if (ec == std::errc{} && port > 0 && port < 65536) return static_cast<std::uint16_t>(port);
  }
  return std::nullopt;
}

}  // namespace

child_process child_process::start(const std::vector<std::string>& argv, readiness ready,
                                   std::chrono::milliseconds timeout, const child_environment& env) {
  child_process child;
  int log_fd = -1;
  child.log_ = make_log_file(log_fd);
  fd_guard log(log_fd);
  std::array<int, 2> pipe_fds{-1, -1};
  if (!ready.tcp_port && ::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) fail_errno("pipe");
  fd_guard read_end(pipe_fds[0]), write_end(pipe_fds[1]);
  child.pid_ = spawn(argv, env, ready.tcp_port ? log.get() : write_end.get(), log.get());
  write_end.reset();
  child.stdout_fd_ = read_end.release();

  const auto deadline = clock::now() + timeout;
  std::string seen;
  std::optional<int> status;
  for (;;) {
    if (ready.tcp_port && port_open(*ready.tcp_port)) {
      child.port_ = *ready.tcp_port;
      return child;
    }
    if (auto port = ready_port(seen)) {
      child.port_ = *port;
      return child;
    }
    if ((status = exited(child.pid_)) || clock::now() >= deadline) break;
    if (ready.tcp_port) {
      std::this_thread::sleep_for(25ms);
      continue;
    }
    pollfd p{child.stdout_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) > 0) {
      std::array<char, 512> buf{};
      const ssize_t n = ::read(child.stdout_fd_, buf.data(), buf.size());
      if (n > 0) seen.append(buf.data(), static_cast<std::size_t>(n));
      if (n == 0) std::this_thread::sleep_for(10ms);  // stdout closed: the exit check above decides
    }
  }
  const int code = status ? *status : -1;
  child.stop(std::chrono::milliseconds(500));
  const std::string why = status ? "exited with status " + std::to_string(code)
                                 : "was not ready within " + std::to_string(timeout.count()) + " ms";
  throw std::runtime_error("'" + join(argv) + "' " + why + (ready.tcp_port ? "" : " (no READY line)") +
                           "; its output:\n" + seen + child.log_tail());
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdout_fd_(std::exchange(other.stdout_fd_, -1)),
      port_(other.port_),
      log_(std::exchange(other.log_, {})) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    stop();
    std::error_code ec;
    if (!log_.empty()) std::filesystem::remove(log_, ec);
    pid_ = std::exchange(other.pid_, -1);
    stdout_fd_ = std::exchange(other.stdout_fd_, -1);
    port_ = other.port_;
    log_ = std::exchange(other.log_, {});
  }
  return *this;
}

child_process::~child_process() {
  stop();
  std::error_code ec;
  if (!log_.empty()) std::filesystem::remove(log_, ec);
}

void child_process::stop(std::chrono::milliseconds grace) noexcept {
  if (pid_ > 0) terminate_group(pid_, grace);
  pid_ = -1;
  if (stdout_fd_ >= 0) ::close(stdout_fd_);
  stdout_fd_ = -1;
}

std::string child_process::log_tail(std::size_t max_bytes) const {
  return log_.empty() ? std::string() : tail_of(log_, max_bytes);
}

command_result run_command(const std::vector<std::string>& argv, const child_environment& env,
                           std::chrono::milliseconds timeout) {
  std::array<int, 2> out_pipe{-1, -1}, err_pipe{-1, -1};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0) fail_errno("pipe");
  fd_guard out_read(out_pipe[0]), out_write(out_pipe[1]);
  if (::pipe2(err_pipe.data(), O_CLOEXEC) != 0) fail_errno("pipe");
  fd_guard err_read(err_pipe[0]), err_write(err_pipe[1]);
  const pid_t pid = spawn(argv, env, out_write.get(), err_write.get());
  out_write.reset();
  err_write.reset();

  command_result result;
  const auto deadline = clock::now() + timeout;
  std::array<pollfd, 2> fds{pollfd{out_read.get(), POLLIN, 0}, pollfd{err_read.get(), POLLIN, 0}};
  std::array<std::string*, 2> sinks{&result.out, &result.err};
  int open = 2;
  while (open > 0 && clock::now() < deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock::now());
    if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long long>(1, left.count()))) <= 0) continue;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buf{};
      const ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        fds[i].fd = -1;
        --open;
      }
    }
  }
  while (!exited(pid) && clock::now() < deadline) std::this_thread::sleep_for(5ms);
  if (!exited(pid)) {
    terminate_group(pid, 0ms);
    throw std::runtime_error("'" + join(argv) + "' did not finish within " + std::to_string(timeout.count()) +
                             " ms; stderr so far:\n" + result.err);
  }
  // The leader is done; anything it left running in its group goes with it.
  result.exit_status = terminate_group(pid, 0ms);
  return result;
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0 && errno != EPERM) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return false;  // gone since kill()
  const char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

namespace {
sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}
}  // namespace

bool port_open(std::uint16_t port) {
  fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (s.get() < 0) fail_errno("socket");
  const sockaddr_in addr = loopback(port);
  return ::connect(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

std::uint16_t free_loopback_port() {
  fd_guard s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr = loopback(0);
  socklen_t len = sizeof addr;
  if (s.get() < 0 || ::bind(s.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0)
    fail_errno("cannot find a free loopback port");
  return ntohs(addr.sin_port);
}

temp_directory::temp_directory(const std::string& prefix) {
  std::string name = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  if (::mkdtemp(name.data()) == nullptr) fail_errno("cannot create a temporary directory");
  path_ = name;
}

temp_directory& temp_directory::operator=(temp_directory&& other) noexcept {
  if (this != &other) {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

temp_directory::~temp_directory() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
