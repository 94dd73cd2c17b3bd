#include "fauxqs_child.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

namespace spool_bench {

namespace {

using steady = std::chrono::steady_clock;

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

}  // namespace

fauxqs_child::fauxqs_child(const std::filesystem::path& serve_mjs, const std::filesystem::path& tools_dir,
                           const std::filesystem::path& log, double timeout_s) {
  if (!std::filesystem::exists(serve_mjs)) throw std::runtime_error("no " + serve_mjs.string());
  if (!std::filesystem::exists(tools_dir / "node_modules" / "fauxqs"))
    throw std::runtime_error("fauxqs is not installed in " + tools_dir.string() + " (run make aws-tools)");
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args{"node", serve_mjs.string(), tools_dir.string(), "fauxqs", "0"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string log_path = log.string();
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw std::runtime_error("fork failed");
  }
  if (pid_ == 0) {
    // In the benchmark's process group, so a Ctrl-C reaches it too; and gone with the benchmark if
    // that is killed outright.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    const int err = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int null_in = ::open("/dev/null", O_RDONLY);
    if (err >= 0) ::dup2(err, STDERR_FILENO);
    if (null_in >= 0) ::dup2(null_in, STDIN_FILENO);
    ::dup2(out[1], STDOUT_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  std::string got;
  const auto t0 = steady::now();
  while (got.find('\n') == std::string::npos) {
    const double left = timeout_s - seconds_since(t0);
    pollfd p{out[0], POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left * 1000) + 1) <= 0) break;
    char buf[256];
    const auto n = ::read(out[0], buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  ::close(out[0]);
  const auto nl = got.find('\n');
  if (nl == std::string::npos || got.rfind("READY ", 0) != 0) {
    stop();
    throw std::runtime_error("fauxqs did not start within the timeout (see " + log_path + ")");
  }
  endpoint_ = "http://127.0.0.1:" + got.substr(6, nl - 6);
}

fauxqs_child::~fauxqs_child() { stop(); }

void fauxqs_child::stop(double grace_s) {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  const auto t0 = steady::now();
  int status = 0;
  while (::waitpid(pid_, &status, WNOHANG) == 0) {
    if (seconds_since(t0) > grace_s) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  pid_ = -1;
}

}  // namespace spool_bench
