#pragma once
// The S3 tests' emulators (fauxqs, s3rver) started on 127.0.0.1 through tests/aws/tools/serve.mjs and
// stopped by the pid started; a recording TCP proxy that sees the order of requests and answers; and
// stores and clients pointed at them.
#include <spool/aws/s3.hpp>

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "aws/s3_request.hpp"

namespace s3test {

namespace fs = std::filesystem;
using namespace spool;

inline fs::path tools_dir() { return fs::path(SPOOL_AWS_TOOLS_DIR); }

/// One emulator process, stopped (SIGTERM, then SIGKILL after a grace) when this goes.
class emulator {
 public:
  emulator(const std::string& service, const fs::path& data = {}) {
    if (!fs::exists(tools_dir() / "node_modules" / (service == "s3rver" ? "@20minutes/s3rver" : "fauxqs")))
      throw std::runtime_error("the aws test tools are not installed in " + tools_dir().string() +
                               ": run scripts/install-aws-tools.sh");
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    const std::string script = std::string(SPOOL_SOURCE_DIR) + "/tests/aws/tools/serve.mjs";
    const std::string tools = tools_dir().string(), dir = data.string();
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(out[1], 1);
      std::vector<const char*> argv{"node", script.c_str(), tools.c_str(), service.c_str(), "0"};
      if (!dir.empty()) argv.push_back(dir.c_str());
      argv.push_back(nullptr);
      ::execvp("node", const_cast<char* const*>(argv.data()));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos && std::chrono::steady_clock::now() < until) {
      pollfd p{out[0], POLLIN, 0};
      if (::poll(&p, 1, 200) <= 0) continue;
      char buf[256];
      auto n = ::read(out[0], buf, sizeof buf);
      if (n <= 0) break;
      line.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    if (!line.starts_with("READY ")) {
      stop();
      throw std::runtime_error(service + " did not start (" + line + ")");
    }
    port_ = std::stoi(line.substr(6));
  }
  ~emulator() { stop(); }
  emulator(const emulator&) = delete;
  emulator& operator=(const emulator&) = delete;

  int port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 40; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid_ = -1;
  int port_ = 0;
};

/// moto's server from the machine's Python (python3 -m moto.server), or nothing when moto is missing.
class moto_server {
 public:
  static bool available() { return ::system("python3 -c 'import moto' > /dev/null 2>&1") == 0; }

  moto_server() {
    port_ = free_port();
    const std::string port = std::to_string(port_);
    pid_ = ::fork();
    if (pid_ == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execlp("python3", "python3", "-m", "moto.server", "-H", "127.0.0.1", "-p", port.c_str(), nullptr);
      ::_exit(127);
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until) {
      int st = 0;
      if (::waitpid(pid_, &st, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("moto exited while starting");
      }
      if (accepts()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    stop();
    throw std::runtime_error("moto did not start within 20 s");
  }
  ~moto_server() { stop(); }
  moto_server(const moto_server&) = delete;
  moto_server& operator=(const moto_server&) = delete;
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  static int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
  }
  bool accepts() const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<std::uint16_t>(port_));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 60; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  pid_t pid_ = -1;
  int port_ = 0;
};

/// A loopback TCP proxy that records, in one global order, each request line it forwards and each
/// answer's status line, per connection (the client sends one request at a time per connection).
class recording_proxy {
 public:
  struct event {
    int connection;
    bool request;  ///< a request line ("PUT /b/k"); else an answer's status line
    std::string text;
  };

  explicit recording_proxy(int upstream_port) : upstream_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("the proxy cannot listen");
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  ~recording_proxy() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    ::close(listener_);
    acceptor_.join();
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    for (auto& t : pumps_) t.detach();  // they end on the shutdown; the fds are theirs to close
  }

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<event> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  void accept_loop() {
    int id = 0;
    while (!stopping_) {
      pollfd p{listener_, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      int c = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      int u = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(upstream_));
      if (::connect(u, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(c);
        ::close(u);
        continue;
      }
      std::lock_guard lock(mutex_);
      fds_.push_back(c);
      fds_.push_back(u);
      ++id;
      pumps_.emplace_back([this, c, u, id] { pump(c, u, id, true); });
      pumps_.emplace_back([this, c, u, id] { pump(u, c, id, false); });
    }
  }

  void pump(int from, int to, int id, bool requests) {
    std::string tail;  // unmatched bytes kept between reads, so a line split across reads is seen
    char buf[65536];
    for (;;) {
      auto n = ::read(from, buf, sizeof buf);
      if (n <= 0) break;
      tail.append(buf, static_cast<std::size_t>(n));
      for (std::size_t at = 0;;) {
        auto hit = requests ? find_request(tail, at) : tail.find("HTTP/1.1 ", at);
        if (hit == std::string::npos) break;
        auto eol = tail.find("\r\n", hit);
        if (eol == std::string::npos) break;
        {
          std::lock_guard lock(mutex_);
          events_.push_back({id, requests, tail.substr(hit, eol - hit)});
        }
        at = eol;
        tail.erase(0, at);
        at = 0;
      }
      if (tail.size() > 64) tail.erase(0, tail.size() - 64);
      for (ssize_t off = 0; off < n;) {
        auto w = ::write(to, buf + off, static_cast<std::size_t>(n - off));
        if (w <= 0) return;
        off += w;
      }
    }
    ::shutdown(to, SHUT_WR);
  }

  static std::size_t find_request(const std::string& s, std::size_t at) {
    std::size_t best = std::string::npos;
    for (const char* m : {"PUT /", "POST /", "GET /", "HEAD /", "DELETE /"}) best = std::min(best, s.find(m, at));
    return best;
  }

  int upstream_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  mutable std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> pumps_;
  std::vector<event> events_;
};

/// Always the same credentials (aws::static_credentials, for the tests' own use).
class fixed_credentials final : public spool::aws::credentials_provider {
 public:
  explicit fixed_credentials(spool::aws::credentials c) : c_(std::move(c)) {}
  spool::result<spool::aws::credentials> get() override { return c_; }
  std::string name() const override { return "test"; }

 private:
  spool::aws::credentials c_;
};

inline spool::aws::s3_options options_for(const std::string& endpoint, const std::string& key = "AKIDEXAMPLE",
                                          const std::string& secret = "secret") {
  spool::aws::s3_options o;
  o.region = "us-east-1";
  o.endpoint = endpoint;
  o.path_style = true;
  o.credentials = std::make_shared<fixed_credentials>(spool::aws::credentials{key, secret, "", std::nullopt, "test"});
  return o;
}

/// Bytes that cannot be mistaken for an HTTP line by the recording proxy.
inline std::vector<std::byte> random_bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> out(n);
  for (auto& b : out) b = static_cast<std::byte>(rng() & 0xFF);
  return out;
}

/// Creates `bucket` with a signed request.
inline void create_bucket(spool::aws::s3_client& c, const std::string& bucket) {
  spool::aws::http_request rq;
  rq.method = "PUT";
  rq.url = c.url(bucket, "");
  auto r = c.send(std::move(rq), "create bucket " + bucket);
  if (!r) throw std::runtime_error("cannot create bucket " + bucket + ": " + r.error().what());
}

/// Runs a shell command; its stdout.
inline std::string run(const std::string& cmd, int* status = nullptr) {
  std::string out;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) throw std::runtime_error("popen failed");
  char buf[4096];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int st = ::pclose(p);
  if (status) *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return out;
}

/// Single-quoted for the shell.
inline std::string quoted(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace s3test
