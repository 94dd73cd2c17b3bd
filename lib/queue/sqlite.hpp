#pragma once
// Internal: the pieces of SQLite the file queue uses, with errors in spool's taxonomy.
#include <spool/error.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue::sqlite {

// SQLite result codes in spool's taxonomy. SQLITE_BUSY/LOCKED only reach us after busy_timeout
// (10 s) of waiting for another process's write lock: contention, not a broken disk, so it is
// errc::throttled (transient, retried soon) rather than io_error.
inline error_code from_sqlite(int rc) {
  switch (rc & 0xff) {
    case SQLITE_OK:
    case SQLITE_ROW:
    case SQLITE_DONE: return {};
    case SQLITE_FULL: return errc::no_space;
    case SQLITE_NOMEM: return errc::out_of_memory;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return errc::throttled;
    case SQLITE_TOOBIG: return errc::invalid_argument;
    // Every write keeps the queue's invariants (ids unique across live and dead messages, one
    // message per dedup key) inside one transaction, so a constraint failing means the file was
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
    default: return errc::internal;  // MISUSE, SCHEMA, ...: a bug here
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

/// Runs `sql` (any number of statements); on failure `detail` says why.
inline error_code exec(sqlite3* db, const char* sql, std::string& detail) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK) {
    detail = msg ? msg : sqlite3_errstr(rc);
    sqlite3_free(msg);
    return from_sqlite(rc);
  }
  return {};
}

/// The first column of the first row of `sql` as text ("" for NULL or no row).
inline error_code query_text(sqlite3* db, const char* sql, std::string& out, std::string& detail) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(s, 0);
      out = t ? reinterpret_cast<const char*>(t) : "";
      rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
      out.clear();
      rc = SQLITE_OK;
    }
  }
  if (rc != SQLITE_OK) detail = sqlite3_errmsg(db);
  sqlite3_finalize(s);
  return from_sqlite(rc);
}

/// A one-off statement (not cached), finalized when it goes out of scope.
class once {
 public:
  once(sqlite3* db, const char* sql) : rc_(prepare(db, sql, s_)), st_(prepared{s_.get(), rc_}) {}
  stmt& get() { return st_; }

 private:
  struct finalize {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
  };
  using handle = std::unique_ptr<sqlite3_stmt, finalize>;
  static int prepare(sqlite3* db, const char* sql, handle& out) {
    sqlite3_stmt* s = nullptr;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
    out.reset(s);
    return rc;
  }

  handle s_;  // declared first: finalized after st_ has reset it
  int rc_;
  stmt st_;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue::sqlite
