#pragma once
// The queue adapter: what a backend (mem://, file://, sqs+https://, or an integrator's own) implements.
// Backends only move bytes; retry policy, dead-letter decisions and idempotency of jobs live in the
// core and are the same for every backend. docs/writing-a-queue-backend.md builds one from scratch.
//
// What a backend must write: type_name(), caps() and five operations, send, receive, ack, nack and
// extend. Everything else is optional and declared, never guessed:
//  - extend_batch extends one delivery at a time unless the backend overrides it (caps().extend_batch);
//  - send_batch and stats answer errc::feature_unsupported (naming the operation and the backend)
//    unless the backend overrides them and declares caps().send_batch / caps().stats;
//  - release gives a delivery back with nack(d, 0), which counts it, unless the backend overrides it
//    and declares caps().uncounted_release (the worker calls release on every shutdown, so the
//    default must work);
//  - the dead-letter store (dead_letter, list_dead, redrive) is its own small interface, reached
//    through dead_letters(), which is null when the backend has none.
//
// Contract (checked by the conformance suite in spool/test/queue_conformance.hpp, which every
// backend runs):
//  - Delivery is at-least-once. A received message is leased: invisible to other receivers until the
//    lease expires, it is acknowledged (removed), negatively acknowledged (visible again after a
//    delay) or extended.
//  - Every delivery carries a fresh receipt (a fencing token). ack, nack, release, extend and
//    dead_letter with a receipt that is no longer current (the lease expired and the message was
//    delivered again, or it was already acked) fail with errc::lease_lost and never affect the newer
//    delivery (where caps().fencing says so).
//  - receive_count counts deliveries, crashed ones included (like SQS ApproximateReceiveCount).
//  - A non-empty dedup_key makes send idempotent: sending the same key again returns the first
//    message's id with duplicate = true, for as long as the backend remembers the key: while the
//    message or its dead-letter record exists, and for caps().dedup_window after it was acknowledged
//    (mem:// and file://: 24 hours), so a host retrying a submit after the job finished queues nothing.
//  - send_batch answers one entry per message, in order: its send_result, or why that message was
//    not stored. An error for the whole call means none was stored. Dedup keys count within the
//    batch as well as across batches: a key repeated within one batch gives the first message's id
//    with duplicate = true. An empty batch succeeds. With caps().atomic_send_batch (mem:// and
//    file://) the backend stores all of a batch or none of it, so no entry ever fails alone; file://
//    writes a batch in one transaction, one durable commit.
//  - receive returns min(max_messages, visible messages) deliveries when any are visible (it does
//    not stop at one); it blocks at most options.wait for the first, and returns early (with no
//    messages and no error) when *cancel becomes true.
//  - Timestamps are kept to the millisecond. Leases and delays are measured on a clock that does not
//    step (mem:// and file:// read time_source::since_boot()); the timestamps in a delivery, a
//    dead-letter record and extend's expiry are wall-clock times, for display.
//  - Limits beyond caps() (a delay, lease or body too large) are errc::invalid_argument, with the
//    limit in the message, and change nothing.
//
// Blocking, on purpose. Every method returns when its work is done (receive: at most options.wait
// later) and may be called from any number of threads at once. That is the easiest interface to
// implement over whatever a backend talks to (an SQL client, files, an HTTP client used
// synchronously), and nobody above has to pay for it: basic_job_queue runs these calls on threads
// of its own, never on the host's io_context, and the worker on its own threads.
//
// Errors. Every failure is a spool::error, a code the core acts on and a message in words that
// reaches the host unchanged ("/var/q.db: database or disk is full"). An exception that escapes a
// method (std::bad_alloc) is taken by the callers as an internal error.
#include <spool/error.hpp>
#include <spool/version.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

using clock = std::chrono::system_clock;
using std::chrono::milliseconds;

struct SPOOL_API outgoing_message {
  std::string body;       ///< opaque bytes (spool sends a job spec as JSON)
  std::string dedup_key;  ///< idempotency key; empty = none
  milliseconds delay{0};  ///< invisible until now + delay
};

struct SPOOL_API send_result {
  std::string message_id;
  bool duplicate = false;  ///< the dedup_key was seen before; message_id is the first message's
};

/// One delivery of a message: a lease on it.
struct SPOOL_API delivery {
  std::string message_id;
  std::string body;
  std::string receipt;    ///< names this delivery only (the fencing token)
  int receive_count = 0;  ///< deliveries so far, this one included
  clock::time_point sent_at{}, first_received_at{}, lease_expires_at{};
};

