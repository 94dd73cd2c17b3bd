// file:///abs/path.db: the durable queue. One SQLite database in WAL mode with synchronous=FULL, so a
// send that returned survives kill -9 of any process (and a power cut, as far as fsync holds); several
// processes on one machine may open the same file. One table holds every live message, SQS-style:
// a message is visible when visible_at <= now, and receiving it sets visible_at to the lease's expiry,
// so an expired lease needs no sweeper. Each delivery gets a fresh random receipt and every
// ack/nack/extend/dead_letter matches on (id, receipt): that is the fencing token.
//
// "now" for visibility and leases is CLOCK_BOOTTIME in milliseconds, which every process of one boot
// reads alike and which never steps; the file records which boot its times belong to, and the first
// open after a reboot moves them onto the new one (file_queue_schema.cpp).
//
// Every write runs in BEGIN IMMEDIATE, so the write lock is taken before anything is read and two
// processes can never hand out the same message. "now" is read after the lock is held.
#include <spool/queue/registry.hpp>

#include <boost/url/parse.hpp>

#include <algorithm>
#include <charconv>
#include <condition_variable>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <utility>

#include "queue/builtin_schemes.hpp"
#include "queue/file_queue_schema.hpp"
#include "queue/ids.hpp"
#include "queue/sqlite.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {
namespace {

using file_schema::instant;
using file_schema::max_wait_ms;
using sqlite::from_sqlite;
using sqlite::prepared;
using sqlite::stmt;

constexpr std::int64_t dedup_window_ms = 24LL * 3600 * 1000;
constexpr int busy_timeout_ms = 10'000;

// Stored times come from the file, and a damaged one may hold any integer: clamped to what a
// time_point holds (about 292 years either side of 1970) rather than overflowing into nanoseconds.
clock::time_point from_ms(std::int64_t ms) {
  constexpr std::int64_t limit = std::chrono::duration_cast<milliseconds>(clock::duration::max()).count();
  return clock::time_point(std::chrono::duration_cast<clock::duration>(milliseconds(std::clamp(ms, -limit, limit))));
}
// A stored receive count as an int, clamped the same way: never negative, and one below INT_MAX so
// that the delivery being made can still count itself.
int to_count(std::int64_t n) {
  return static_cast<int>(std::clamp<std::int64_t>(n, 0, std::numeric_limits<int>::max() - 1));
}

using detail::random_id;

class file_queue final : public queue_adapter, public dead_letter_store {
 public:
  file_queue(std::string path, std::shared_ptr<const time_source> time)
      : path_(std::move(path)), time_(std::move(time)) {}
  file_queue(const file_queue&) = delete;
  file_queue& operator=(const file_queue&) = delete;

  ~file_queue() override {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }

  // Opening runs fixed statements that succeed on every healthy queue file, so a generic SQLite error
  // there (SQLITE_ERROR: "unsupported file format", a schema it cannot parse) is the file's fault.
  error_code open(std::string& detail) {
    auto ec = open_file(detail);
    return ec == errc::internal ? error_code(errc::io_error) : ec;
  }

  error_code open_file(std::string& detail) {
    const std::string& path = path_;
    int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      return from_sqlite(rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);

    // Someone else's file stays as it was: refused before its journal mode is touched. A file that
    // is not an SQLite database is a wrong path, not a failing disk.
    int schema = 0;
    if (auto ec = file_schema::check_ours(db_, path, schema, detail))
      return sqlite3_errcode(db_) == SQLITE_NOTADB ? error_code(errc::invalid_argument) : ec;
    // journal_mode=WAL is stored in the file; switching needs a moment's exclusive access, which the
    // busy timeout waits for when another process is opening the same file.
    std::string mode;
    if (auto ec = sqlite::query_text(db_, "PRAGMA journal_mode=WAL", mode, detail)) return ec;
    if (mode != "wal") {
      detail = "cannot switch " + path + " to WAL mode (journal_mode is " + mode + ")";
      return errc::io_error;
    }
    if (auto ec = sqlite::exec(db_, "PRAGMA synchronous=FULL", detail)) return ec;

    if (auto ec = sqlite::exec(db_, "BEGIN IMMEDIATE", detail)) return ec;
    auto ec = file_schema::prepare(db_, path, *time_, detail);
    if (!ec) ec = sqlite::exec(db_, "COMMIT", detail);
    if (ec) rollback();
    return ec;
  }

