#pragma once
// The file:// queue's tests reach into its SQLite file: to write an old schema or damage, and to read
// back what the queue left there.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

namespace queue_test {

/// Runs `sql` (one or more statements) on the database at `path`, creating it if need be.
inline void run_sql(const std::filesystem::path& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  std::string why = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(db);
  INFO(why);
  REQUIRE(rc == SQLITE_OK);
}

/// The first row `query` gives on the database at `path`, each column as text.
inline std::vector<std::string> first_row(const std::filesystem::path& path, const std::string& query) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  const int prepared = sqlite3_prepare_v2(db, query.c_str(), -1, &st, nullptr);
  std::vector<std::string> row;
  const int stepped = prepared == SQLITE_OK ? sqlite3_step(st) : prepared;
  if (stepped == SQLITE_ROW)
    for (int i = 0; i < sqlite3_column_count(st); ++i) {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, i));
      row.emplace_back(t ? t : "");
    }
  sqlite3_finalize(st);
  sqlite3_close(db);
  INFO(query);
  REQUIRE(stepped == SQLITE_ROW);
  return row;
}

}  // namespace queue_test
