// The file:// queue on damaged database files, each rebuilt in code from a valid queue: what
// fuzz_file_queue (tests/fuzz) found, and the same rule for the damage it points at. A damaged file is
// the disk's or the operator's problem, so every failure is typed (io_error, a resource error), never
// `internal`, which would say spool has a bug.
#include <spool/error.hpp>
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <stdlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "spool-damage-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
};

/// A queue with two messages, one of them leased, closed again (its log folded into the file).
void make_queue(const fs::path& db) {
  std::shared_ptr<q::queue_adapter> queue;
  REQUIRE_FALSE(q::open("file://" + db.string(), queue));
  std::vector<q::send_result> sent;
  REQUIRE_FALSE(queue->send_batch({{"one", "key-1", 0ms}, {"two", "", 0ms}}, sent));
  std::vector<q::delivery> got;
  REQUIRE_FALSE(queue->receive({}, got));
  REQUIRE(got.size() == 1);
}

void run_sql(const fs::path& db, const std::string& sql) {
  sqlite3* h = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err);
  std::string why = err ? err : "";
  sqlite3_free(err);
  sqlite3_close(h);
  INFO(why);
  REQUIRE(rc == SQLITE_OK);
}

std::string describe(const spool::error_code& ec) {
  return spool::code_name(ec) + " (" + std::string(spool::to_string(spool::kind_of(ec))) + ")";
}

}  // namespace

TEST_CASE("Queue::File::Damaged: a table whose key column was altered is refused at open as io_error",
          "[queue][fuzz]") {
  // fuzz_file_queue flipped one byte of "PRIMARY" in the stored CREATE TABLE: seq stopped being the
  // rowid, every receive then found its own row gone and failed as `internal`.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db,
          "PRAGMA writable_schema = ON;"
          "UPDATE sqlite_master SET sql = replace(sql, 'seq INTEGER PRIMARY KEY', 'seq INTEGER PRIMxRY KEY') "
          "WHERE name = 'messages';");

  std::shared_ptr<q::queue_adapter> queue;
  std::string detail;
  auto ec = q::open("file://" + db.string(), queue, &detail);
  INFO(describe(ec) << ": " << detail);
  CHECK(ec == spool::errc::io_error);
  CHECK(detail.find("damaged") != std::string::npos);
  CHECK_FALSE(queue);
}

TEST_CASE("Queue::File::Damaged: a missing column is refused at open as io_error", "[queue][fuzz]") {
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db, "ALTER TABLE dead DROP COLUMN last_error_json;");

  std::shared_ptr<q::queue_adapter> queue;
  std::string detail;
  auto ec = q::open("file://" + db.string(), queue, &detail);
  INFO(describe(ec) << ": " << detail);
  CHECK(ec == spool::errc::io_error);
  CHECK_FALSE(queue);
}

TEST_CASE("Queue::File::Damaged: an unsupported file format number is io_error, not internal", "[queue][fuzz]") {
  // Bytes 44-47 of an SQLite file hold its schema format number (1-4); SQLite refuses others with a
  // plain SQLITE_ERROR ("unsupported file format"), which open() reported as `internal`.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(44);
    const char format[4] = {0, 0, 0, 9};
    f.write(format, 4);
    REQUIRE(f.good());
  }
  std::shared_ptr<q::queue_adapter> queue;
  std::string detail;
  auto ec = q::open("file://" + db.string(), queue, &detail);
  INFO(describe(ec) << ": " << detail);
  REQUIRE(ec);
  CHECK(spool::kind_of(ec) == spool::category_kind::resource);
  CHECK_FALSE(queue);
}

TEST_CASE("Queue::File::Damaged: a message in both the live and the dead table cannot be redriven, typed",
          "[queue][fuzz]") {
  // Redriving inserts the dead row into messages, where its id is still present: a UNIQUE failure that
  // only a damaged or hand-edited file can cause.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db,
          "INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
          "SELECT id, body, NULL, 'copied', '', 1, sent_at, sent_at FROM messages LIMIT 1;");

  std::shared_ptr<q::queue_adapter> queue;
  REQUIRE_FALSE(q::open("file://" + db.string(), queue));
  std::size_t moved = 0;
  auto ec = queue->redrive("", moved);
  INFO(describe(ec));
  CHECK(ec == spool::errc::io_error);
  CHECK(moved == 0);
  q::queue_stats st;
  REQUIRE_FALSE(queue->stats(st));
  CHECK(st.dead == 1);  // the failed redrive changed nothing
}

TEST_CASE("Queue::File::Damaged: times and counts beyond what the types hold are clamped, not overflowed",
          "[queue][fuzz]") {
  // fuzz_file_queue found a dead_at of 37920293659628 ms (the year 3171): converting it to the
  // clock's nanoseconds overflowed (undefined behaviour; in practice it wrapped to 2002, before the
  // message was even sent). A receive count at INT_MAX overflowed when the next delivery added one.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db,
          "INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
          "VALUES ('far', 'x', NULL, 'r', '', 9223372036854775807, 1000, 37920293659628);"
          "UPDATE messages SET receive_count = 2147483647, visible_at = 0, receipt = NULL;");

  std::shared_ptr<q::queue_adapter> queue;
  REQUIRE_FALSE(q::open("file://" + db.string(), queue));
  std::vector<q::dead_letter_record> dead;
  REQUIRE_FALSE(queue->list_dead(dead));
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].dead_at > dead[0].sent_at);
  CHECK(dead[0].dead_at > q::clock::now() + std::chrono::hours(24 * 365 * 100));
  CHECK(dead[0].receive_count > 0);

  std::vector<q::delivery> got;
  q::receive_options ro;
  ro.max_messages = 10;
  REQUIRE_FALSE(queue->receive(ro, got));
  REQUIRE_FALSE(got.empty());
  for (const auto& d : got) CHECK(d.receive_count > 0);
}