  std::string_view type_name() const noexcept override { return "file"; }
  dead_letter_store* dead_letters() noexcept override { return this; }

  capabilities caps() const noexcept override {
    capabilities c;
    c.max_batch = 100;
    c.max_message_bytes = 1 << 20;
    c.max_delay = milliseconds(max_wait_ms);
    c.max_lease = milliseconds(max_wait_ms);
    c.fencing = true;
    c.dedup = true;
    c.dedup_window = milliseconds(dedup_window_ms);
    c.durable = true;
    c.shared_between_processes = true;
    c.send_batch = true;
    c.atomic_send_batch = true;
    c.stats = true;
    c.uncounted_release = true;
    return c;
  }

  result<send_result> send(const outgoing_message& m) override {
    if (auto e = refused(m)) return e;
    send_result r{random_id(), false};
    std::lock_guard lock(mutex_);
    if (auto e = write_txn([&] { return insert_message(m, now(), r); })) return e;
    if (!r.duplicate) wake();
    return r;
  }

  // The whole batch in one BEGIN IMMEDIATE transaction: one durable commit, and all of it or none
  // of it. Keys sent earlier in the batch are found by the dedup lookup, which sees the
  // transaction's own rows.
  result<std::vector<result<send_result>>> send_batch(const std::vector<outgoing_message>& msgs) override {
    std::vector<result<send_result>> out;
    if (msgs.empty()) return out;
    for (const auto& m : msgs)
      if (auto e = refused(m)) return e;
    std::vector<send_result> results(msgs.size());
    for (auto& r : results) r.message_id = random_id();
    std::lock_guard lock(mutex_);
    if (auto e = write_txn([&]() -> error {
          const instant t = now();
          for (std::size_t i = 0; i < msgs.size(); ++i)
            if (auto e2 = insert_message(msgs[i], t, results[i])) return e2;
          return {};
        }))
      return e;
    const bool stored = std::any_of(results.begin(), results.end(), [](const send_result& r) { return !r.duplicate; });
    out.assign(std::make_move_iterator(results.begin()), std::make_move_iterator(results.end()));
    if (stored) wake();
    return out;
  }

  result<std::vector<delivery>> receive(const receive_options& o, const std::atomic<bool>* cancel) override {
    const capabilities c = caps();
    if (auto e = over("lease", o.lease, c.max_lease)) return e;
    std::vector<delivery> out;
    const std::int64_t lease = std::max<std::int64_t>(1, o.lease.count());
    const std::size_t max = std::clamp<std::size_t>(o.max_messages, 1, c.max_batch);
    const auto deadline = std::chrono::steady_clock::now() + std::max(o.wait, milliseconds(0));
    auto step = milliseconds(10);
    for (;;) {
      std::uint64_t seen;
      {
        std::lock_guard w(wake_mutex_);
        seen = wake_gen_;
      }
      std::int64_t next_visible = -1;  // earliest visible_at of any message, -1 if the queue is empty
      std::size_t got = 0;
      if (auto e = try_receive(max, lease, out, got, next_visible)) return e;
      if (got > 0 || (cancel && cancel->load())) return out;
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return out;
      // Another process can send at any time, so poll: 10 ms backing off to 50 ms (which also bounds
      // how late a cancel is noticed). A send, nack or redrive through this object wakes us at once,
      // and a delayed message or expiring lease is waited for exactly.
      std::chrono::steady_clock::duration sleep = std::min<std::chrono::steady_clock::duration>(left, step);
      if (next_visible >= 0) {
        // Clamped: a damaged file may hold any visible_at, and the wait is at most `step` anyway.
        auto until = milliseconds(std::clamp<std::int64_t>(next_visible - now().boot, 1, 1000));
        sleep = std::min<std::chrono::steady_clock::duration>(sleep, until);
      }
      {
        std::unique_lock w(wake_mutex_);
        wake_cv_.wait_for(w, sleep, [&] { return wake_gen_ != seen; });
      }
      step = std::min(step * 2, milliseconds(50));
    }
  }

