#pragma once
// Internal: the SQS queue adapter (type "sqs") and what its dead-letter store shares with it.
#include <spool/queue/adapter.hpp>

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "aws/sqs_connection.hpp"
#include "aws/sqs_protocol.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs {

using queue::clock;
using std::chrono::milliseconds;

/// One SQS queue: its URL exactly as SQS gave it, and its attributes.
struct queue_info {
  std::string url;
  std::string arn;
  bool fifo = false;
  std::size_t max_message_bytes = std::size_t{256} * 1024;  // SQS's default MaximumMessageSize
};

// The message attributes spool adds. A message keeps spool's id across a dead-letter move and a
// redrive (both are new SQS messages); the rest describe a dead letter.
inline constexpr const char* attr_id = "spool.id";
inline constexpr const char* attr_sent_at = "spool.sent_at";  // ms since the epoch
inline constexpr const char* attr_reason = "spool.reason";
inline constexpr const char* attr_error = "spool.error";
inline constexpr const char* attr_receive_count = "spool.receive_count";
inline constexpr const char* attr_dead_at = "spool.dead_at";  // µs since the epoch: orders the dead letters

struct queue_config {
  std::shared_ptr<connection> conn;
  queue_info main;
  std::optional<queue_info> dead;
  std::string group_id;
  std::chrono::seconds poll_wait{20};
  bool use_move_task = true;
  std::size_t max_dead_letter_scan = 1000;
};

class dead_letters;

class sqs_queue final : public queue::queue_adapter {
 public:
  explicit sqs_queue(queue_config config);
  ~sqs_queue() override;
  sqs_queue(const sqs_queue&) = delete;
  sqs_queue& operator=(const sqs_queue&) = delete;

  std::string_view type_name() const noexcept override { return "sqs"; }
  queue::capabilities caps() const noexcept override;
  result<queue::send_result> send(const queue::outgoing_message& m) override;
  result<std::vector<queue::delivery>> receive(const queue::receive_options& options,
                                               const std::atomic<bool>* cancel) override;
  error ack(const queue::delivery& d) override;
  error nack(const queue::delivery& d, milliseconds delay) override;
  result<clock::time_point> extend(const queue::delivery& d, milliseconds lease) override;
  result<std::vector<result<queue::send_result>>> send_batch(const std::vector<queue::outgoing_message>& msgs) override;
  result<queue::queue_stats> stats() override;
  queue::dead_letter_store* dead_letters() noexcept override;

  /// ChangeMessageVisibilityBatch, 10 receipts a call; one answer per delivery.
  std::vector<result<clock::time_point>> extend_batch(const std::vector<queue::delivery>& ds,
                                                      milliseconds lease) override;

  // Shared with the dead-letter store.
  const queue_config& config() const noexcept { return config_; }
  /// Sends one message to `q`; its MessageId.
  result<std::string> send_to(const queue_info& q, const outgoing& m, const std::string& what);
  /// Receives from `q` (no waiting beyond wait_s).
  result<std::vector<message>> receive_from(const queue_info& q, std::size_t max, std::int64_t wait_s,
                                            std::int64_t visibility_s, const io::interrupt_check& interrupt = {});
  error delete_from(const queue_info& q, const std::string& receipt, const std::string& what);
  /// Sets the visibility of many receipts of `q` (batched); the first failure, if any.
  error set_visibility(const queue_info& q, const std::vector<std::string>& receipts, std::int64_t visibility_s);
  /// A FIFO queue's MessageGroupId for a message.
  std::string group_for(const std::string& seed) const;

 private:
  error check_outgoing(const queue::outgoing_message& m) const;
  outgoing to_outgoing(const queue::outgoing_message& m) const;
  /// A FIFO send of `key` remembered within SQS's dedup window: its message id.
  std::optional<std::string> remembered(const std::string& key);
  /// Remembers the id SQS gave `key`; true when it is the id of an earlier send (a duplicate).
  bool remember(const std::string& key, const std::string& id);
  void note_delayed(const std::string& id, milliseconds delay);
  void forget_delayed(const std::string& id);

  queue_config config_;
  std::unique_ptr<class dead_letters> dead_;
  std::mutex mutex_;
  std::map<std::string, std::pair<std::string, std::chrono::steady_clock::time_point>> dedup_;  // key -> id, sent
  std::map<std::string, std::chrono::steady_clock::time_point> delayed_;  // nacked with a delay -> visible again
};

/// Room kept in every message for spool's attributes (a dead letter's reason and error included).
inline constexpr std::size_t attribute_room = 2048;
/// The largest body a queue with this MaximumMessageSize takes, whatever its bytes (binary bodies
/// travel as base64).
std::size_t body_limit(std::size_t max_message_bytes) noexcept;

/// The delivery of a received message, leased until `lease_end`.
queue::delivery to_delivery(const message& m, clock::time_point lease_end);
/// An integer attribute (system or spool's), or `fallback`.
long long number_attr(const std::map<std::string, std::string, std::less<>>& attrs, std::string_view name,
                      long long fallback = 0);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws::sqs
