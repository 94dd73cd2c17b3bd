// The file:// queue on damaged database files, each made in code from a valid queue: what
// fuzz_file_queue (tests/fuzz) found, and the same rule for the damage it points at. A damaged file is
// the disk's or the operator's problem, so every failure is typed (io_error, a resource error), never
// `internal`, which would say spool has a bug.
#include <spool/error.hpp>
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <climits>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "queue_helpers.hpp"
#include "sqlite_helpers.hpp"

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;
using queue_test::run_sql;
using queue_test::temp_dir;
using queue_test::text;

namespace {

/// A queue with two messages, one of them leased, closed again (its log folded into the file).
void make_queue(const fs::path& db) {
  auto queue = queue_test::file_queue(db);
  auto sent = queue_test::value_of(queue->send_batch({{"one", "key-1", 0ms}, {"two", "", 0ms}}));
  REQUIRE(sent.size() == 2);
  REQUIRE(queue_test::receive(*queue, 1).size() == 1);
}

/// Opening `db` must fail; returns the error.
spool::error refused(const fs::path& db) {
  auto r = q::open_queue("file://" + db.string());
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

std::shared_ptr<q::queue_adapter> open(const fs::path& db) {
  return queue_test::value_of(q::open_queue("file://" + db.string()));
}

}  // namespace

TEST_CASE("Queue::File::Damaged: a table whose key column was altered is refused at open as io_error",
          "[queue][fuzz][damaged]") {
  // fuzz_file_queue flipped one byte of "PRIMARY" in the stored CREATE TABLE: seq stopped being the
  // rowid, and every receive then found its own row gone.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db,
          "PRAGMA writable_schema = ON;"
          "UPDATE sqlite_master SET sql = replace(sql, 'seq INTEGER PRIMARY KEY', 'seq INTEGER PRIMxRY KEY') "
          "WHERE name = 'messages';");

  auto e = refused(db);
  INFO(text(e));
  CHECK(e.code == spool::errc::io_error);
  CHECK(e.what().find("damaged") != std::string::npos);
  CHECK(e.what().find("'messages'") != std::string::npos);
  // The refusal names the file once, however deep the reason was found.
  const std::string what = e.what();
  const auto first = what.find(db.string());
  REQUIRE(first != std::string::npos);
  CHECK(what.find(db.string(), first + 1) == std::string::npos);
}

TEST_CASE("Queue::File::Damaged: a missing column is refused at open as io_error", "[queue][fuzz][damaged]") {
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db, "ALTER TABLE dead DROP COLUMN last_error_json;");

  auto e = refused(db);
  INFO(text(e));
  CHECK(e.code == spool::errc::io_error);
  CHECK(e.what().find("'dead'") != std::string::npos);
}

TEST_CASE("Queue::File::Damaged: a schema-4 file without its visible_wall column is refused at open as io_error",
          "[queue][fuzz][damaged]") {
  // visible_wall is what carries a delay across a reboot; without it the next reboot's move fails.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db, "ALTER TABLE messages DROP COLUMN visible_wall;");

  auto e = refused(db);
  INFO(text(e));
  CHECK(e.code == spool::errc::io_error);
  CHECK(e.what().find("'messages'") != std::string::npos);
}

TEST_CASE("Queue::File::Damaged: an unsupported file format number is a resource error, not internal",
          "[queue][fuzz][damaged]") {
  // Bytes 44-47 of an SQLite file hold its schema format number (1-4); SQLite refuses others with a
  // plain SQLITE_ERROR ("unsupported file format").
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
  auto e = refused(db);
  INFO(text(e));
  CHECK(spool::kind_of(e.code) == spool::category_kind::resource);
}

TEST_CASE("Queue::File::Damaged: a message in both the live and the dead table cannot be redriven, typed",
          "[queue][fuzz][damaged]") {
  // Redriving inserts the dead row into messages, where its id is still present: a UNIQUE failure that
  // only a damaged or hand-edited file can cause.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db,
          "INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
          "SELECT id, body, NULL, 'copied', '', 1, sent_at, sent_at FROM messages LIMIT 1;");

  auto queue = open(db);
  REQUIRE(queue->dead_letters());
  auto moved = queue->dead_letters()->redrive("");
  REQUIRE_FALSE(moved.has_value());
  INFO(text(moved.error()));
  CHECK(moved.error().code == spool::errc::io_error);
  auto st = queue_test::stats(*queue);
  CHECK(st.dead == 1);  // the failed redrive changed nothing
  CHECK(st.visible + st.in_flight == 2);
}

TEST_CASE("Queue::File::Damaged: times and counts beyond what the types hold are clamped, not overflowed",
          "[queue][fuzz][damaged]") {
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

  auto queue = open(db);
  auto dead = queue_test::all_dead(*queue);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].dead_at > dead[0].sent_at);
  CHECK(dead[0].dead_at > q::clock::now() + std::chrono::hours(24 * 365 * 100));
  CHECK(dead[0].receive_count > 0);

  auto got = queue_test::receive(*queue, 10);
  REQUIRE(got.size() == 2);
  for (const auto& d : got) CHECK(d.receive_count > 0);
}

