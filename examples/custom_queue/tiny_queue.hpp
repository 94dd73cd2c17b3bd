#pragma once
// tiny://name: a queue backend written against spool's adapter interface from scratch, in memory.
// It implements what every backend must (send, receive, ack, nack, extend) and one optional
// operation, stats, which it declares in caps(). It has no batch send, no dead-letter store and no
// deduplication, and says so: spool's core and its conformance suite work around what is missing.
#include <spool/queue/adapter.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace tiny {

namespace q = spool::queue;

class tiny_queue final : public q::queue_adapter {
 public:
  std::string_view type_name() const noexcept override { return "tiny"; }
  q::capabilities caps() const noexcept override;

  spool::result<q::send_result> send(const q::outgoing_message& m) override;
  spool::result<std::vector<q::delivery>> receive(const q::receive_options& options,
                                                  const std::atomic<bool>* cancel = nullptr) override;
  spool::error ack(const q::delivery& d) override;
  spool::error nack(const q::delivery& d, std::chrono::milliseconds delay) override;
  spool::result<q::clock::time_point> extend(const q::delivery& d, std::chrono::milliseconds lease) override;

  spool::result<q::queue_stats> stats() override;

 private:
  using steady = std::chrono::steady_clock;  // leases and delays: a clock that never steps

  struct message {
    std::string id, body;
    std::string receipt;  // the current delivery's; empty when not leased
    int receive_count = 0;
    q::clock::time_point sent_at{}, first_received_at{};  // wall clock, for display
    steady::time_point sent{}, visible_at{};              // leased: visible_at is the lease's end
  };

  // The message `d` is the current delivery of, or messages_.end().
  std::map<std::uint64_t, message>::iterator current(const q::delivery& d);
  spool::error over_limit(const char* what, std::chrono::milliseconds got, std::chrono::milliseconds most) const;

  std::mutex mutex_;
  std::condition_variable changed_;            // a send or a nack: a waiting receive looks again
  std::map<std::uint64_t, message> messages_;  // by send order
  std::map<std::string, std::uint64_t> by_id_;
  std::uint64_t next_ = 0;  // numbers messages and receipts alike
};

}  // namespace tiny
