#pragma once
// Test doubles for queue backends (link spool::test):
//  - queue_wrapper forwards every call, its dead-letter store's included, to another backend; derive
//    from it and override the one method a test wants to change.
//  - faulty_queue fails chosen calls of an operation, slows calls down, or withdraws an optional
//    operation as if the backend lacked it; it counts every call.
// spool's own tests use them for what a real backend does only rarely: an ack that fails after the
// package was published, a heartbeat the queue refuses, a backend without a dead-letter store.
#include <spool/queue/adapter.hpp>
#include <spool/version.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

/// The operations of a queue backend, for faulty_queue.
enum class queue_op { send, send_batch, receive, ack, nack, release, extend, stats, dead_letter, list_dead, redrive };
inline constexpr std::size_t queue_op_count = 11;
/// "send", "send_batch", ...
SPOOL_API std::string_view to_string(queue_op op) noexcept;

/// Forwards every call to `inner`. Its dead_letters() is itself (forwarding to the inner store)
/// when the inner backend has a store, else null.
class SPOOL_API queue_wrapper : public queue::queue_adapter, public queue::dead_letter_store {
 public:
  explicit queue_wrapper(std::shared_ptr<queue::queue_adapter> inner);

  queue::queue_adapter& inner() const noexcept { return *inner_; }

  std::string_view type_name() const noexcept override;
  queue::capabilities caps() const noexcept override;
  result<queue::send_result> send(const queue::outgoing_message& m) override;
  result<std::vector<result<queue::send_result>>> send_batch(const std::vector<queue::outgoing_message>& msgs) override;
  result<std::vector<queue::delivery>> receive(const queue::receive_options& options,
                                               const std::atomic<bool>* cancel = nullptr) override;
  error ack(const queue::delivery& d) override;
  error nack(const queue::delivery& d, std::chrono::milliseconds delay) override;
  error release(const queue::delivery& d) override;
  result<queue::clock::time_point> extend(const queue::delivery& d, std::chrono::milliseconds lease) override;
  result<queue::queue_stats> stats() override;
  queue::dead_letter_store* dead_letters() noexcept override;

  error dead_letter(const queue::delivery& d, const std::string& reason, const std::string& last_error_json) override;
  result<queue::dead_letter_page> list_dead(std::string_view after, std::size_t limit) override;
  result<std::size_t> redrive(const std::string& message_id) override;

 protected:
  /// The inner backend's store; callers have checked that there is one.
  queue::dead_letter_store& inner_store() const noexcept { return *inner_->dead_letters(); }

 private:
  std::shared_ptr<queue::queue_adapter> inner_;
};

/// A queue_wrapper that misbehaves on request: fails the Nth call of an operation, adds latency, or
/// withdraws an optional operation. A call failed on purpose never reaches the inner backend.
///
/// @par Thread Safety
/// Every member may be called concurrently with the backend's operations.
class SPOOL_API faulty_queue : public queue_wrapper {
 public:
  explicit faulty_queue(std::shared_ptr<queue::queue_adapter> inner);

  /// The `nth` call of `op` from now on (1: the next one) fails with `e`. An empty message in `e`
  /// is filled in ("ack failed on purpose (faulty_queue, call 3)").
  void fail_nth(queue_op op, int nth, error e);
  /// The next `count` calls of `op` fail with `e`; a negative count: every call from now on.
  void fail_next(queue_op op, int count, error e);
  /// Every call of `op` waits `latency` first (a receive stops waiting when it is cancelled).
  void delay(queue_op op, std::chrono::milliseconds latency);
  /// As a backend without the optional operation `op`: send_batch and stats are no longer declared
  /// in caps() and answer errc::feature_unsupported; release is nack(d, 0) and counts; any of
  /// dead_letter, list_dead and redrive leaves the backend without a dead-letter store.
  void withdraw(queue_op op);
  /// Forgets every planned failure, delay and withdrawal (the counts stay).
  void reset();

  /// Calls of `op` so far, failed ones included.
  int calls(queue_op op) const;
  /// Calls of `op` this object failed on purpose.
  int failures(queue_op op) const;

  std::string_view type_name() const noexcept override { return name_; }
  queue::capabilities caps() const noexcept override;
  result<queue::send_result> send(const queue::outgoing_message& m) override;
  result<std::vector<result<queue::send_result>>> send_batch(const std::vector<queue::outgoing_message>& msgs) override;
  result<std::vector<queue::delivery>> receive(const queue::receive_options& options,
                                               const std::atomic<bool>* cancel = nullptr) override;
  error ack(const queue::delivery& d) override;
  error nack(const queue::delivery& d, std::chrono::milliseconds delay) override;
  error release(const queue::delivery& d) override;
  result<queue::clock::time_point> extend(const queue::delivery& d, std::chrono::milliseconds lease) override;
  result<queue::queue_stats> stats() override;
  queue::dead_letter_store* dead_letters() noexcept override;

  error dead_letter(const queue::delivery& d, const std::string& reason, const std::string& last_error_json) override;
  result<queue::dead_letter_page> list_dead(std::string_view after, std::size_t limit) override;
  result<std::size_t> redrive(const std::string& message_id) override;

 private:
  struct plan {
    int calls = 0, failures = 0;
    std::map<int, error> fail_at;  // call number -> its failure
    int fail_next = 0;             // < 0: every call
    error next_error;
    std::chrono::milliseconds latency{0};
    bool withdrawn = false;
  };

  // Counts a call of `op`, waits out its latency, and says whether it fails.
  error before(queue_op op, const std::atomic<bool>* cancel = nullptr);
  bool withdrawn(queue_op op) const;

  std::string name_;
  mutable std::mutex mutex_;
  std::array<plan, queue_op_count> plans_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