TEST_CASE("Queue::File::Damaged: a send time far in the past gives a large age, not an overflowed one",
          "[queue][fuzz][damaged]") {
  // The oldest message's age is now - sent_at: with sent_at near INT64_MIN that difference does not
  // fit in 64 bits (it wrapped to a negative age, shown as 0).
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db, "UPDATE messages SET sent_at = -9223372036854775807;");

  auto st = queue_test::stats(*open(db));
  const double century_s = 100.0 * 365 * 24 * 3600;
  CHECK(st.oldest_age_s > century_s);
}

TEST_CASE("Queue::File::Damaged: a long poll on a message due at the end of time waits its time and returns",
          "[queue][fuzz][damaged]") {
  // The poll sleeps until the earliest visible_at; from a damaged file that may be any integer, and
  // turning it into the steady clock's nanoseconds overflowed (UndefinedBehaviorSanitizer reports it).
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db, "UPDATE messages SET visible_at = 9223372036854775807, receipt = NULL;");

  auto queue = open(db);
  q::receive_options o;
  o.max_messages = 10;
  o.wait = 100ms;
  const auto started = std::chrono::steady_clock::now();
  auto got = queue_test::value_of(queue->receive(o));
  CHECK(got.empty());
  CHECK(std::chrono::steady_clock::now() - started >= o.wait);
  CHECK(queue_test::stats(*queue).delayed == 2);
}

TEST_CASE("Queue::File::Damaged: a message selected for delivery that cannot then be leased is io_error",
          "[queue][fuzz][damaged]") {
  // receive selects the visible rows and leases them in one transaction; if the update matches no row
  // (here a trigger added to the file ignores it) the file is at fault, not spool.
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  make_queue(db);
  run_sql(db, "CREATE TRIGGER ignore_leases BEFORE UPDATE OF receipt ON messages BEGIN SELECT RAISE(IGNORE); END;");

  auto queue = open(db);
  q::receive_options o;
  o.max_messages = 10;
  auto got = queue->receive(o);
  REQUIRE_FALSE(got.has_value());
  INFO(text(got.error()));
  CHECK(got.error().code == spool::errc::io_error);
  CHECK(got.error().what().find("damaged") != std::string::npos);
}

TEST_CASE("Queue::File::Damaged: paging through dead letters whose b-tree is out of order ends",
          "[queue][fuzz][damaged]") {
  // fuzz_file_queue: a damaged page of the dead table gave rows whose seq was 0 after a seq of 1, so
  // the next page's position went back to "0" and a host paging until `next` is empty never stopped.
  // Rebuilt here on a valid file: four dead letters on one leaf page, their rowids 1, 2, 3, 4
  // overwritten with 1, 9, 0, 0 (SQLite reads such a page without noticing; pages of one record
  // then went 1, 9, 0, 1, ...).
  temp_dir dir;
  const fs::path db = dir.path / "q.db";
  {
    auto queue = queue_test::file_queue(db);
    for (const char* body : {"a", "b", "c", "d"}) queue_test::send(*queue, body);
    for (const auto& d : queue_test::receive(*queue, 4)) queue_test::dead_letter(*queue, d, "test");
  }
  std::int64_t page_size = 0, root = 0;
  {
    sqlite3* h = nullptr;
    REQUIRE(sqlite3_open(db.c_str(), &h) == SQLITE_OK);
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(h,
                               "SELECT (SELECT page_size FROM pragma_page_size), rootpage FROM sqlite_master "
                               "WHERE name = 'dead'",
                               -1, &s, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(s) == SQLITE_ROW);
    page_size = sqlite3_column_int64(s, 0);
    root = sqlite3_column_int64(s, 1);
    sqlite3_finalize(s);
    sqlite3_close(h);
  }
  REQUIRE(fs::file_size(db) >= static_cast<std::uintmax_t>(root * page_size));
  {
    std::fstream f(db, std::ios::in | std::ios::out | std::ios::binary);
    const std::int64_t page = (root - 1) * page_size;
    auto byte_at = [&](std::int64_t at) {
      f.seekg(at);
      return static_cast<unsigned char>(f.get());
    };
    REQUIRE(byte_at(page) == 0x0D);  // a table leaf page: the dead letters fit on one
    const int cells = byte_at(page + 3) << 8 | byte_at(page + 4);
    REQUIRE(cells == 4);
    const int damaged[] = {1, 9, 0, 0};
    for (int i = 0; i < cells; ++i) {
      const std::int64_t cell = page + (byte_at(page + 8 + 2 * i) << 8 | byte_at(page + 9 + 2 * i));
      std::int64_t at = cell;
      while (byte_at(at) & 0x80) ++at;    // the payload size, a varint
      REQUIRE(byte_at(at + 1) == i + 1);  // the rowid, a one-byte varint
      f.seekp(at + 1);
      f.put(static_cast<char>(damaged[i]));
    }
    REQUIRE(f.good());
  }

  auto queue = open(db);
  std::set<std::string> seen;
  std::string after;
  for (int call = 0; call < 10; ++call) {
    auto page = queue->dead_letters()->list_dead(after, 1);
    if (!page) {
      INFO(text(page.error()));
      CHECK(page.error().code == spool::errc::io_error);
      break;
    }
    if (page->next.empty()) break;
    INFO("page position " << page->next);
    REQUIRE(seen.insert(page->next).second);  // a position given twice pages forever
    after = page->next;
  }
}
