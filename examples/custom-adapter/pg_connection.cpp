#include "pg_connection.hpp"

#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace pgq {
namespace {

using spool::errc;

std::string trimmed(const char* message) {
  std::string s = message ? message : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The code the core acts on, from the statement's SQLSTATE: what the worker should do about it
// (retry soon, retry later, give up), not what went wrong inside PostgreSQL.
errc code_for(std::string_view sqlstate) {
  if (sqlstate.size() != 5) return errc::network;  // no SQLSTATE: the connection itself failed
  const std::string_view cls = sqlstate.substr(0, 2);
  if (sqlstate == "53100") return errc::no_space;
  if (sqlstate == "53200") return errc::out_of_memory;
  if (cls == "08" || cls == "57") return errc::network;  // connection lost, server shutting down
  if (cls == "53" || cls == "40" || sqlstate == "55P03") return errc::throttled;  // busy, deadlock, lock timeout
  if (cls == "28" || sqlstate == "42501") return errc::access_denied;
  if (cls == "42" || cls == "22" || cls == "23") return errc::internal;  // a statement of ours is wrong
  return errc::io_error;
}

}  // namespace

std::int64_t rows::int64(int row, int col) const {
  const auto s = text(row, col);
  std::int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

double rows::float8(int row, int col) const {
  const auto s = text(row, col);
  double v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

std::string rows::bytea(int row, int col) const {
  std::size_t n = 0;
  unsigned char* raw = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r_.get(), row, col)), &n);
  if (!raw) throw std::bad_alloc();
  std::string out(reinterpret_cast<const char*>(raw), n);
  PQfreemem(raw);
  return out;
}

std::int64_t rows::affected() const {
  const char* n = PQcmdTuples(r_.get());
  std::int64_t v = 0;
  std::from_chars(n, n + std::strlen(n), v);
  return v;
}

params& params::text(std::string v) {
  lengths_.push_back(static_cast<int>(v.size()));
  values_.push_back(std::move(v));
  nulls_.push_back(false);
  formats_.push_back(0);
  return *this;
}

params& params::binary(std::string_view bytes) {
  text(std::string(bytes));
  formats_.back() = 1;
  return *this;
}

params& params::null() {
  text({});
  nulls_.back() = true;
  return *this;
}

std::vector<const char*> params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) out.push_back(nulls_[i] ? nullptr : values_[i].data());
  return out;
}

spool::result<std::unique_ptr<connection>> connection::open(const std::string& conninfo) {
  PGconn* c = PQconnectdb(conninfo.c_str());
  if (!c) throw std::bad_alloc();
  if (PQstatus(c) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(c));
    PQfinish(c);
    const bool login = why.find("authentication failed") != std::string::npos ||
                       why.find("no password supplied") != std::string::npos ||
                       why.find("does not exist") != std::string::npos;
    return spool::error{login ? errc::access_denied : errc::network, "postgresql: cannot connect: " + why};
  }
  return std::unique_ptr<connection>(new connection(c));
}

spool::error connection::failure(std::string_view what, const PGresult* r) const {
  const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* message = r ? PQresultErrorMessage(r) : nullptr;
  if (!message || !*message) message = PQerrorMessage(conn_);
  return {code_for(state ? state : ""), "postgresql: " + std::string(what) + ": " + trimmed(message)};
}

spool::result<rows> connection::exec(std::string_view what, const char* sql, const params& p) {
  const auto values = p.pointers();
  rows r(PQexecParams(conn_, sql, p.count(), nullptr, values.data(), p.lengths(), p.formats(), 0));
  const auto status = PQresultStatus(r.get());  // a null result (no memory, no connection) is an error
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure(what, r.get());
  return r;
}

spool::error connection::command(std::string_view what, const char* sql) {
  rows r(PQexec(conn_, sql));
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) return failure(what, r.get());
  return {};
}

spool::error connection::wait_for_notification(std::string_view payload, milliseconds timeout, bool& seen) {
  seen = false;
  auto take = [&] {
    while (PGnotify* note = PQnotifies(conn_)) {
      if (payload == note->extra) seen = true;
      PQfreemem(note);
    }
  };
  take();  // read along with an earlier statement's rows
  if (seen) return {};
  pollfd fd{PQsocket(conn_), POLLIN, 0};
  const int ready = ::poll(&fd, 1, static_cast<int>(timeout.count()));
  if (ready < 0 && errno != EINTR)
    return spool::error{errc::io_error, std::string("postgresql: poll: ") + std::strerror(errno)};
  if (ready > 0 && !PQconsumeInput(conn_))
    return spool::error{errc::network, "postgresql: waiting for a notification: " + trimmed(PQerrorMessage(conn_))};
  take();
  return {};
}

bool connection::reusable() const {
  return !discard_ && PQstatus(conn_) == CONNECTION_OK && PQtransactionStatus(conn_) == PQTRANS_IDLE;
}

connection_pool::~connection_pool() = default;

connection_pool::lease::~lease() {
  if (c_) pool_->give_back(std::move(c_));
}

spool::result<connection_pool::lease> connection_pool::acquire() {
  std::unique_lock lock(mutex_);
  const bool free = returned_.wait_for(lock, std::chrono::seconds(30), [&] { return !idle_.empty() || open_ < max_; });
  if (!free)
    return spool::error{errc::throttled, "postgresql: all " + std::to_string(max_) +
                                             " connections of the pool stayed busy for 30 s (raise pool=)"};
  if (!idle_.empty()) {
    auto c = std::move(idle_.back());
    idle_.pop_back();
    return lease(this, std::move(c));
  }
  ++open_;  // the slot is ours while we connect without the lock
  lock.unlock();
  auto c = connection::open(conninfo_);
  if (!c) {
    lock.lock();
    --open_;
    returned_.notify_one();
    return c.error();
  }
  return lease(this, std::move(*c));
}

void connection_pool::give_back(std::unique_ptr<connection> c) {
  const bool keep = c->reusable();
  if (!keep) c.reset();  // closed outside the lock
  std::lock_guard lock(mutex_);
  if (keep)
    idle_.push_back(std::move(c));
  else
    --open_;
  returned_.notify_one();
}

}  // namespace pgq
