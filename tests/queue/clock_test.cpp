// Leases and delays against wall-clock steps and reboots, with clocks the test moves by hand; and the
// file queue's upgrade of a schema-3 file, whose times were wall-clock times.
#include <spool/queue/registry.hpp>
#include <spool/queue/time_source.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "queue_helpers.hpp"
#include "sqlite_helpers.hpp"

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;
using spool::errc;

namespace {

using queue_test::first_row;
using queue_test::run_sql;
using queue_test::temp_dir;

// One backend on a manual clock; `reopen` gives a new object on the same store (file:// only).
struct backend {
  std::string name;
  std::shared_ptr<q::manual_time_source> time = std::make_shared<q::manual_time_source>();
  std::shared_ptr<q::queue_adapter> queue;
  std::function<std::shared_ptr<q::queue_adapter>()> reopen;
};

std::vector<std::string> received_ids(q::queue_adapter& queue, std::vector<q::delivery>* out = nullptr,
                                      std::chrono::milliseconds lease = 60s) {
  auto got = queue_test::receive(queue, 10, lease);
  std::vector<std::string> ids;
  for (const auto& d : got) ids.push_back(d.message_id);
  if (out) *out = got;
  return ids;
}

q::queue_stats stats_of(q::queue_adapter& queue) { return queue_test::stats(queue); }

std::string send(q::queue_adapter& queue, const std::string& body, std::chrono::milliseconds delay = 0ms) {
  return queue_test::send(queue, body, {}, delay);
}

// Runs `check` on mem:// and on file://, each on a clock of its own.
template <class Check>
void on_both(Check check) {
  SECTION("mem://") {
    backend b;
    b.name = "mem://";
    b.queue = q::make_memory_queue(b.time);
    check(b);
  }
  SECTION("file://") {
    temp_dir dir;
    backend b;
    b.name = "file://";
    auto path = (dir.path / "q.db").string();
    b.reopen = [path, t = b.time] { return queue_test::file_queue(path, t); };
    b.queue = b.reopen();
    check(b);
    b.queue.reset();
  }
}

}  // namespace

TEST_CASE("Queue::Clock: a wall-clock step forward does not expire a lease", "[queue][clock]") {
  on_both([](backend& b) {
    auto id = send(*b.queue, "encode");
    std::vector<q::delivery> d;
    REQUIRE(received_ids(*b.queue, &d, 60s) == std::vector<std::string>{id});
    b.time->advance(10s);
    b.time->step_wall(1h);  // an NTP correction far larger than the lease
    CHECK(received_ids(*b.queue).empty());
    auto s = stats_of(*b.queue);
    CHECK(s.in_flight == 1);
    CHECK(s.visible == 0);
    // The heartbeat still extends it, and the receipt still acks.
    auto expires = queue_test::value_of(b.queue->extend(d[0], 60s));
    CHECK(expires >= b.time->wall() + 59s);  // reported in wall-clock time, for display
    b.time->advance(50s);                    // 60 s after the receive, 50 s into the extension
    CHECK(received_ids(*b.queue).empty());
    CHECK_FALSE(b.queue->ack(d[0]));
    CHECK(stats_of(*b.queue).in_flight + stats_of(*b.queue).visible == 0);
  });
}

TEST_CASE("Queue::Clock: a wall-clock step back does not hide an expired lease", "[queue][clock]") {
  on_both([](backend& b) {
    auto id = send(*b.queue, "encode");
    std::vector<q::delivery> first;
    REQUIRE(received_ids(*b.queue, &first, 60s) == std::vector<std::string>{id});
    b.time->step_wall(-1h);
    b.time->advance(30s);
    CHECK(received_ids(*b.queue).empty());  // the step did not end the lease either
    CHECK(stats_of(*b.queue).in_flight == 1);
    // The worker died; 61 s after the receive its lease is over, whatever the wall clock says.
    b.time->advance(31s);
    std::vector<q::delivery> again;
    CHECK(received_ids(*b.queue, &again) == std::vector<std::string>{id});
    REQUIRE(again.size() == 1);
    CHECK(again[0].receive_count == 2);
    CHECK(b.queue->ack(first[0]).code == errc::lease_lost);
    CHECK_FALSE(b.queue->ack(again[0]));
  });
}