struct SPOOL_API receive_options {
  std::size_t max_messages = 1;
  milliseconds wait{0};        ///< long poll: wait up to this long for a first message
  milliseconds lease{60'000};  ///< how long the messages stay invisible
};

struct SPOOL_API dead_letter_record {
  std::string message_id;
  std::string body;
  std::string reason;           ///< why it was dead-lettered, in words
  std::string last_error_json;  ///< {"code","category","message"} of the last failure, or empty
  int receive_count = 0;
  clock::time_point sent_at{}, dead_at{};
};

/// One page of the dead-letter store.
struct SPOOL_API dead_letter_page {
  std::vector<dead_letter_record> records;  ///< in the order they were dead-lettered
  std::string next;                         ///< `after` for the following page; empty when none follows
};

struct SPOOL_API queue_stats {
  std::int64_t visible = 0;    ///< ready to be received
  std::int64_t in_flight = 0;  ///< leased
  std::int64_t delayed = 0;    ///< sent or nacked with a delay not yet passed
  std::int64_t dead = 0;       ///< in the dead-letter store
  double oldest_age_s = 0;     ///< age of the oldest message not yet acked (visible, leased or delayed)
};

/// What a backend can do. The conformance suite skips what a backend declares it cannot do, and
/// checks that an operation it does not declare answers errc::feature_unsupported.
struct SPOOL_API capabilities {
  std::size_t max_batch = 10;  ///< most deliveries one receive returns
  std::size_t max_message_bytes = 1 << 20;
  milliseconds max_delay{15 * 60 * 1000};
  milliseconds max_lease{12 * 3600 * 1000};
  bool fencing = true;           ///< stale receipts are rejected (SQS itself cannot promise this)
  bool dedup = true;             ///< dedup_key is honoured
  milliseconds dedup_window{0};  ///< how long a key is still honoured after its message was acknowledged
  bool durable = false;          ///< survives the process (and a crash) once send returns
  bool shared_between_processes = false;
  // Optional operations.
  bool send_batch = false;         ///< send_batch is implemented
  bool atomic_send_batch = false;  ///< send_batch stores the whole batch or none of it
  bool stats = false;              ///< stats is implemented
  bool extend_batch = false;       ///< extend_batch renews many leases in one call
  /// release() gives a delivery back without counting it: the next delivery has the same
  /// receive_count as the released one. Without it release() is nack(d, 0) and counts (SQS cannot
  /// lower ApproximateReceiveCount).
  bool uncounted_release = false;
};

/// Where messages go that will not be retried. Optional: a backend that has one returns it from
/// queue_adapter::dead_letters(); it lives as long as the adapter. Thread-safe and blocking, like
/// the adapter.
class SPOOL_API dead_letter_store {
 public:
  /// Moves the delivered message here. errc::lease_lost if d.receipt is not the current delivery.
  virtual error dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) = 0;
  /// Up to `limit` records (a backend may give fewer), in the order they were dead-lettered,
  /// starting after the position `after` names (empty: from the first). Records are never all
  /// loaded at once. A malformed `after` or a zero limit is errc::invalid_argument.
  virtual result<dead_letter_page> list_dead(std::string_view after, std::size_t limit) = 0;
  /// Makes dead messages visible again with a fresh receive count: one by id, or all when id is
  /// empty. Returns how many moved; an unknown id moves none and is not an error.
  virtual result<std::size_t> redrive(const std::string& message_id) = 0;

 protected:
  ~dead_letter_store() = default;
};

class SPOOL_API queue_adapter {
 public:
  virtual ~queue_adapter() = default;

  // ---- required ----

  /// The backend's name in messages: "mem", "file", "redis".
  virtual std::string_view type_name() const noexcept = 0;
  virtual capabilities caps() const noexcept = 0;
  virtual result<send_result> send(const outgoing_message& m) = 0;
  /// Leases up to options.max_messages visible messages, waiting up to options.wait for the first.
  virtual result<std::vector<delivery>> receive(const receive_options& options,
                                                const std::atomic<bool>* cancel = nullptr) = 0;
  /// Removes the message. errc::lease_lost if d.receipt is not the current delivery.
  virtual error ack(const delivery& d) = 0;
  /// Ends the lease; the message is visible again after `delay`.
  virtual error nack(const delivery& d, milliseconds delay) = 0;
  /// Moves the lease's expiry to now + lease; returns the new expiry (wall clock).
  virtual result<clock::time_point> extend(const delivery& d, milliseconds lease) = 0;

  // ---- optional ----

  /// Sends several messages in one call (caps().send_batch). spool::queue::submit_batch sends one
  /// at a time when a backend has no batch send.
  virtual result<std::vector<result<send_result>>> send_batch(const std::vector<outgoing_message>& msgs) {
    (void)msgs;
    return unsupported("send_batch");
  }
  /// Gives the delivery back, visible again at once, for work stopped by a shutdown (drain, stop),
  /// never for a failure. errc::lease_lost if d.receipt is not the current delivery. This default is
  /// nack(d, 0), which counts the delivery; backends that can undo the count override it and
  /// declare caps().uncounted_release.
  virtual error release(const delivery& d) { return nack(d, milliseconds(0)); }
  /// Extends several leases at once, one answer per delivery in order (each as extend() answers).
  /// The worker renews every lease it holds through this; the default extends one at a time, and a
  /// backend with a batch call (SQS's ChangeMessageVisibilityBatch) overrides it and declares
  /// caps().extend_batch.
  virtual std::vector<result<clock::time_point>> extend_batch(const std::vector<delivery>& deliveries,
                                                              milliseconds lease) {
    std::vector<result<clock::time_point>> out;
    out.reserve(deliveries.size());
    for (const auto& d : deliveries) out.push_back(extend(d, lease));
    return out;
  }
  /// Counts the queue's messages (caps().stats).
  virtual result<queue_stats> stats() { return unsupported("stats"); }
  /// The dead-letter store, or null when the backend has none.
  virtual dead_letter_store* dead_letters() noexcept { return nullptr; }

 protected:
  /// errc::feature_unsupported, naming `operation` and this backend.
  error unsupported(std::string_view operation) const {
    return {errc::feature_unsupported,
            std::string(operation) + " is not supported by the " + std::string(type_name()) + " queue backend"};
  }
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