  // ack accepts a receipt that still matches even when its lease time has passed but nobody has
  // received the message again: that delivery is still the current one, as the contract words it
  // (and SQS deletes in that case too). Once the message is redelivered, nacked, acked or
  // dead-lettered the old receipt no longer matches and the result is lease_lost.
  error ack(const delivery& d) override {
    std::lock_guard lock(mutex_);
    return write_txn([&]() -> error {
      const std::int64_t wall = now().wall;
      stmt keep(
          prepare("INSERT OR REPLACE INTO acked_keys (dedup_key, id, acked_at) SELECT dedup_key, id, ?3 "
                  "FROM messages WHERE id = ?1 AND receipt = ?2 AND dedup_key IS NOT NULL"));
      keep.bind(1, d.message_id).bind(2, d.receipt).bind(3, wall);
      if (auto e = done(keep.step())) return e;
      stmt q(prepare("DELETE FROM messages WHERE id = ?1 AND receipt = ?2"));
      q.bind(1, d.message_id).bind(2, d.receipt);
      if (auto e = changed(q.step(), d)) return e;
      stmt forget(prepare("DELETE FROM acked_keys WHERE acked_at < ?1"));
      forget.bind(1, wall - dedup_window_ms);
      return done(forget.step());
    });
  }

  error nack(const delivery& d, milliseconds delay) override {
    if (auto e = over("delay", delay, caps().max_delay)) return e;
    return give_back(d, std::max<std::int64_t>(0, delay.count()), 0);
  }

  // Like nack(0), and the delivery no longer counts: receive_count goes back to what it was.
  error release(const delivery& d) override { return give_back(d, 0, 1); }

  // Like ack, extend accepts a matching receipt whose lease time has passed (no redelivery yet).
  result<clock::time_point> extend(const delivery& d, milliseconds lease) override {
    if (auto e = over("lease", lease, caps().max_lease)) return e;
    const std::int64_t ls = std::max<std::int64_t>(0, lease.count());
    instant t;
    std::lock_guard lock(mutex_);
    if (auto e = write_txn([&]() -> error {
          t = now();
          stmt q(prepare("UPDATE messages SET lease_expires_at = ?3, visible_at = ?3 WHERE id = ?1 AND receipt = ?2"));
          q.bind(1, d.message_id).bind(2, d.receipt).bind(3, t.boot + ls);
          return changed(q.step(), d);
        }))
      return e;
    return from_ms(t.wall + ls);
  }

  error dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) override {
    std::lock_guard lock(mutex_);
    return write_txn([&]() -> error {
      stmt ins(
          prepare("INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
                  "SELECT id, body, dedup_key, ?3, ?4, receive_count, sent_at, ?5 FROM messages "
                  "WHERE id = ?1 AND receipt = ?2"));
      ins.bind(1, d.message_id).bind(2, d.receipt).bind(3, reason).bind(4, last_error_json).bind(5, now().wall);
      if (auto e = changed(ins.step(), d)) return e;
      stmt del(prepare("DELETE FROM messages WHERE id = ?1 AND receipt = ?2"));
      del.bind(1, d.message_id).bind(2, d.receipt);
      return changed(del.step(), d);
    });
  }

