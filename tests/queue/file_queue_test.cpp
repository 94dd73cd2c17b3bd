// What the conformance suite cannot check of file:// on its own: durability across reopen and
// SIGKILL, the upgrade of an old schema, and the files it refuses to open.
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "queue_helpers.hpp"
#include "sqlite_helpers.hpp"

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;
using queue_test::first_row;
using queue_test::run_sql;
using queue_test::temp_dir;
using spool::errc;

namespace {}  // namespace

TEST_CASE("Queue::File::Reopen: messages outlive the queue object", "[queue]") {
  temp_dir dir;
  auto path = dir.path / "q.db";
  std::vector<std::string> ids;
  std::string dead_id;
  {
    auto q = queue_test::file_queue(path);
    for (int i = 0; i < 3; ++i) ids.push_back(queue_test::send(*q, "kept " + std::to_string(i)));
    // One dead-lettered, to check the dead-letter store is durable too.
    dead_id = queue_test::send(*q, "dead");
    auto got = queue_test::receive(*q);
    REQUIRE(got.size() == 4);
    for (const auto& d : got) {
      if (d.message_id == dead_id)
        queue_test::dead_letter(*q, d, "test");
      else
        REQUIRE_FALSE(q->nack(d, 0ms));
    }
  }
  auto q = queue_test::file_queue(path);
  auto st = queue_test::stats(*q);
  CHECK(st.visible == 3);
  CHECK(st.dead == 1);
  auto got = queue_test::receive(*q);
  REQUIRE(got.size() == 3);
  for (const auto& d : got) {
    CHECK(std::find(ids.begin(), ids.end(), d.message_id) != ids.end());
    CHECK(d.receive_count == 2);  // the count survives the reopen
    CHECK_FALSE(q->ack(d));
  }
  auto dead = queue_test::all_dead(*q);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].message_id == dead_id);
  CHECK(dead[0].body == "dead");
}

TEST_CASE("Queue::File::Upgrade: a schema-1 file is upgraded in place, keeping messages, leases, dead letters and keys",
          "[queue]") {
  temp_dir dir;
  auto path = (dir.path / "v1.db").string();
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(spool::queue::clock::now().time_since_epoch()).count();
  // What schema 1 created, with one visible message, one leased and one dead.
  run_sql(
      path,
      "PRAGMA journal_mode=WAL;"
      "CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,"
      "  dedup_key TEXT UNIQUE, sent_at INTEGER NOT NULL, visible_at INTEGER NOT NULL, receipt TEXT,"
      "  lease_expires_at INTEGER, receive_count INTEGER NOT NULL DEFAULT 0, first_received_at INTEGER);"
      "CREATE INDEX messages_visible ON messages (visible_at, seq);"
      "CREATE TABLE dead (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,"
      "  dedup_key TEXT UNIQUE, reason TEXT NOT NULL, last_error_json TEXT NOT NULL, receive_count INTEGER NOT NULL,"
      "  sent_at INTEGER NOT NULL, dead_at INTEGER NOT NULL);"
      "CREATE INDEX dead_dead_at ON dead (dead_at, seq);"
      "PRAGMA user_version = 1;"
      "CREATE TEMP TABLE t AS SELECT " +
          std::to_string(now) +
          " AS now;"
          "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at) SELECT 'm-visible', 'kept', 'job-1', "
          "  now, now FROM t;"
          "INSERT INTO messages (id, body, sent_at, visible_at, receipt, lease_expires_at, receive_count, "
          "  first_received_at) SELECT 'm-leased', 'busy', now, now + 600000, 'r-leased', now + 600000, 1, now "
          "  FROM t;"
          "INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
          "  SELECT 'm-dead', 'doomed', 'job-9', 'test', '', 5, now, now FROM t;");

  auto q = queue_test::file_queue(path);
  auto st = queue_test::stats(*q);
  CHECK(st.visible == 1);
  CHECK(st.in_flight == 1);
  CHECK(st.dead == 1);

  // Dedup keys of live and dead messages are still known.
  auto s = queue_test::value_of(q->send({"again", "job-1", 0ms}));
  CHECK(s.duplicate);
  CHECK(s.message_id == "m-visible");
  s = queue_test::value_of(q->send({"again", "job-9", 0ms}));
  CHECK(s.duplicate);
  CHECK(s.message_id == "m-dead");

  // The lease taken before the upgrade is still current: its receipt acks.
  q::delivery leased;
  leased.message_id = "m-leased";
  leased.receipt = "r-leased";
  CHECK_FALSE(q->ack(leased));

  // Messages sent after the upgrade come after the old ones.
  s = queue_test::value_of(q->send({"new", "job-2", 0ms}));
  CHECK_FALSE(s.duplicate);
  auto got = queue_test::receive(*q);
  REQUIRE(got.size() == 2);
  CHECK(got[0].message_id == "m-visible");
  CHECK(got[0].body == "kept");
  CHECK(got[0].receive_count == 1);
  CHECK(got[1].message_id == s.message_id);
  for (const auto& d : got) CHECK_FALSE(q->ack(d));
  auto dead = queue_test::all_dead(*q);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].body == "doomed");
  // Acknowledged, job-1's key is still remembered (the dedup window came with the upgrade).
  s = queue_test::value_of(q->send({"retried submit", "job-1", 0ms}));
  CHECK(s.duplicate);
  CHECK(s.message_id == "m-visible");
  q.reset();

  // Opening it again finds the current schema and changes nothing.
  q = queue_test::file_queue(path);
  st = queue_test::stats(*q);
  CHECK(st.visible + st.in_flight + st.delayed == 0);
  CHECK(st.dead == 1);
  q.reset();
  CHECK(first_row(path, "PRAGMA user_version").at(0) == "4");
}

