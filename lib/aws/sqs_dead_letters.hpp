#pragma once
// Internal: the dead-letter store of an SQS queue — a second SQS queue (the RedrivePolicy's target, or
// one configured). dead_letter sends there and then deletes from the main queue (two calls: not
// atomic); list_dead reads without consuming, holding the messages for a moment and releasing them;
// redrive sends them back (or asks SQS for a message move task).
#include <spool/queue/adapter.hpp>

#include <atomic>
#include <compare>
#include <optional>
#include <string>
#include <vector>

#include "aws/sqs_protocol.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {

class sqs_queue;

class dead_letters final : public queue::dead_letter_store {
 public:
  explicit dead_letters(sqs_queue& owner) : owner_(owner) {}

  error dead_letter(const queue::delivery& d, const std::string& reason, const std::string& last_error_json) override;
  result<queue::dead_letter_page> list_dead(std::string_view after, std::size_t limit) override;
  result<std::size_t> redrive(const std::string& message_id) override;

 private:
  /// Receives every dead letter (up to the scan limit), holding them invisible until released.
  result<std::vector<message>> scan();
  error release(const std::vector<message>& held);
  /// StartMessageMoveTask back to the main queue: how many it will move, or nothing when the service
  /// has no move tasks.
  result<std::optional<std::size_t>> move_task();

  sqs_queue& owner_;
  std::atomic<bool> no_move_task_{false};
};

/// Where a dead letter sorts: its dead_at in µs, then spool's message id.
struct dead_position {
  long long dead_at_us = 0;
  std::string message_id;
  auto operator<=>(const dead_position&) const = default;
};
dead_position position_of(const message& m);
queue::dead_letter_record record_of(const message& m);
/// "<µs>/<id>", and back (false when `text` is not one).
std::string to_string(const dead_position& p);
bool parse_position(std::string_view text, dead_position& out);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
