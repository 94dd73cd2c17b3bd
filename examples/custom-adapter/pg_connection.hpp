#pragma once
// libpq, wrapped just enough: a statement's result, its parameters, one connection, and a pool of
// them. A libpq connection serves one thread at a time, and the adapter is called from many, so every
// operation borrows a connection from the pool for the length of its statement (a long poll, for
// the length of its wait).
#include <spool/error.hpp>
#include <spool/queue/adapter.hpp>

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace pgq {

namespace q = spool::queue;
using std::chrono::milliseconds;

/// One statement's rows, read as text (the protocol's default); bytea columns are unescaped.
class rows {
 public:
  explicit rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return PQntuples(r_.get()); }
  bool is_null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  std::string_view text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
  }
  std::int64_t int64(int row, int col) const;
  double float8(int row, int col) const;
  std::string bytea(int row, int col) const;
  /// A column holding milliseconds since the epoch.
  q::clock::time_point time(int row, int col) const { return q::clock::time_point(milliseconds(int64(row, col))); }
  /// How many rows an INSERT, UPDATE or DELETE touched.
  std::int64_t affected() const;
  const PGresult* get() const { return r_.get(); }

 private:
  std::unique_ptr<PGresult, decltype(&PQclear)> r_;
};

/// A statement's parameters, $1, $2, ... in order. Text unless added with `binary` (bytea, sent as is).
class params {
 public:
  params& text(std::string v);
  params& int64(std::int64_t v) { return text(std::to_string(v)); }
  params& binary(std::string_view bytes);
  params& null();

  int count() const { return static_cast<int>(values_.size()); }
  std::vector<const char*> pointers() const;
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<int> lengths_, formats_;
};

class connection {
 public:
  /// Connects; a server that cannot be reached is errc::network, one that refuses the login
  /// errc::access_denied.
  static spool::result<std::unique_ptr<connection>> open(const std::string& conninfo);
  ~connection() { PQfinish(conn_); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;

  /// Runs one statement. `what` names it in an error's message.
  spool::result<rows> exec(std::string_view what, const char* sql, const params& p = {});
  /// Runs statements without parameters or rows (LISTEN, BEGIN, the schema).
  spool::error command(std::string_view what, const char* sql);

  /// Waits up to `timeout` for a NOTIFY whose payload is `payload` (on a channel this connection
  /// LISTENs to); `seen` says whether one came. Others are read and dropped.
  spool::error wait_for_notification(std::string_view payload, milliseconds timeout, bool& seen);

  /// Fit to go back to the pool: connected, outside a transaction, and not marked.
  bool reusable() const;
  /// Keeps it out of the pool (a LISTEN that could not be undone).
  void discard() { discard_ = true; }

 private:
  explicit connection(PGconn* c) : conn_(c) {}
  spool::error failure(std::string_view what, const PGresult* r) const;

  PGconn* conn_;
  bool discard_ = false;
};

/// Up to `max` connections, opened when first needed and kept while they work.
class connection_pool {
 public:
  connection_pool(std::string conninfo, std::size_t max) : conninfo_(std::move(conninfo)), max_(max) {}
  ~connection_pool();

  /// A borrowed connection; it goes back to the pool (or is closed, if broken) when destroyed.
  class lease {
   public:
    lease(connection_pool* pool, std::unique_ptr<connection> c) : pool_(pool), c_(std::move(c)) {}
    lease(lease&&) = default;
    lease& operator=(lease&&) = delete;
    ~lease();
    connection& operator*() const { return *c_; }
    connection* operator->() const { return c_.get(); }

   private:
    connection_pool* pool_;
    std::unique_ptr<connection> c_;
  };

  /// An idle connection, a new one, or (all `max` busy) the first one given back within 30 s.
  spool::result<lease> acquire();

 private:
  void give_back(std::unique_ptr<connection> c);

  const std::string conninfo_;
  const std::size_t max_;
  std::mutex mutex_;
  std::condition_variable returned_;
  std::vector<std::unique_ptr<connection>> idle_;
  std::size_t open_ = 0;  // idle and lent out
};

}  // namespace pgq