TEST_CASE("Queue::File::Crash: a send that returned survives SIGKILL of the sender", "[queue]") {
  // Fork first, before this process has any threads of its own.
  temp_dir dir;
  auto path = (dir.path / "q.db").string();
  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ready[0]);
    char status = 'x';
    if (auto q = q::make_file_queue(path); q && (*q)->send({"survivor", {}, 0ms})) status = 'k';
    // Tell the parent the send returned, then wait to be killed with the queue still open.
    if (::write(ready[1], &status, 1) != 1) ::_exit(3);
    for (;;) ::pause();
  }
  ::close(ready[1]);
  char status = 0;
  auto n = ::read(ready[0], &status, 1);
  ::close(ready[0]);
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  REQUIRE(n == 1);
  REQUIRE(status == 'k');
  CHECK(WIFSIGNALED(wstatus));

  auto q = queue_test::file_queue(path);
  auto got = queue_test::receive(*q, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "survivor");
  CHECK(got[0].receive_count == 1);
  CHECK_FALSE(q->ack(got[0]));
}

TEST_CASE("Queue::File::Refusals: paths and files that are not a spool queue are invalid_argument, naming the file",
          "[queue]") {
  temp_dir dir;
  auto refused = [](const std::string& path, const std::string& says) {
    auto q = q::make_file_queue(path);
    INFO(path);
    REQUIRE_FALSE(q.has_value());
    INFO(q.error().message);
    CHECK(q.error().code == errc::invalid_argument);
    CHECK(q.error().message.find(says) != std::string::npos);
  };
  refused("relative/q.db", "absolute");
  refused(dir.path.string(), "is a directory");
  auto text = (dir.path / "notes.txt").string();
  {
    std::ofstream out(text);
    for (int i = 0; i < 40; ++i) out << "these are not the rows you are looking for, not by a long way\n";
  }
  refused(text, text);
  auto foreign = (dir.path / "foreign.db").string();
  run_sql(foreign, "CREATE TABLE t (x);");
  refused(foreign, "not a spool queue");
  auto newer = (dir.path / "newer.db").string();
  run_sql(newer, "PRAGMA user_version = 99;");
  refused(newer, "newer spool");
  // None of them was changed into a queue, nor had its journal mode switched.
  CHECK_FALSE(fs::exists(dir.path / "relative"));
  for (const auto& db_path : {foreign, newer}) {
    CHECK(first_row(db_path, "PRAGMA journal_mode").at(0) == "delete");
  }
  std::ifstream in(text);
  std::string line;
  std::getline(in, line);
  CHECK(line.rfind("these are not the rows", 0) == 0);
}

TEST_CASE("Queue::File::DeadLetterPages: a position that is not one of the store's is invalid_argument", "[queue]") {
  temp_dir dir;
  auto q = queue_test::file_queue(dir.path / "q.db");
  auto* store = q->dead_letters();
  REQUIRE(store);
  for (const char* after : {"x", "12abc", "-3"}) {
    auto page = store->list_dead(after, 10);
    INFO(after);
    REQUIRE_FALSE(page.has_value());
    CHECK(page.error().code == errc::invalid_argument);
  }
}
