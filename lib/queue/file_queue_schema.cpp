// The file queue's schema history. Every upgrade runs inside the transaction that opens the file, so
// a database is either wholly at the old version or wholly at the new one.
//
// Schema 2 (was 1): messages.seq is a plain rowid, since AUTOINCREMENT rewrote a page of
// sqlite_sequence in every send, and the dedup index holds only the messages that have a key. A
// keyless send writes three b-tree pages (table, id index, visible index) instead of five, and each
// is a WAL frame the commit has to make durable.
//
// Schema 3 (was 2): acked_keys remembers the dedup keys of acknowledged messages for the dedup
// window, so a submit retried after its job finished queues nothing.
//
// Schema 4 (was 3): visible_at and lease_expires_at are milliseconds of CLOCK_BOOTTIME of the boot
// named in the `boot` table, no longer wall-clock time, so a wall-clock step can neither expire a
// lease nor hide a message. visible_wall keeps the wall-clock time visible_at stood for when it was
// set: the only way to carry a delay across a reboot, after which CLOCK_BOOTTIME starts again.
// sent_at, first_received_at, dead_at and acked_at stay wall-clock times.
#include "queue/file_queue_schema.hpp"

#include <chrono>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "queue/sqlite.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::queue::file_schema {
namespace {

using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr const char* messages_v2 =
    "CREATE TABLE messages ("
    "  seq INTEGER PRIMARY KEY,"  // send order among messages visible at the same time; a rowid
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
constexpr const char* dead_v1 =
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
constexpr const char* acked_keys_v3 =
    "CREATE TABLE acked_keys ("
    "  dedup_key TEXT PRIMARY KEY,"
    "  id TEXT NOT NULL,"
    "  acked_at INTEGER NOT NULL);"
    "CREATE INDEX acked_keys_acked_at ON acked_keys (acked_at);";

// The same columns: rebuild the table, keeping every message (seq included).
error_code upgrade_1_to_2(sqlite3* db, std::string& detail) {
  const std::string sql = std::string("ALTER TABLE messages RENAME TO messages_v1;DROP INDEX messages_visible;") +
                          messages_v2 + "INSERT INTO messages SELECT * FROM messages_v1;DROP TABLE messages_v1;";
  return sqlite::exec(db, sql.c_str(), detail);
}

error_code upgrade_2_to_3(sqlite3* db, std::string& detail) { return sqlite::exec(db, acked_keys_v3, detail); }

// Wall-clock times become this boot's: what was due in the past stays in the past (in its order),
// what is due in the future keeps what is left of it, at most max_wait_ms.
error_code upgrade_3_to_4(sqlite3* db, const time_source& time, std::string& detail) {
  if (auto ec = sqlite::exec(db,
                             "ALTER TABLE messages ADD COLUMN visible_wall INTEGER NOT NULL DEFAULT 0;"
                             "UPDATE messages SET visible_wall = visible_at;"
                             "CREATE TABLE boot (id TEXT NOT NULL);",
                             detail))
    return ec;
  const instant t = now(time);
  sqlite::once move(db,
                    "UPDATE messages SET visible_at = ?1 + MIN(visible_at - ?2, ?3), "
                    "lease_expires_at = ?1 + MIN(lease_expires_at - ?2, ?3)");  // NULL stays NULL
  move.get().bind(1, t.boot).bind(2, t.wall).bind(3, max_wait_ms);
  if (int rc = move.get().step(); rc != SQLITE_DONE) {
    detail = sqlite3_errmsg(db);
    return sqlite::from_sqlite(rc);
  }
  const std::string boot = time.boot_id();
  sqlite::once record(db, "INSERT INTO boot (id) VALUES (?1)");
  record.get().bind(1, boot);
  if (int rc = record.get().step(); rc != SQLITE_DONE) {
    detail = sqlite3_errmsg(db);
    return sqlite::from_sqlite(rc);
  }
  return {};
}

// The database was last used in another boot, whose processes are all gone: every lease ends (its
// worker died with the boot) and every delay keeps what is left of it by the wall clock.
error_code move_to_this_boot(sqlite3* db, const time_source& time, const std::string& boot, std::string& detail) {
  const instant t = now(time);
  sqlite::once move(db,
                    "UPDATE messages SET "
                    "visible_at = CASE WHEN receipt IS NULL THEN ?1 + MIN(visible_wall - ?2, ?3) ELSE ?1 END, "
                    "visible_wall = CASE WHEN receipt IS NULL THEN visible_wall ELSE ?2 END, "
                    "receipt = NULL, lease_expires_at = NULL");
  move.get().bind(1, t.boot).bind(2, t.wall).bind(3, max_wait_ms);
  if (int rc = move.get().step(); rc != SQLITE_DONE) {
    detail = sqlite3_errmsg(db);
    return sqlite::from_sqlite(rc);
  }
  sqlite::once clear(db, "DELETE FROM boot");
  sqlite::once insert(db, "INSERT INTO boot (id) VALUES (?1)");
  insert.get().bind(1, boot);
  for (auto* s : {&clear.get(), &insert.get()}) {
    if (int rc = s->step(); rc != SQLITE_DONE) {
      detail = sqlite3_errmsg(db);
      return sqlite::from_sqlite(rc);
    }
  }
  return {};
}

// The columns of schema 4's tables, in order, as PRAGMA table_info names them. Every statement relies
// on them; a file whose tables lost or changed a column (damage, or a hand edit) would otherwise fail
// statement by statement later, as if spool had a bug.
struct column {
  std::string_view name, type;
  bool primary_key;
};
struct table {
  const char* name;
  std::vector<column> columns;
};
const std::vector<table>& schema_4_tables() {
  static_assert(version == 4, "the columns of the new schema's tables belong here");
  static const std::vector<table> tables = {
      {"messages",
       {{"seq", "INTEGER", true},
        {"id", "TEXT", false},
        {"body", "BLOB", false},
        {"dedup_key", "TEXT", false},
        {"sent_at", "INTEGER", false},
        {"visible_at", "INTEGER", false},
        {"receipt", "TEXT", false},
        {"lease_expires_at", "INTEGER", false},
        {"receive_count", "INTEGER", false},
        {"first_received_at", "INTEGER", false},
        {"visible_wall", "INTEGER", false}}},
      {"dead",
       {{"seq", "INTEGER", true},
        {"id", "TEXT", false},
        {"body", "BLOB", false},
        {"dedup_key", "TEXT", false},
        {"reason", "TEXT", false},
        {"last_error_json", "TEXT", false},
        {"receive_count", "INTEGER", false},
        {"sent_at", "INTEGER", false},
        {"dead_at", "INTEGER", false}}},
      {"acked_keys", {{"dedup_key", "TEXT", true}, {"id", "TEXT", false}, {"acked_at", "INTEGER", false}}},
      {"boot", {{"id", "TEXT", false}}},
  };
  return tables;
}

error_code check_columns(sqlite3* db, const std::string& path, std::string& detail) {
  for (const auto& want : schema_4_tables()) {
    sqlite::once info(db, "SELECT name, type, pk FROM pragma_table_info(?1) ORDER BY cid");
    auto& q = info.get();
    q.bind(1, std::string_view(want.name));
    std::size_t i = 0;
    bool same = true;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      same = same && i < want.columns.size() && q.str(0) == want.columns[i].name && q.str(1) == want.columns[i].type &&
             (q.i64(2) != 0) == want.columns[i].primary_key;
      ++i;
    }
    if (rc != SQLITE_DONE) {
      detail = sqlite3_errmsg(db);
      return sqlite::from_sqlite(rc);
    }
    if (!same || i != want.columns.size()) {
      detail = path + " is damaged: its table '" + want.name + "' is not the one spool's queue schema " +
               std::to_string(version) + " defines";
      return errc::io_error;
    }
  }
  return {};
}

}  // namespace

