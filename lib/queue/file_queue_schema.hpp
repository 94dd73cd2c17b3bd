#pragma once
// Internal: the file queue's tables, their upgrades from older spool versions, and the move of
// boot-relative times onto a new boot.
#include <spool/error.hpp>
#include <spool/queue/time_source.hpp>

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue::file_schema {

/// The schema this spool writes (PRAGMA user_version).
inline constexpr int version = 4;
/// Longest delay and lease the file queue grants (caps().max_delay, caps().max_lease).
inline constexpr std::int64_t max_wait_ms = 12LL * 3600 * 1000;

/// Milliseconds on both clocks, read together.
struct instant {
  std::int64_t boot = 0;  ///< time_source::since_boot()
  std::int64_t wall = 0;  ///< time_source::wall(), since the epoch
};
instant now(const time_source& t);

/// Refuses (invalid_argument) a database written by a newer spool, or one that holds tables but is
/// not a spool queue; sets `v` to its schema version (0: empty). Read-only: file_queue asks before it
/// changes anything about the file, such as its journal mode.
error_code check_ours(sqlite3* db, const std::string& path, int& v, std::string& detail);

/// Inside a write transaction (BEGIN IMMEDIATE): creates the tables in an empty database, upgrades
/// an older schema in place, or refuses a newer one or a foreign database (invalid_argument: the
/// host named the wrong file). A file whose tables then lack a column of this schema, or have one of
/// another type, is damaged (io_error). Then, if the database's times belong to another boot, moves
/// them onto this one: every lease ends, and a delay keeps what is left of it by the wall clock (at
/// most max_wait_ms).
error_code prepare(sqlite3* db, const std::string& path, const time_source& time, std::string& detail);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue::file_schema
