// file:///abs/path.db: the durable queue. One SQLite database in WAL mode with synchronous=FULL, so a
// send that returned survives kill -9 of any process (and a power cut, as far as fsync holds); several
// processes on one machine may open the same file. One table holds every live message, SQS-style:
// a message is visible when visible_at <= now, and receiving it sets visible_at to the lease's expiry,
// so an expired lease needs no sweeper. Each delivery gets a fresh random receipt and every
// ack/nack/extend/dead_letter matches on (id, receipt): that is the fencing token.
//
// Every write runs in BEGIN IMMEDIATE, so the write lock is taken before anything is read and two
// processes can never hand out the same message. "now" is read after the lock is held.
#include <spool/queue/registry.hpp>

#include <sqlite3.h>
#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <string_view>
#include <utility>
#include <vector>

namespace spool::queue {
namespace {

// Schema 2 (was 1): messages.seq is a plain rowid, since AUTOINCREMENT rewrote a page of
// sqlite_sequence in every send, and the dedup index holds only the messages that have a key. A
// keyless send now writes three b-tree pages (table, id index, visible index) instead of five, and
// each is a WAL frame the commit has to make durable.
//
// Schema 3 (was 2): acked_keys remembers the dedup keys of acknowledged messages for the dedup
// window, so a submit retried after its job finished queues nothing.
constexpr int schema_version = 3;
constexpr std::int64_t dedup_window_ms = 24LL * 3600 * 1000;

// seq orders messages sent in the same millisecond. A new rowid is always above every live one, which
// is all the order needs.
constexpr const char* messages_schema =
    "CREATE TABLE messages ("
    "  seq INTEGER PRIMARY KEY,"
    "  id TEXT NOT NULL UNIQUE,"
    "  body BLOB NOT NULL,"
    "  dedup_key TEXT,"
    "  sent_at INTEGER NOT NULL,"
    "  visible_at INTEGER NOT NULL,"
    "  receipt TEXT,"
    "  lease_expires_at INTEGER,"
    "  receive_count INTEGER NOT NULL DEFAULT 0,"
    "  first_received_at INTEGER);"
    "CREATE INDEX messages_visible ON messages (visible_at, seq);"
    "CREATE UNIQUE INDEX messages_dedup ON messages (dedup_key) WHERE dedup_key IS NOT NULL;";
// Unchanged since schema 1. seq orders records dead-lettered together.
constexpr const char* dead_schema =
    "CREATE TABLE dead ("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  id TEXT NOT NULL UNIQUE,"
    "  body BLOB NOT NULL,"
    "  dedup_key TEXT UNIQUE,"
    "  reason TEXT NOT NULL,"
    "  last_error_json TEXT NOT NULL,"
    "  receive_count INTEGER NOT NULL,"
    "  sent_at INTEGER NOT NULL,"
    "  dead_at INTEGER NOT NULL);"
    "CREATE INDEX dead_dead_at ON dead (dead_at, seq);";
constexpr const char* acked_keys_schema =
    "CREATE TABLE acked_keys ("
    "  dedup_key TEXT PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  acked_at INTEGER NOT NULL);"
    "CREATE INDEX acked_keys_acked_at ON acked_keys (acked_at);";

constexpr int busy_timeout_ms = 10'000;

std::int64_t to_ms(clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
// Stored times come from the file: a damaged one may hold any integer. Clamped to what a time_point
// can hold (about ±292 years around 1970) rather than overflowing the conversion to nanoseconds.
clock::time_point from_ms(std::int64_t ms) {
  constexpr std::int64_t limit = std::chrono::duration_cast<milliseconds>(clock::duration::max()).count();
  return clock::time_point(std::chrono::duration_cast<clock::duration>(milliseconds(std::clamp(ms, -limit, limit))));
}
// A stored receive count as an int, clamped the same way (a count is never negative).
int to_count(std::int64_t n) {
  return static_cast<int>(std::clamp<std::int64_t>(n, 0, std::numeric_limits<int>::max() - 1));
}
std::int64_t now_ms() { return to_ms(clock::now()); }

// 128 random bits as 32 hex digits, from the kernel on every call: ids and receipts are compared
// across processes, and a user-space generator copied by fork() would repeat itself in the child.
std::string random_id() {
  unsigned char buf[16];
  std::size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = ::getrandom(buf + got, sizeof buf - got, 0);
    if (n > 0) {
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && errno != EINTR) {
      break;
    }
  }
  if (got < sizeof buf) {  // no getrandom (very old kernel): random_device reads /dev/urandom
    std::random_device rd;
    for (auto& b : buf) b = static_cast<unsigned char>(rd());
  }
  static const char* hex = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < sizeof buf; ++i) {
    out[2 * i] = hex[buf[i] >> 4];
    out[2 * i + 1] = hex[buf[i] & 0xf];
  }
  return out;
}

// SQLite result codes in spool's taxonomy. SQLITE_BUSY/LOCKED only reach us after busy_timeout
// (10 s) of waiting for another process's write lock: contention, not a broken disk, so it is
// errc::throttled (transient, retried soon) rather than io_error.
error_code from_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return {};
    case SQLITE_FULL: return errc::no_space;
    case SQLITE_NOMEM: return errc::out_of_memory;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return errc::throttled;
    case SQLITE_TOOBIG: return errc::invalid_spec;
    // Every write keeps the queue's invariants (ids unique across live and dead messages, one
    // dedup key per message) inside one transaction, so a constraint failing means the file was
    // damaged or edited behind the queue's back, like SQLITE_CORRUPT.
    case SQLITE_CONSTRAINT:
    case SQLITE_IOERR:
    case SQLITE_CORRUPT:
    case SQLITE_CANTOPEN:
    case SQLITE_NOTADB:
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_PROTOCOL:
    case SQLITE_NOLFS: return errc::io_error;
    default: return errc::internal;  // MISUSE, CONSTRAINT, SCHEMA, ...: a bug here
  }
}