instant now(const time_source& t) {
  return {duration_cast<milliseconds>(t.since_boot()).count(),
          duration_cast<milliseconds>(t.wall().time_since_epoch()).count()};
}

error_code check_ours(sqlite3* db, const std::string& path, int& v, std::string& detail) {
  std::string text;
  if (auto ec = sqlite::query_text(db, "PRAGMA user_version", text, detail)) return ec;
  v = std::atoi(text.c_str());
  if (v > version) {
    detail = path + " was written by a newer spool (queue schema " + text + ")";
    return errc::invalid_argument;
  }
  if (v == 0) {
    if (auto ec = sqlite::query_text(db, "SELECT COUNT(*) FROM sqlite_master", text, detail)) return ec;
    if (text != "0") {
      detail = path + " is an SQLite database but not a spool queue";
      return errc::invalid_argument;
    }
  }
  return {};
}

error_code prepare(sqlite3* db, const std::string& path, const time_source& time, std::string& detail) {
  int v = 0;
  if (auto ec = check_ours(db, path, v, detail)) return ec;  // again: another process may have written it since
  std::string text;
  if (v == 0) {
    // A new database is made as schema 3 and upgraded like any other.
    const std::string create = std::string(messages_v2) + dead_v1 + acked_keys_v3;
    if (auto ec = sqlite::exec(db, create.c_str(), detail)) return ec;
    v = 3;
  }
  if (v < version) {
    error_code ec;
    if (!ec && v == 1) ec = upgrade_1_to_2(db, detail), v = 2;
    if (!ec && v == 2) ec = upgrade_2_to_3(db, detail), v = 3;
    if (!ec && v == 3) ec = upgrade_3_to_4(db, time, detail), v = 4;
    static_assert(version == 4, "an upgrade to the new version belongs above");
    if (!ec) ec = sqlite::exec(db, ("PRAGMA user_version = " + std::to_string(version)).c_str(), detail);
    if (ec) return ec;
  }

  if (auto ec = check_columns(db, path, detail)) return ec;

  const std::string boot = time.boot_id();
  if (auto e = sqlite::query_text(db, "SELECT id FROM boot LIMIT 1", text, detail)) return e;
  if (text != boot) return move_to_this_boot(db, time, boot, detail);
  return {};
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue::file_schema
