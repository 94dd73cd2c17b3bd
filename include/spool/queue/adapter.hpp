#pragma once
// The queue adapter: what a backend (mem://, file://, sqs+https://, or an integrator's own) implements.
// Backends only move bytes; retry policy, dead-letter decisions and idempotency of jobs live in the
// core and are the same for every backend.
//
// Contract (checked by spool/queue/conformance.hpp, which every backend runs):
//  - Delivery is at-least-once. A received message is leased: invisible to other receivers until the
//    lease expires, it is acknowledged (removed), negatively acknowledged (visible again after a
//    delay) or extended.
//  - Every delivery carries a fresh receipt (a fencing token). ack, nack and extend with a receipt
//    that is no longer current (the lease expired and the message was delivered again, or it was
//    already acked) fail with errc::lease_lost and never affect the newer delivery.
//  - receive_count counts deliveries, crashed ones included (like SQS ApproximateReceiveCount).
//    release gives a delivery back without counting it, where caps().uncounted_release says so.
//  - A non-empty dedup_key makes send idempotent: sending the same key again returns the first
//    message's id with duplicate = true, for as long as the backend remembers the key: while the
//    message or its dead-letter record exists, and for caps().dedup_window after it was acknowledged
//    (mem:// and file://: 24 hours), so a host retrying a submit after the job finished queues nothing.
//  - send_batch sends several messages as send would, appending one send_result per message, in
//    order. Dedup keys are honoured inside the batch as well as across batches: a key repeated
//    within one batch gives the first message's id with duplicate = true. An empty batch succeeds.
//    Backends that override it and declare caps().atomic_send_batch (mem:// and file://) store all
//    of the batch or none of it: file:// writes the whole batch in one transaction, one durable
//    commit. The default implementation calls send for each message and stops at the first error.
//    Either way, on an error exactly the messages whose results were appended are stored. A batch
//    may be larger than caps().max_batch (which bounds receive); a backend that cannot take it at
//    once may split it, and is then all-or-nothing per part only.
//  - receive returns min(max_messages, visible messages) deliveries when any are visible (it does
//    not stop at one), appended to `out`; it blocks at most options.wait for the first, and returns
//    early (with no messages and no error) when *cancel becomes true.
//  - Timestamps are kept to the millisecond. Leases and delays are measured on a clock that does not
//    step (mem:// and file:// read time_source::since_boot()); the timestamps in a delivery, a
//    dead-letter record and extend's expires_at are wall-clock times, for display.
//  - Limits beyond caps() (a delay, lease or body too large) are errc::invalid_argument and change
//    nothing.
//  - All methods are thread-safe and may block.
#include <spool/error.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace spool::queue {

using clock = std::chrono::system_clock;
using std::chrono::milliseconds;

struct outgoing_message {
  std::string body;       ///< opaque bytes (spool sends a job spec as JSON)
  std::string dedup_key;  ///< idempotency key; empty = none
  milliseconds delay{0};  ///< invisible until now + delay
};

struct send_result {
  std::string message_id;
  bool duplicate = false;  ///< the dedup_key was seen before; message_id is the first message's
};

/// One delivery of a message: a lease on it.
struct delivery {
  std::string message_id;
  std::string body;
  std::string receipt;    ///< names this delivery only (the fencing token)
  int receive_count = 0;  ///< deliveries so far, this one included
  clock::time_point sent_at{}, first_received_at{}, lease_expires_at{};
};

struct receive_options {
  std::size_t max_messages = 1;
  milliseconds wait{0};        ///< long poll: wait up to this long for a first message
  milliseconds lease{60'000};  ///< how long the messages stay invisible
};

struct dead_letter_record {
  std::string message_id;
  std::string body;
  std::string reason;           ///< why it was dead-lettered, in words
  std::string last_error_json;  ///< {"code","category","message"} of the last failure, or empty
  int receive_count = 0;
  clock::time_point sent_at{}, dead_at{};
};

struct queue_stats {
  std::int64_t visible = 0;    ///< ready to be received
  std::int64_t in_flight = 0;  ///< leased
  std::int64_t delayed = 0;    ///< sent or nacked with a delay not yet passed
  std::int64_t dead = 0;       ///< in the dead-letter store
  double oldest_age_s = 0;     ///< age of the oldest message not yet acked (visible, leased or delayed)
};

/// What a backend can do; the conformance suite skips what a backend declares it cannot.
struct capabilities {
  std::size_t max_batch = 10;
  std::size_t max_message_bytes = 1 << 20;
  milliseconds max_delay{15 * 60 * 1000};
  milliseconds max_lease{12 * 3600 * 1000};
  bool fencing = true;           ///< stale receipts are rejected (SQS itself cannot promise this)
  bool dedup = true;             ///< dedup_key is honoured
  milliseconds dedup_window{0};  ///< how long a key is still honoured after its message was acknowledged
  bool durable = false;          ///< survives the process (and a crash) once send returns
  bool shared_between_processes = false;
  bool atomic_send_batch = false;  ///< send_batch stores the whole batch or none of it
  /// release() gives a delivery back without counting it: the next delivery has the same
  /// receive_count as the released one. Without it release() is nack(d, 0) and counts (SQS cannot
  /// lower ApproximateReceiveCount).
  bool uncounted_release = false;
};

class queue_adapter {
 public:
  virtual ~queue_adapter() = default;

  virtual capabilities caps() const noexcept = 0;
  virtual error_code send(const outgoing_message& m, send_result& out) = 0;
  /// Sends `msgs` in order, appending one result per message to `out`. This default sends one at a
  /// time (not atomic, one commit each); backends override it to store a batch at once.
  virtual error_code send_batch(const std::vector<outgoing_message>& msgs, std::vector<send_result>& out) {
    for (const auto& m : msgs) {
      send_result r;
      if (auto ec = send(m, r)) return ec;
      out.push_back(std::move(r));
    }
    return {};
  }
  /// Appends up to options.max_messages deliveries to `out`.
  virtual error_code receive(const receive_options& options, std::vector<delivery>& out,
                             const std::atomic<bool>* cancel = nullptr) = 0;
  /// Removes the message. errc::lease_lost if d.receipt is not the current delivery.
  virtual error_code ack(const delivery& d) = 0;
  /// Ends the lease; the message is visible again after `delay`.
  virtual error_code nack(const delivery& d, milliseconds delay) = 0;
  /// Gives the delivery back, visible again at once, without counting it as an attempt: for work
  /// stopped by a shutdown (drain, stop), never for a failure. errc::lease_lost if d.receipt is not
  /// the current delivery. This default is nack(d, 0), which counts the delivery; backends that can
  /// undo the count override it and declare caps().uncounted_release.
  virtual error_code release(const delivery& d) { return nack(d, milliseconds(0)); }
  /// Moves the lease's expiry to now + lease.
  virtual error_code extend(const delivery& d, milliseconds lease, clock::time_point& expires_at) = 0;
  /// Moves the delivered message to the dead-letter store.
  virtual error_code dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) = 0;
  virtual error_code list_dead(std::vector<dead_letter_record>& out) = 0;
  /// Makes dead messages visible again with a fresh receive count: one by id, or all when id is empty.
  virtual error_code redrive(const std::string& message_id, std::size_t& moved) = 0;
  virtual error_code stats(queue_stats& out) = 0;
};

}  // namespace spool::queue