TEST_CASE("Queue::Clock: delays run on the steady clock, not the wall clock", "[queue][clock]") {
  on_both([](backend& b) {
    auto later = send(*b.queue, "in ten minutes", 10min);
    b.time->step_wall(1h);
    CHECK(received_ids(*b.queue).empty());
    CHECK(stats_of(*b.queue).delayed == 1);
    b.time->step_wall(-2h);
    b.time->advance(9min);
    CHECK(received_ids(*b.queue).empty());
    b.time->advance(61s);
    std::vector<q::delivery> d;
    CHECK(received_ids(*b.queue, &d) == std::vector<std::string>{later});
    // A nack's backoff likewise.
    REQUIRE(d.size() == 1);
    REQUIRE_FALSE(b.queue->nack(d[0], 5min));
    b.time->step_wall(1h);
    CHECK(received_ids(*b.queue).empty());
    b.time->advance(5min);
    CHECK(received_ids(*b.queue) == std::vector<std::string>{later});
  });
}

TEST_CASE("Queue::Clock: the dead-letter list keeps its order when the wall clock steps back", "[queue][clock]") {
  on_both([](backend& b) {
    auto first = send(*b.queue, "first");
    std::vector<q::delivery> d;
    REQUIRE(received_ids(*b.queue, &d).size() == 1);
    queue_test::dead_letter(*b.queue, d[0], "one");
    b.time->step_wall(-1h);
    auto second = send(*b.queue, "second");
    REQUIRE(received_ids(*b.queue, &d).size() == 1);
    queue_test::dead_letter(*b.queue, d[0], "two");
    auto dead = queue_test::all_dead(*b.queue);
    REQUIRE(dead.size() == 2);
    CHECK(dead[0].message_id == first);
    CHECK(dead[1].message_id == second);
  });
}

TEST_CASE("Queue::File::Reboot: a reboot ends every lease and keeps what is left of each delay", "[queue][clock]") {
  temp_dir dir;
  auto path = (dir.path / "q.db").string();
  auto time = std::make_shared<q::manual_time_source>();
  time->reboot("boot-a", 30 * 24h);  // a month of uptime: its times are far above the next boot's
  auto queue = queue_test::file_queue(path, time);
  auto visible = send(*queue, "visible");
  auto leased = send(*queue, "leased");
  auto delayed = send(*queue, "delayed", 30min);
  std::vector<q::delivery> d;
  REQUIRE(received_ids(*queue, &d, 10min).size() == 2);
  q::delivery lease;
  for (auto& x : d) {
    if (x.message_id == leased) lease = x;
    if (x.message_id == visible) REQUIRE_FALSE(queue->nack(x, 0ms));
  }
  REQUIRE(lease.message_id == leased);
  queue.reset();

  // The machine goes down for five minutes; its clock since boot starts again.
  time->reboot("boot-b", 20s);
  time->step_wall(5min);
  queue = queue_test::file_queue(path, time);
  auto s = stats_of(*queue);
  CHECK(s.visible == 2);  // the visible one and the leased one: its worker died with the boot
  CHECK(s.in_flight == 0);
  CHECK(s.delayed == 1);
  std::vector<q::delivery> after;
  auto ids = received_ids(*queue, &after, 1h);
  CHECK(ids.size() == 2);
  for (const auto& x : after) {
    CHECK(x.message_id != delayed);
    if (x.message_id == leased) CHECK(x.receive_count == 2);  // the crashed delivery counts
  }
  CHECK(queue->ack(lease).code == errc::lease_lost);
  // 30 minutes were asked for; 5 passed by the wall clock while the machine was down.
  time->advance(24min);
  CHECK(received_ids(*queue).empty());
  time->advance(2min);
  CHECK(received_ids(*queue) == std::vector<std::string>{delayed});

  // Opening again within the same boot changes nothing.
  queue.reset();
  queue = queue_test::file_queue(path, time);
  s = stats_of(*queue);
  CHECK(s.in_flight == 3);
  CHECK(s.visible + s.delayed == 0);
}