// A prepared statement, or why it could not be prepared.
struct prepared {
  sqlite3_stmt* s = nullptr;
  int rc = SQLITE_OK;
};

// A cached prepared statement in use: reset when it goes out of scope. If preparing failed, binds do
// nothing and step() reports the failure.
class stmt {
 public:
  explicit stmt(prepared p) : s_(p.s), rc_(p.rc) {}
  ~stmt() {
    if (!s_) return;
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;

  stmt& bind(int i, std::int64_t v) {
    if (s_) sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  stmt& bind(int i, std::string_view v) {
    if (s_) sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  stmt& bind_blob(int i, std::string_view v) {
    // A zero-length blob must still be a blob, not NULL: pass a non-null pointer.
    if (s_) sqlite3_bind_blob(s_, i, v.empty() ? "" : v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
    return *this;
  }
  stmt& bind_null(int i) {
    if (s_) sqlite3_bind_null(s_, i);
    return *this;
  }
  stmt& bind_opt(int i, std::string_view v) { return v.empty() ? bind_null(i) : bind(i, v); }

  int step() { return s_ ? sqlite3_step(s_) : (rc_ != SQLITE_OK ? rc_ : SQLITE_MISUSE); }
  std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  bool is_null(int c) const { return sqlite3_column_type(s_, c) == SQLITE_NULL; }
  std::string str(int c) const {
    const void* p = sqlite3_column_blob(s_, c);
    int n = sqlite3_column_bytes(s_, c);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
  }

 private:
  sqlite3_stmt* s_;
  int rc_;
};

class file_queue final : public queue_adapter {
 public:
  file_queue() = default;
  file_queue(const file_queue&) = delete;
  file_queue& operator=(const file_queue&) = delete;

  ~file_queue() override {
    for (auto& [sql, s] : cache_) sqlite3_finalize(s);
    if (db_) sqlite3_close_v2(db_);
  }

  // Opening runs fixed statements that succeed on every healthy queue file, so a generic SQLite error
  // there (SQLITE_ERROR: "unsupported file format", a schema it cannot parse) is the file's fault.
  error_code open(const std::string& path, std::string& detail) {
    auto ec = open_file(path, detail);
    return ec == errc::internal ? error_code(errc::io_error) : ec;
  }

  error_code open_file(const std::string& path, std::string& detail) {
    int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      return from_sqlite(rc);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);

    // journal_mode=WAL is stored in the file; switching needs a moment's exclusive access, which the
    // busy timeout waits for when another process is opening the same file.
    std::string mode;
    if (auto ec = query_text("PRAGMA journal_mode=WAL", mode, detail)) {
      // A file that is not an SQLite database is a wrong path, not a failing disk.
      return sqlite3_errcode(db_) == SQLITE_NOTADB ? error_code(errc::invalid_spec) : ec;
    }
    if (mode != "wal") {
      detail = "cannot switch " + path + " to WAL mode (journal_mode is " + mode + ")";
      return errc::io_error;
    }
    if (auto ec = exec("PRAGMA synchronous=FULL", detail)) return ec;

    if (auto ec = exec("BEGIN IMMEDIATE", detail)) return ec;
    auto ec = init_schema(path, detail);
    if (!ec) ec = check_schema(path, detail);
    if (!ec) ec = exec("COMMIT", detail);
    if (ec) rollback();
    return ec;
  }

  capabilities caps() const noexcept override {
    capabilities c;
    c.max_batch = 100;
    c.max_message_bytes = 1 << 20;
    c.max_delay = milliseconds(12 * 3600 * 1000);
    c.max_lease = milliseconds(12 * 3600 * 1000);
    c.fencing = true;
    c.dedup = true;
    c.dedup_window = milliseconds(dedup_window_ms);
    c.durable = true;
    c.shared_between_processes = true;
    c.atomic_send_batch = true;
    return c;
  }

  error_code send(const outgoing_message& m, send_result& out) override {
    if (!acceptable(m)) return errc::invalid_spec;
    send_result r{random_id(), false};
    std::lock_guard lock(mutex_);
    if (auto ec = write_txn([&] { return insert_message(m, now_ms(), r); })) return ec;
    const bool stored = !r.duplicate;
    out = std::move(r);
    if (stored) wake();
    return {};
  }

  // The whole batch in one BEGIN IMMEDIATE transaction: one durable commit, and all of it or none
  // of it. Keys sent earlier in the batch are found by the dedup lookup, which sees the
  // transaction's own rows.
  error_code send_batch(const std::vector<outgoing_message>& msgs, std::vector<send_result>& out) override {
    if (msgs.empty()) return {};
    for (const auto& m : msgs)
      if (!acceptable(m)) return errc::invalid_spec;
    std::vector<send_result> results(msgs.size());
    for (auto& r : results) r.message_id = random_id();
    std::lock_guard lock(mutex_);
    if (auto ec = write_txn([&]() -> error_code {
          const std::int64_t now = now_ms();
          for (std::size_t i = 0; i < msgs.size(); ++i)
            if (auto e = insert_message(msgs[i], now, results[i])) return e;
          return {};
        }))
      return ec;
    const bool stored = std::any_of(results.begin(), results.end(), [](const send_result& r) { return !r.duplicate; });
    out.insert(out.end(), std::make_move_iterator(results.begin()), std::make_move_iterator(results.end()));
    if (stored) wake();
    return {};
  }

  error_code receive(const receive_options& o, std::vector<delivery>& out, const std::atomic<bool>* cancel) override {
    const capabilities c = caps();
    if (o.lease > c.max_lease) return errc::invalid_spec;
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
      if (auto ec = try_receive(max, lease, out, got, next_visible)) return ec;
      if (got > 0 || (cancel && cancel->load())) return {};
      auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) return {};
      // Another process can send at any time, so poll: 10 ms backing off to 50 ms (which also bounds
      // how late a cancel is noticed). A send, nack or redrive through this object wakes us at once,
      // and a delayed message or expiring lease is waited for exactly.
      std::chrono::steady_clock::duration sleep = std::min<std::chrono::steady_clock::duration>(left, step);
      if (next_visible >= 0) {
        // Clamped: a damaged file may hold any visible_at, and the wait is at most `step` anyway.
        auto until = milliseconds(std::clamp<std::int64_t>(next_visible - now_ms(), 1, 1000));
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
  error_code ack(const delivery& d) override {
    std::lock_guard lock(mutex_);
    return write_txn([&]() -> error_code {
      const std::int64_t now = now_ms();
      stmt keep(
          prepare("INSERT OR REPLACE INTO acked_keys (dedup_key, id, acked_at) SELECT dedup_key, id, ?3 "
                  "FROM messages WHERE id = ?1 AND receipt = ?2 AND dedup_key IS NOT NULL"));
      keep.bind(1, d.message_id).bind(2, d.receipt).bind(3, now);
      if (auto ec = done(keep.step())) return ec;
      stmt q(prepare("DELETE FROM messages WHERE id = ?1 AND receipt = ?2"));
      q.bind(1, d.message_id).bind(2, d.receipt);
      if (auto ec = changed(q.step())) return ec;
      stmt forget(prepare("DELETE FROM acked_keys WHERE acked_at < ?1"));
      forget.bind(1, now - dedup_window_ms);
      return done(forget.step());
    });
  }

  error_code nack(const delivery& d, milliseconds delay) override {
    if (delay > caps().max_delay) return errc::invalid_spec;
    const std::int64_t dl = std::max<std::int64_t>(0, delay.count());
    std::lock_guard lock(mutex_);
    auto ec = write_txn([&]() -> error_code {
      stmt q(
          prepare("UPDATE messages SET visible_at = ?3, receipt = NULL, lease_expires_at = NULL "
                  "WHERE id = ?1 AND receipt = ?2"));
      q.bind(1, d.message_id).bind(2, d.receipt).bind(3, now_ms() + dl);
      return changed(q.step());
    });
    if (!ec) wake();
    return ec;
  }

  // Like ack, extend accepts a matching receipt whose lease time has passed (no redelivery yet).
  error_code extend(const delivery& d, milliseconds lease, clock::time_point& expires_at) override {
    if (lease > caps().max_lease) return errc::invalid_spec;
    const std::int64_t ls = std::max<std::int64_t>(0, lease.count());
    std::int64_t until = 0;
    std::lock_guard lock(mutex_);
    auto ec = write_txn([&]() -> error_code {
      until = now_ms() + ls;
      stmt q(prepare("UPDATE messages SET lease_expires_at = ?3, visible_at = ?3 WHERE id = ?1 AND receipt = ?2"));
      q.bind(1, d.message_id).bind(2, d.receipt).bind(3, until);
      return changed(q.step());
    });
    if (!ec) expires_at = from_ms(until);
    return ec;
  }

  error_code dead_letter(const delivery& d, const std::string& reason, const std::string& last_error_json) override {
    std::lock_guard lock(mutex_);
    return write_txn([&]() -> error_code {
      stmt ins(
          prepare("INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
                  "SELECT id, body, dedup_key, ?3, ?4, receive_count, sent_at, ?5 FROM messages "
                  "WHERE id = ?1 AND receipt = ?2"));
      ins.bind(1, d.message_id).bind(2, d.receipt).bind(3, reason).bind(4, last_error_json).bind(5, now_ms());
      if (auto ec = changed(ins.step())) return ec;
      stmt del(prepare("DELETE FROM messages WHERE id = ?1 AND receipt = ?2"));
      del.bind(1, d.message_id).bind(2, d.receipt);
      return changed(del.step());
    });
  }

  error_code list_dead(std::vector<dead_letter_record>& out) override {
    std::lock_guard lock(mutex_);
    std::vector<dead_letter_record> all;
    stmt q(
        prepare("SELECT id, body, reason, last_error_json, receive_count, sent_at, dead_at FROM dead "
                "ORDER BY dead_at, seq"));
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      dead_letter_record r;
      r.message_id = q.str(0);
      r.body = q.str(1);
      r.reason = q.str(2);
      r.last_error_json = q.str(3);
      r.receive_count = to_count(q.i64(4));
      r.sent_at = from_ms(q.i64(5));
      r.dead_at = from_ms(q.i64(6));
      all.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return from_sqlite(rc);
    out.insert(out.end(), std::make_move_iterator(all.begin()), std::make_move_iterator(all.end()));
    return {};
  }

  // The message keeps its id, body, dedup key and sent_at; receive count and first receipt start
  // over. An unknown id moves nothing and is not an error.
  error_code redrive(const std::string& message_id, std::size_t& moved) override {
    std::size_t n = 0;
    std::lock_guard lock(mutex_);
    auto ec = write_txn([&]() -> error_code {
      const bool all = message_id.empty();
      stmt ins(prepare(all ? "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, receive_count) "
                             "SELECT id, body, dedup_key, sent_at, ?1, 0 FROM dead ORDER BY dead_at, seq"
                           : "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, receive_count) "
                             "SELECT id, body, dedup_key, sent_at, ?1, 0 FROM dead WHERE id = ?2"));
      ins.bind(1, now_ms());
      if (!all) ins.bind(2, message_id);
      if (auto ec2 = done(ins.step())) return ec2;
      n = static_cast<std::size_t>(sqlite3_changes(db_));
      stmt del(prepare(all ? "DELETE FROM dead" : "DELETE FROM dead WHERE id = ?1"));
      if (!all) del.bind(1, message_id);
      return done(del.step());
    });
    if (ec) return ec;
    moved = n;
    if (n) wake();
    return {};
  }

  error_code stats(queue_stats& out) override {
    std::lock_guard lock(mutex_);
    const std::int64_t now = now_ms();
    // One statement reads one snapshot, so the counts are consistent with each other.
    stmt q(
        prepare("SELECT "
                "(SELECT COUNT(*) FROM messages WHERE visible_at <= ?1), "
                "(SELECT COUNT(*) FROM messages WHERE receipt IS NOT NULL AND lease_expires_at > ?1), "
                "(SELECT COUNT(*) FROM messages WHERE receipt IS NULL AND visible_at > ?1), "
                "(SELECT COUNT(*) FROM dead), "
                "(SELECT MIN(sent_at) FROM messages)"));
    q.bind(1, now);
    int rc = q.step();
    if (rc != SQLITE_ROW) return from_sqlite(rc);
    queue_stats s;
    s.visible = q.i64(0);
    s.in_flight = q.i64(1);
    s.delayed = q.i64(2);
    s.dead = q.i64(3);
    s.oldest_age_s =
        q.is_null(4) ? 0.0 : std::max<double>(0.0, (static_cast<double>(now) - static_cast<double>(q.i64(4))) / 1000.0);
    out = s;
    return {};
  }

 private:
  error_code init_schema(const std::string& path, std::string& detail) {
    std::string text;
    if (auto ec = query_text("PRAGMA user_version", text, detail)) return ec;
    const int version = std::atoi(text.c_str());
    if (version == schema_version) return {};
    if (version > schema_version) {
      detail = path + " was written by a newer spool (queue schema " + text + ")";
      return errc::invalid_spec;
    }
    if (version == 1 || version == 2) {
      std::string upgrade;
      if (version == 1)  // the same columns: rebuild the table, keeping every message (seq included)
        upgrade = std::string("ALTER TABLE messages RENAME TO messages_v1;"
                              "DROP INDEX messages_visible;") +
                  messages_schema +
                  "INSERT INTO messages SELECT * FROM messages_v1;"
                  "DROP TABLE messages_v1;";
      upgrade += std::string(acked_keys_schema) + "PRAGMA user_version = 3;";
      return exec(upgrade.c_str(), detail);
    }
    if (auto ec = query_text("SELECT COUNT(*) FROM sqlite_master", text, detail)) return ec;
    if (text != "0") {
      detail = path + " is an SQLite database but not a spool queue";
      return errc::invalid_spec;
    }
    const std::string create = std::string(messages_schema) + dead_schema + acked_keys_schema + "PRAGMA user_version = 3;";
    return exec(create.c_str(), detail);
  }

  // The columns every statement relies on. A file whose tables lost or changed columns (damage, or a
  // hand edit) would otherwise fail statement by statement later, as if spool had a bug.
  error_code check_schema(const std::string& path, std::string& detail) {
    struct column {
      std::string_view name, type;
      int pk;
    };
    static const std::pair<const char*, std::vector<column>> tables[] = {
        {"messages",
         {{"seq", "INTEGER", 1},
          {"id", "TEXT", 0},
          {"body", "BLOB", 0},
          {"dedup_key", "TEXT", 0},
          {"sent_at", "INTEGER", 0},
          {"visible_at", "INTEGER", 0},
          {"receipt", "TEXT", 0},
          {"lease_expires_at", "INTEGER", 0},
          {"receive_count", "INTEGER", 0},
          {"first_received_at", "INTEGER", 0}}},
        {"dead",
         {{"seq", "INTEGER", 1},
          {"id", "TEXT", 0},
          {"body", "BLOB", 0},
          {"dedup_key", "TEXT", 0},
          {"reason", "TEXT", 0},
          {"last_error_json", "TEXT", 0},
          {"receive_count", "INTEGER", 0},
          {"sent_at", "INTEGER", 0},
          {"dead_at", "INTEGER", 0}}},
        {"acked_keys", {{"dedup_key", "TEXT", 1}, {"id", "TEXT", 0}, {"acked_at", "INTEGER", 0}}},
    };
    for (const auto& [table, want] : tables) {
      stmt q(prepare("SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid"));
      q.bind(1, std::string_view(table));
      std::size_t i = 0;
      bool same = true;
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        same =
            same && i < want.size() && q.str(0) == want[i].name && q.str(1) == want[i].type && q.i64(2) == want[i].pk;
        ++i;
      }
      if (rc != SQLITE_DONE) {
        detail = sqlite3_errmsg(db_);
        return from_sqlite(rc);
      }
      if (!same || i != want.size()) {
        detail = path + " is damaged: its table '" + table + "' is not the one spool's queue schema defines";
        return errc::io_error;
      }
    }
    return {};
  }

  bool acceptable(const outgoing_message& m) const {
    const capabilities c = caps();
    return m.body.size() <= c.max_message_bytes && m.delay <= c.max_delay;
  }

  // Inside a write transaction: stores `m` under r.message_id, or, when its dedup key is taken by a
  // live or dead message, sets r to that message's id with duplicate = true.
  error_code insert_message(const outgoing_message& m, std::int64_t now, send_result& r) {
    if (!m.dedup_key.empty()) {
      stmt q(
          prepare("SELECT id FROM messages WHERE dedup_key = ?1 UNION ALL "
                  "SELECT id FROM dead WHERE dedup_key = ?1 UNION ALL "
                  "SELECT id FROM acked_keys WHERE dedup_key = ?1 AND acked_at >= ?2 LIMIT 1"));
      q.bind(1, m.dedup_key).bind(2, now - dedup_window_ms);
      int rc = q.step();
      if (rc == SQLITE_ROW) {
        r.message_id = q.str(0);
        r.duplicate = true;
        return {};
      }
      if (rc != SQLITE_DONE) return from_sqlite(rc);
    }
    const std::int64_t delay = std::max<std::int64_t>(0, m.delay.count());
    stmt ins(
        prepare("INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, receive_count) "
                "VALUES (?1, ?2, ?3, ?4, ?5, 0)"));
    ins.bind(1, r.message_id).bind_blob(2, m.body).bind_opt(3, m.dedup_key).bind(4, now).bind(5, now + delay);
    return done(ins.step());
  }

  // One receive attempt in its own write transaction. Sets next_visible when nothing was ready.
  error_code try_receive(std::size_t max, std::int64_t lease, std::vector<delivery>& out, std::size_t& got,
                         std::int64_t& next_visible) {
    std::lock_guard lock(mutex_);
    // A cheap read first: an idle queue polled by many receivers should not take the write lock.
    {
      stmt q(prepare("SELECT MIN(visible_at) FROM messages"));
      int rc = q.step();
      if (rc != SQLITE_ROW) return from_sqlite(rc);
      if (q.is_null(0)) return {};
      if (q.i64(0) > now_ms()) {
        next_visible = q.i64(0);
        return {};
      }
    }
    std::vector<delivery> batch;
    auto ec = write_txn([&]() -> error_code {
      batch.clear();
      const std::int64_t now = now_ms();
      std::vector<std::int64_t> seqs;
      {
        stmt q(
            prepare("SELECT seq, id, body, receive_count, sent_at, first_received_at FROM messages "
                    "WHERE visible_at <= ?1 ORDER BY visible_at, seq LIMIT ?2"));
        q.bind(1, now).bind(2, static_cast<std::int64_t>(max));
        int rc;
        while ((rc = q.step()) == SQLITE_ROW) {
          delivery d;
          seqs.push_back(q.i64(0));
          d.message_id = q.str(1);
          d.body = q.str(2);
          d.receive_count = to_count(q.i64(3)) + 1;
          d.sent_at = from_ms(q.i64(4));
          d.first_received_at = from_ms(q.is_null(5) ? now : q.i64(5));
          d.lease_expires_at = from_ms(now + lease);
          d.receipt = random_id();
          batch.push_back(std::move(d));
        }
        if (rc != SQLITE_DONE) return from_sqlite(rc);
      }
      for (std::size_t i = 0; i < batch.size(); ++i) {
        stmt u(
            prepare("UPDATE messages SET receipt = ?2, lease_expires_at = ?3, visible_at = ?3, "
                    "receive_count = receive_count + 1, first_received_at = COALESCE(first_received_at, ?4) "
                    "WHERE seq = ?1"));
        u.bind(1, seqs[i]).bind(2, batch[i].receipt).bind(3, now + lease).bind(4, now);
        // The row was selected in this very transaction: if it is gone, an index lies (a damaged file).
        if (auto e = changed(u.step())) return e == errc::lease_lost ? errc::io_error : e;
      }
      return {};
    });
    if (ec) return ec;
    got = batch.size();
    out.insert(out.end(), std::make_move_iterator(batch.begin()), std::make_move_iterator(batch.end()));
    return {};
  }

  // Runs body inside BEGIN IMMEDIATE ... COMMIT; rolls back on any error. Caller holds mutex_.
  template <class F>
  error_code write_txn(F&& body) {
    {
      stmt begin(prepare("BEGIN IMMEDIATE"));  // cached: parsing it took a few microseconds per write
      if (auto ec = done(begin.step())) return ec;
    }
    error_code ec = body();
    if (!ec) {
      stmt commit(prepare("COMMIT"));
      ec = done(commit.step());
    }
    if (ec) rollback();
    return ec;
  }

  void rollback() {
    if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }

  static error_code done(int rc) { return rc == SQLITE_DONE ? error_code{} : from_sqlite(rc); }
  error_code changed(int rc) {
    if (rc != SQLITE_DONE) return from_sqlite(rc);
    return sqlite3_changes(db_) > 0 ? error_code{} : error_code{errc::lease_lost};
  }

  error_code exec(const char* sql, std::string& detail) {
    char* msg = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &msg);
    if (rc != SQLITE_OK) {
      detail = msg ? msg : sqlite3_errstr(rc);
      sqlite3_free(msg);
      return from_sqlite(rc);
    }
    return {};
  }

  error_code query_text(const char* sql, std::string& out, std::string& detail) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db_, sql, -1, &s, nullptr);
    if (rc == SQLITE_OK) {
      rc = sqlite3_step(s);
      if (rc == SQLITE_ROW) {
        const unsigned char* t = sqlite3_column_text(s, 0);
        out = t ? reinterpret_cast<const char*>(t) : "";
        rc = SQLITE_OK;
      }
    }
    if (rc != SQLITE_OK) detail = sqlite3_errmsg(db_);
    sqlite3_finalize(s);
    return from_sqlite(rc);
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

  std::mutex mutex_;  // guards db_ and cache_: one connection, one user at a time
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> cache_;

  std::mutex wake_mutex_;  // wakes same-object receivers early; other processes are found by polling
  std::condition_variable wake_cv_;
  std::uint64_t wake_gen_ = 0;
};

}  // namespace

error_code make_file_queue(const std::string& path, std::shared_ptr<queue_adapter>& out, std::string* detail) {
  std::string why;
  auto fail = [&](error_code ec) {
    if (detail) *detail = why;
    return ec;
  };
  namespace fs = std::filesystem;
  if (path.empty() || path.find('\0') != std::string::npos || !fs::path(path).is_absolute()) {
    why = "file queue path must be absolute: \"" + path + "\"";
    return fail(errc::invalid_spec);
  }
  fs::path p(path);
  std::error_code fec;
  if (fs::is_directory(p, fec)) {
    why = path + " is a directory";
    return fail(errc::invalid_spec);
  }
  if (p.has_parent_path()) {
    fs::create_directories(p.parent_path(), fec);
    if (fec) {
      why = "cannot create " + p.parent_path().string() + ": " + fec.message();
      return fail(fec == std::errc::no_space_on_device ? errc::no_space : errc::io_error);
    }
  }
  auto q = std::make_shared<file_queue>();
  if (auto ec = q->open(path, why)) {
    why = path + ": " + why;
    return fail(ec);
  }
  out = std::move(q);
  return {};
}

}  // namespace spool::queue