  // One page after the record whose seq is `after`: seq orders records by when they were
  // dead-lettered, whatever the wall clock did meanwhile.
  result<dead_letter_page> list_dead(std::string_view after, std::size_t limit) override {
    if (limit == 0) return error{errc::invalid_argument, "list_dead needs a limit of at least 1"};
    std::int64_t from = 0;
    if (!after.empty()) {
      auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), from);
      if (ec != std::errc() || end != after.data() + after.size() || from < 0)
        return error{errc::invalid_argument,
                     "'" + std::string(after) + "' is not a position in " + path_ + "'s dead letters"};
    }
    const auto n = static_cast<std::int64_t>(std::min<std::size_t>(limit, 1000));
    dead_letter_page page;
    std::lock_guard lock(mutex_);
    stmt q(
        prepare("SELECT seq, id, body, reason, last_error_json, receive_count, sent_at, dead_at FROM dead "
                "WHERE seq > ?1 ORDER BY seq LIMIT ?2"));
    q.bind(1, from).bind(2, n + 1);  // one more than the page: is there a next one?
    int rc;
    std::int64_t last = from;
    while ((rc = q.step()) == SQLITE_ROW) {
      if (static_cast<std::int64_t>(page.records.size()) == n) {
        page.next = std::to_string(last);
        break;
      }
      // Rows come in seq order after `from`. One that does not come after the last (a damaged b-tree
      // SQLite reads without noticing) would give a position that does not move on: pages forever.
      if (q.i64(0) <= last)
        return error{errc::io_error, path_ + " is damaged: its dead letters are not in the order of their positions"};
      dead_letter_record r;
      last = q.i64(0);
      r.message_id = q.str(1);
      r.body = q.str(2);
      r.reason = q.str(3);
      r.last_error_json = q.str(4);
      r.receive_count = to_count(q.i64(5));
      r.sent_at = from_ms(q.i64(6));
      r.dead_at = from_ms(q.i64(7));
      page.records.push_back(std::move(r));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return failed(rc);
    return page;
  }

  // The message keeps its id, body, dedup key and sent_at; receive count and first receipt start
  // over. An unknown id moves nothing and is not an error.
  result<std::size_t> redrive(const std::string& message_id) override {
    std::size_t n = 0;
    std::lock_guard lock(mutex_);
    auto e = write_txn([&]() -> error {
      const bool all = message_id.empty();
      const instant t = now();
      stmt ins(
          prepare(all ? "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, visible_wall, receive_count) "
                        "SELECT id, body, dedup_key, sent_at, ?1, ?3, 0 FROM dead ORDER BY seq"
                      : "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, visible_wall, receive_count) "
                        "SELECT id, body, dedup_key, sent_at, ?1, ?3, 0 FROM dead WHERE id = ?2"));
      ins.bind(1, t.boot).bind(3, t.wall);
      if (!all) ins.bind(2, message_id);
      if (auto e2 = done(ins.step())) return e2;
      n = static_cast<std::size_t>(sqlite3_changes(db_));
      stmt del(prepare(all ? "DELETE FROM dead" : "DELETE FROM dead WHERE id = ?1"));
      if (!all) del.bind(1, message_id);
      return done(del.step());
    });
    if (e) return e;
    if (n) wake();
    return n;
  }

  result<queue_stats> stats() override {
    std::lock_guard lock(mutex_);
    const instant t = now();
    // One statement reads one snapshot, so the counts are consistent with each other.
    stmt q(
        prepare("SELECT "
                "(SELECT COUNT(*) FROM messages WHERE visible_at <= ?1), "
                "(SELECT COUNT(*) FROM messages WHERE receipt IS NOT NULL AND lease_expires_at > ?1), "
                "(SELECT COUNT(*) FROM messages WHERE receipt IS NULL AND visible_at > ?1), "
                "(SELECT COUNT(*) FROM dead), "
                "(SELECT MIN(sent_at) FROM messages)"));
    q.bind(1, t.boot);
    int rc = q.step();
    if (rc != SQLITE_ROW) return failed(rc);
    queue_stats s;
    s.visible = q.i64(0);
    s.in_flight = q.i64(1);
    s.delayed = q.i64(2);
    s.dead = q.i64(3);
    // sent_at is a wall-clock time (it must mean something after a reboot): the age is too.
    // In doubles: a damaged file's sent_at may be any integer, and the difference must not overflow.
    s.oldest_age_s =
        q.is_null(4) ? 0.0
                     : std::max<double>(0.0, (static_cast<double>(t.wall) - static_cast<double>(q.i64(4))) / 1000.0);
    return s;
  }

 private:
  instant now() const { return file_schema::now(*time_); }

  // The limits caps() states: invalid_argument, naming the limit.
  error refused(const outgoing_message& m) const {
    if (m.body.size() > caps().max_message_bytes)
      return {errc::invalid_argument, "a body of " + std::to_string(m.body.size()) +
                                          " bytes is over file://'s limit of " +
                                          std::to_string(caps().max_message_bytes)};
    return over("delay", m.delay, caps().max_delay);
  }
  static error over(const char* what, milliseconds got, milliseconds most) {
    if (got <= most) return {};
    return {errc::invalid_argument, std::string("a ") + what + " of " + std::to_string(got.count()) +
                                        " ms is over file://'s limit of " + std::to_string(most.count()) + " ms"};
  }

  // Ends the lease: visible again after `delay_ms`, the receive count lowered by `uncount`.
  error give_back(const delivery& d, std::int64_t delay_ms, std::int64_t uncount) {
    std::lock_guard lock(mutex_);
    auto e = write_txn([&]() -> error {
      const instant t = now();
      stmt q(
          prepare("UPDATE messages SET visible_at = ?3, visible_wall = ?4, receipt = NULL, lease_expires_at = NULL, "
                  "receive_count = MAX(receive_count - ?5, 0) WHERE id = ?1 AND receipt = ?2"));
      q.bind(1, d.message_id).bind(2, d.receipt).bind(3, t.boot + delay_ms).bind(4, t.wall + delay_ms).bind(5, uncount);
      return changed(q.step(), d);
    });
    if (!e) wake();
    return e;
  }

  // Inside a write transaction: stores `m` under r.message_id, or, when its dedup key is taken by a
  // live or dead message, sets r to that message's id with duplicate = true.
  error insert_message(const outgoing_message& m, instant t, send_result& r) {
    if (!m.dedup_key.empty()) {
      stmt q(
          prepare("SELECT id FROM messages WHERE dedup_key = ?1 UNION ALL "
                  "SELECT id FROM dead WHERE dedup_key = ?1 UNION ALL "
                  "SELECT id FROM acked_keys WHERE dedup_key = ?1 AND acked_at >= ?2 LIMIT 1"));
      q.bind(1, m.dedup_key).bind(2, t.wall - dedup_window_ms);
      int rc = q.step();
      if (rc == SQLITE_ROW) {
        r.message_id = q.str(0);
        r.duplicate = true;
        return {};
      }
      if (rc != SQLITE_DONE) return failed(rc);
    }
    const std::int64_t delay = std::max<std::int64_t>(0, m.delay.count());
    stmt ins(
        prepare("INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, visible_wall, receive_count) "
                "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)"));
    ins.bind(1, r.message_id).bind_blob(2, m.body).bind_opt(3, m.dedup_key).bind(4, t.wall);
    ins.bind(5, t.boot + delay).bind(6, t.wall + delay);
    return done(ins.step());
  }

  // One receive attempt in its own write transaction. Sets next_visible when nothing was ready.
  error try_receive(std::size_t max, std::int64_t lease, std::vector<delivery>& out, std::size_t& got,
                    std::int64_t& next_visible) {
    std::lock_guard lock(mutex_);
    // A cheap read first: an idle queue polled by many receivers should not take the write lock.
    {
      stmt q(prepare("SELECT MIN(visible_at) FROM messages"));
      int rc = q.step();
      if (rc != SQLITE_ROW) return failed(rc);
      if (q.is_null(0)) return {};
      if (q.i64(0) > now().boot) {
        next_visible = q.i64(0);
        return {};
      }
    }
    std::vector<delivery> batch;
    auto e = write_txn([&]() -> error {
      batch.clear();
      const instant t = now();
      std::vector<std::int64_t> seqs;
      {
        stmt q(
            prepare("SELECT seq, id, body, receive_count, sent_at, first_received_at FROM messages "
                    "WHERE visible_at <= ?1 ORDER BY visible_at, seq LIMIT ?2"));
        q.bind(1, t.boot).bind(2, static_cast<std::int64_t>(max));
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
          delivery d;
          seqs.push_back(q.i64(0));
          d.message_id = q.str(1);
          d.body = q.str(2);
          d.receive_count = to_count(q.i64(3)) + 1;
          d.sent_at = from_ms(q.i64(4));
          d.first_received_at = from_ms(q.is_null(5) ? t.wall : q.i64(5));
          d.lease_expires_at = from_ms(t.wall + lease);
          d.receipt = random_id();
          batch.push_back(std::move(d));
        }
        if (rc != SQLITE_DONE) return failed(rc);
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        stmt u(
            prepare("UPDATE messages SET receipt = ?2, lease_expires_at = ?3, visible_at = ?3, "
                    "receive_count = receive_count + 1, first_received_at = COALESCE(first_received_at, ?4) "
                    "WHERE seq = ?1"));
        u.bind(1, seqs[i]).bind(2, batch[i].receipt).bind(3, t.boot + lease).bind(4, t.wall);
        if (auto e2 = done(u.step())) return e2;
        // The row was selected in this very transaction: if it cannot be updated, the file lies (a
        // damaged index, or a trigger someone added), not spool.
        if (sqlite3_changes(db_) == 0)
          return error{
              errc::io_error,
              path_ + " is damaged: a message selected for delivery could not be leased in the same transaction"};
      }
      return {};
    });
    if (e) return e;
    got = batch.size();
    out.insert(out.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    return {};
  }

  // Runs body inside BEGIN IMMEDIATE ... COMMIT; rolls back on any error. Caller holds mutex_.
  template <class F>
  error write_txn(F&& body) {
    {
      stmt begin(prepare("BEGIN IMMEDIATE"));  // cached: parsing it took a few microseconds per write
      if (auto e = done(begin.step())) return e;
    }
    error e = body();
    if (!e) {
      stmt commit(prepare("COMMIT"));
      e = done(commit.step());
    }
    if (e) rollback();
    return e;
  }

  void rollback() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  // SQLite's failure with its own words, read before a rollback can replace them.
  error failed(int rc) const { return {from_sqlite(rc), path_ + ": " + sqlite3_errmsg(db_)}; }
  error done(int rc) const { return rc == SQLITE_DONE ? error{} : failed(rc); }
  // A write matched on (id, receipt) that matched nothing: the receipt is not current.
  error changed(int rc, const delivery& d) const {
    if (rc != SQLITE_DONE) return failed(rc);
    if (sqlite3_changes(db_) > 0) return {};
    return {errc::lease_lost, "message " + d.message_id + ": this delivery's receipt is no longer current"};
  }

  // Statements are prepared on first use and kept until the queue closes.
  prepared prepare(const char* sql) {
    auto it = cache_.find(sql);
    if (it != cache_.end()) return {it->second, SQLITE_OK};
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_finalize(s);
      return {nullptr, rc};
    }
    cache_.emplace(sql, s);
    return {s, SQLITE_OK};
  }

  void wake() {
    {
      std::lock_guard w(wake_mutex_);
      ++wake_gen_;
    }
    wake_cv_.notify_all();
  }

  const std::string path_;
  const std::shared_ptr<const time_source> time_;
  std::mutex mutex_;  // guards db_ and cache_: one connection, one user at a time
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;

  std::mutex wake_mutex_;  // wakes same-object receivers early; other processes are found by polling
  std::condition_variable wake_cv_;
  std::uint64_t wake_gen_ = 0;
};

}  // namespace

