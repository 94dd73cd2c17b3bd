#pragma once
// For the S3 tests: a recording TCP proxy that sees the order of requests and answers; and
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
#include "support/services.hpp"

namespace s3test {

namespace fs = std::filesystem;
using namespace spool;

using spool::test::aws::fauxqs_service;
using spool::test::aws::s3rver_service;
using spool::test::aws::start_moto_or_skip;

/// The port of "http://127.0.0.1:PORT".
inline int port_of(const std::string& endpoint) { return std::stoi(endpoint.substr(endpoint.rfind(':') + 1)); }

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

inline spool::aws::s3_options options_for(const std::string& endpoint, const std::string& key = "AKIDEXAMPLE",
                                          const std::string& secret = "secret") {
  spool::aws::s3_options o;
  o.region = "us-east-1";
  o.endpoint = endpoint;
  o.path_style = true;
  o.credentials = spool::aws::static_credentials({key, secret, "", std::nullopt, "test"});
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
