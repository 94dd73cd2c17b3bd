#pragma once
// postgresql://...?queue=NAME: a spool queue backend on PostgreSQL, through libpq.
//
// A message is a row; receiving takes the visible rows with SELECT ... FOR UPDATE SKIP LOCKED (so
// concurrent receivers never wait on, or take, each other's rows) and leases them by moving their
// visible_at past the lease. Every delivery gets a fresh receipt from a sequence; ack, nack, extend
// and dead_letter act only on the row whose receipt is still that one. Dead letters move to a table
// of their own, and a dedup table remembers idempotency keys. Every time that decides anything is the
// server's (statement_timestamp()), so workers on many machines agree whatever their own clocks say.
// docs/adapters.md walks through it.
#include <spool/queue/adapter.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pg_connection.hpp"
#include "pg_uri.hpp"

namespace pgq {

class pg_queue final : public q::queue_adapter, public q::dead_letter_store {
 public:
  /// Connects once (so a wrong address fails here, not at the first send) and creates the tables if
  /// they are missing.
  static spool::result<std::shared_ptr<pg_queue>> open(const queue_address& address);

  std::string_view type_name() const noexcept override { return "postgresql"; }
  q::capabilities caps() const noexcept override;

  spool::result<q::send_result> send(const q::outgoing_message& m) override;
  spool::result<std::vector<spool::result<q::send_result>>> send_batch(
      const std::vector<q::outgoing_message>& msgs) override;
  spool::result<std::vector<q::delivery>> receive(const q::receive_options& options,
                                                  const std::atomic<bool>* cancel = nullptr) override;
  spool::error ack(const q::delivery& d) override;
  spool::error nack(const q::delivery& d, milliseconds delay) override;
  spool::error release(const q::delivery& d) override;
  spool::result<q::clock::time_point> extend(const q::delivery& d, milliseconds lease) override;
  std::vector<spool::result<q::clock::time_point>> extend_batch(const std::vector<q::delivery>& deliveries,
                                                                milliseconds lease) override;
  spool::result<q::queue_stats> stats() override;
  q::dead_letter_store* dead_letters() noexcept override { return this; }

  // The dead-letter store (pg_dead_letters.cpp).
  spool::error dead_letter(const q::delivery& d, const std::string& reason,
                           const std::string& last_error_json) override;
  spool::result<q::dead_letter_page> list_dead(std::string_view after, std::size_t limit) override;
  spool::result<std::size_t> redrive(const std::string& message_id) override;

 private:
  explicit pg_queue(const queue_address& address) : queue_(address.queue), pool_(address.conninfo, address.pool_size) {}

  spool::result<q::send_result> send_on(connection& c, const q::outgoing_message& m);
  spool::error check_message(const q::outgoing_message& m) const;
  spool::error over_limit(const char* what, milliseconds got, milliseconds most) const;
  // The leasing statement: up to max visible rows, or none.
  spool::result<std::vector<q::delivery>> take_visible(connection& c, const q::receive_options& o);
  spool::result<std::vector<q::delivery>> long_poll(connection& c, const q::receive_options& o,
                                                    const std::atomic<bool>* cancel);
  // Runs `sql` on the current delivery `d`: $1 the queue, $2 the message id, $3 the receipt, then
  // `extra`. lease_lost when no row matched (the receipt is stale, or the message gone).
  spool::result<rows> on_current(const char* what, const char* sql, const q::delivery& d,
                                 const std::vector<std::string>& extra = {});
  void forget_expired_keys();

  const std::string queue_;
  connection_pool pool_;
  std::mutex purge_mutex_;
  std::chrono::steady_clock::time_point next_purge_{};
};

/// Registers postgresql:// with spool's queue registry (errc::already_registered the second time).
spool::error register_postgresql_scheme();

}  // namespace pgq