TEST_CASE("Queue::File::Upgrade: a schema-3 file's wall-clock times become times of this boot", "[queue][clock]") {
  temp_dir dir;
  auto path = (dir.path / "v3.db").string();
  auto time = std::make_shared<q::manual_time_source>();
  const auto wall = std::chrono::duration_cast<std::chrono::milliseconds>(time->wall().time_since_epoch()).count();
  {
    // What schema 3 created: one visible message, one leased for 10 more minutes, one delayed by 30.
    const std::string now = std::to_string(wall);
    const std::string sql =
        "PRAGMA journal_mode=WAL;"
        "CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,"
        "  dedup_key TEXT, sent_at INTEGER NOT NULL, visible_at INTEGER NOT NULL, receipt TEXT,"
        "  lease_expires_at INTEGER, receive_count INTEGER NOT NULL DEFAULT 0, first_received_at INTEGER);"
        "CREATE INDEX messages_visible ON messages (visible_at, seq);"
        "CREATE UNIQUE INDEX messages_dedup ON messages (dedup_key) WHERE dedup_key IS NOT NULL;"
        "CREATE TABLE dead (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, body BLOB NOT NULL,"
        "  dedup_key TEXT UNIQUE, reason TEXT NOT NULL, last_error_json TEXT NOT NULL, receive_count INTEGER NOT NULL,"
        "  sent_at INTEGER NOT NULL, dead_at INTEGER NOT NULL);"
        "CREATE INDEX dead_dead_at ON dead (dead_at, seq);"
        "CREATE TABLE acked_keys (dedup_key TEXT PRIMARY KEY, id TEXT NOT NULL, acked_at INTEGER NOT NULL);"
        "CREATE INDEX acked_keys_acked_at ON acked_keys (acked_at);"
        "PRAGMA user_version = 3;"
        "INSERT INTO messages (id, body, sent_at, visible_at) VALUES ('m-visible', 'v', " +
        now + " - 5000, " + now +
        " - 5000);"
        "INSERT INTO messages (id, body, sent_at, visible_at, receipt, lease_expires_at, receive_count, "
        "  first_received_at) VALUES ('m-leased', 'l', " +
        now + ", " + now + " + 600000, 'r-leased', " + now + " + 600000, 1, " + now +
        ");"
        "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at, receive_count) VALUES ('m-delayed', 'd', "
        "  'key-d', " +
        now + ", " + now +
        " + 1800000, 1);"
        "INSERT INTO acked_keys VALUES ('key-acked', 'm-acked', " +
        now + " - 60000);";
    run_sql(path, sql);
  }
  auto queue = queue_test::file_queue(path, time);
  auto s = stats_of(*queue);
  CHECK(s.visible == 1);
  CHECK(s.in_flight == 1);
  CHECK(s.delayed == 1);
  CHECK(s.oldest_age_s == Approx(5.0).margin(0.01));

  // Keys of live and acknowledged messages are still known.
  auto r = queue_test::value_of(queue->send({"again", "key-d", 0ms}));
  CHECK((r.duplicate && r.message_id == "m-delayed"));
  r = queue_test::value_of(queue->send({"again", "key-acked", 0ms}));
  CHECK((r.duplicate && r.message_id == "m-acked"));

  // The lease keeps its 10 minutes and its receipt, now on the steady clock.
  time->step_wall(-1h);
  std::vector<q::delivery> d;
  CHECK(received_ids(*queue, &d) == std::vector<std::string>{"m-visible"});
  for (const auto& x : d) CHECK_FALSE(queue->ack(x));
  time->advance(9min);
  CHECK(received_ids(*queue).empty());
  time->advance(61s);
  CHECK(received_ids(*queue, &d) == std::vector<std::string>{"m-leased"});
  REQUIRE(d.size() == 1);
  CHECK(d[0].receive_count == 2);
  q::delivery old;
  old.message_id = "m-leased";
  old.receipt = "r-leased";
  CHECK(queue->ack(old).code == errc::lease_lost);
  CHECK_FALSE(queue->ack(d[0]));
  time->advance(20min);  // 30 minutes and a second after the upgrade
  CHECK(received_ids(*queue) == std::vector<std::string>{"m-delayed"});
  queue.reset();

  CHECK(first_row(path, "PRAGMA user_version").at(0) == "4");
}

TEST_CASE("Queue::File::Upgrade: a failed upgrade leaves the old schema whole", "[queue][clock]") {
  temp_dir dir;
  auto path = (dir.path / "broken-v3.db").string();
  {
    // Schema 3 by its version number, but its messages table is missing a column the upgrade reads.
    run_sql(path,
            "PRAGMA journal_mode=WAL;"
            "CREATE TABLE messages (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, sent_at INTEGER NOT NULL);"
            "INSERT INTO messages VALUES (1, 'm', 0);"
            "PRAGMA user_version = 3;");
  }
  auto queue = q::make_file_queue(path);
  REQUIRE_FALSE(queue.has_value());
  CHECK(queue.error().message.find(path) != std::string::npos);  // which file, in words
  // The transaction rolled back: no new column, no boot table, still version 3.
  const auto row = first_row(path,
                             "SELECT (SELECT COUNT(*) FROM pragma_table_info('messages')), "
                             "(SELECT COUNT(*) FROM sqlite_master WHERE name = 'boot'), "
                             "(SELECT user_version FROM pragma_user_version)");
  REQUIRE(row.size() == 3);
  CHECK(row[0] == "3");
  CHECK(row[1] == "0");
  CHECK(row[2] == "3");
}
