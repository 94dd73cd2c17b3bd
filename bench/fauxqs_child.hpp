#pragma once
// fauxqs (SQS and S3, no signature checks) as a child process of the AWS benchmark, on 127.0.0.1:
// started through tests/aws/tools/serve.mjs, which prints "READY <port>" once it listens, and stopped
// by the pid started here.
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace spool_bench {

class fauxqs_child {
 public:
  /// Starts `node SERVE_MJS TOOLS_DIR fauxqs 0`, its stderr into `log`; waits at most `timeout_s` for
  /// READY. Throws std::runtime_error when it does not come up (the child is stopped then).
  fauxqs_child(const std::filesystem::path& serve_mjs, const std::filesystem::path& tools_dir,
               const std::filesystem::path& log, double timeout_s = 20);
  ~fauxqs_child();
  fauxqs_child(const fauxqs_child&) = delete;
  fauxqs_child& operator=(const fauxqs_child&) = delete;

  /// "http://127.0.0.1:PORT".
  const std::string& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }

  /// SIGTERM, then SIGKILL after `grace_s`; reaps it. Safe to call twice.
  void stop(double grace_s = 3);

 private:
  pid_t pid_ = -1;
  std::string endpoint_;
};

}  // namespace spool_bench