result<std::shared_ptr<queue_adapter>> make_file_queue(const std::string& path,
                                                       std::shared_ptr<const time_source> time) {
  namespace fs = std::filesystem;
  if (path.empty() || path.find('\0') != std::string::npos || !fs::path(path).is_absolute())
    return error{errc::invalid_argument, "a file queue's path must be absolute: \"" + path + "\""};
  fs::path p(path);
  std::error_code fec;
  if (fs::is_directory(p, fec)) return error{errc::invalid_argument, path + " is a directory"};
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), fec);
    if (fec)
      return error{fec == std::errc::no_space_on_device ? errc::no_space : errc::io_error,
                   "cannot create " + p.parent_path().string() + ": " + fec.message()};
  }
  auto q = std::make_shared<file_queue>(path, time ? std::move(time) : system_time());
  std::string why;
  if (auto ec = q->open(why)) return error{ec, why.rfind(path, 0) == 0 ? why : path + ": " + why};
  return q;
}

// file:///absolute/path.db, or file://localhost/absolute/path.db.
void detail::register_file_scheme() {
  register_scheme("file", [](std::string_view uri) -> result<std::shared_ptr<queue_adapter>> {
    auto u = boost::urls::parse_uri(uri);
    if (!u || !(u->encoded_host().empty() || u->encoded_host() == "localhost") || u->path().empty() ||
        u->path().front() != '/')
      return error{errc::invalid_argument, "a file:// queue needs an absolute path, as in file:///var/spool/jobs.db"};
    return make_file_queue(std::string(u->path()));
  });
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
