#pragma once
// A loopback HTTP proxy for the aws tests: it forwards each request unchanged (Host included, so
// signatures still verify) to an upstream emulator, unless the script of faults says otherwise for
// that request: an SQS or S3 throttling answer, a 500, a TCP reset, a delay. None of the emulators
// can misbehave on request; this is how the retry paths meet realistic failures. Runs on its own
// thread, bound to 127.0.0.1 on a kernel-chosen port, until destroyed.
#include <spool/version.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

struct fault {
  enum class kind {
    forward,              ///< no fault: pass the request on (after `delay`, if any)
    answer,               ///< answer with `status`, `content_type` and `body` instead of forwarding
    reset,                ///< read the request, then reset the connection (RST: SO_LINGER 0)
    reset_after_forward,  ///< forward the request, then reset instead of answering (the call took effect)
    cut_answer,           ///< forward, send the answer's head and half its body, then close
  };
  kind what = kind::forward;
  std::chrono::milliseconds delay{0};  ///< waited before acting
  int status = 0;
  std::string content_type, body;

  /// SQS (JSON 1.0): 400 {"__type":"com.amazonaws.sqs#ThrottlingException"}.
  static fault sqs_throttling();
  /// S3: 503 <Error><Code>SlowDown</Code>...
  static fault s3_slow_down();
  /// 500 with an S3-style InternalError body.
  static fault internal_error();
  static fault connection_reset();
  static fault reset_after_forwarding();
  /// A connection lost while the answer's body arrives.
  static fault cut_answer();
  /// Forwards after `d` (a slow answer).
  static fault delayed(std::chrono::milliseconds d);
};

class fault_proxy {
 public:
  /// Starts forwarding to `upstream` ("http://HOST:PORT", plain HTTP). Throws std::runtime_error.
  explicit fault_proxy(const std::string& upstream);
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  std::uint16_t port() const noexcept;
  /// "http://127.0.0.1:PORT".
  std::string endpoint() const;

  /// Appends faults for the next requests, one each, in arrival order; requests beyond the script are
  /// forwarded.
  void script(const std::vector<fault>& faults);
  /// Faults for the next requests whose line (as seen() gives it) contains `match`, one each; they
  /// come before the general script. Concurrent clients reach a given object whatever the order.
  void script_for(const std::string& match, const std::vector<fault>& faults);
  /// Faults scripted but not yet used.
  std::size_t pending() const;

  int requests() const noexcept;   ///< requests read
  int forwarded() const noexcept;  ///< requests passed upstream (including reset_after_forward)
  /// Each request as "METHOD target", with " X-Amz-Target" appended when it has one, in arrival order.
  std::vector<std::string> seen() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
