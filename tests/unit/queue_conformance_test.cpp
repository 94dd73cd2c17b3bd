// The conformance suite (spool/queue/conformance.hpp) on the built-in backends, plus what the suite
// cannot check on its own: URI opening and the file backend's durability across reopen and SIGKILL.
#include <spool/queue/conformance.hpp>
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

namespace conf = spool::queue::conformance;
namespace fs = std::filesystem;
using spool::errc;
using spool::queue::queue_adapter;

namespace {

std::atomic<int> counter{0};

std::string unique(const std::string& prefix) {
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

/// A fresh directory under the temp dir, removed when the object goes.
struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string tmpl = (fs::temp_directory_path() / "spool-queue-XXXXXX").string();
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

void check_case(const conf::test_case& c, queue_adapter& q) {
  auto failures = conf::run_case(c, q);
  INFO(c.name << ": " << c.summary << "\n" << conf::to_string(failures));
  CHECK(failures.empty());
}

}  // namespace

TEST_CASE("Queue::Memory::Conformance: mem:// passes every case of the suite", "[queue][conformance]") {
  for (const auto& c : conf::cases()) {
    DYNAMIC_SECTION(c.name) {
      auto q = spool::queue::make_memory_queue(unique("conformance-" + c.name));
      REQUIRE(q);
      check_case(c, *q);
    }
  }
}

TEST_CASE("Queue::File::Conformance: file:// passes every case of the suite", "[queue][conformance]") {
  for (const auto& c : conf::cases()) {
    DYNAMIC_SECTION(c.name) {
      temp_dir dir;
      std::shared_ptr<queue_adapter> q;
      std::string detail;
      REQUIRE_FALSE(spool::queue::make_file_queue((dir.path / (c.name + ".db")).string(), q, &detail));
      REQUIRE(q);
      check_case(c, *q);
      q.reset();  // close before the directory goes
    }
  }
}

TEST_CASE("Queue::Memory::RunAll: run_all gives each case a fresh queue", "[queue][conformance]") {
  int made = 0;
  auto failures = conf::run_all([&] {
    ++made;
    return spool::queue::make_memory_queue(unique("run-all"));
  });
  INFO(conf::to_string(failures));
  CHECK(failures.empty());
  CHECK(made == static_cast<int>(conf::cases().size()));
}

TEST_CASE("Queue::Open: mem:// of one name is one shared queue", "[queue]") {
  std::string uri = "mem://" + unique("shared");
  std::shared_ptr<queue_adapter> a, b;
  std::string detail;
  REQUIRE_FALSE(spool::queue::open(uri, a, &detail));
  REQUIRE_FALSE(spool::queue::open(uri, b, &detail));
  REQUIRE(a);
  REQUIRE(b);
  spool::queue::send_result s;
  REQUIRE_FALSE(a->send({"via a", {}, std::chrono::milliseconds{0}}, s));
  std::vector<spool::queue::delivery> got;
  spool::queue::receive_options o;
  REQUIRE_FALSE(b->receive(o, got));
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == s.message_id);
  CHECK(got[0].body == "via a");
  CHECK_FALSE(a->ack(got[0]));  // the lease taken through b is the one queue's lease

  // A different name is a different queue.
  std::shared_ptr<queue_adapter> other;
  REQUIRE_FALSE(spool::queue::open("mem://" + unique("other"), other, &detail));
  REQUIRE_FALSE(a->send({"only in a", {}, std::chrono::milliseconds{0}}, s));
  got.clear();
  REQUIRE_FALSE(other->receive(o, got));
  CHECK(got.empty());
}

TEST_CASE("Queue::Open: file:// with an absolute path opens the SQLite backend", "[queue]") {
  temp_dir dir;
  auto path = (dir.path / "q.db").string();
  std::shared_ptr<queue_adapter> q;
  std::string detail;
  REQUIRE_FALSE(spool::queue::open("file://" + path, q, &detail));
  REQUIRE(q);
  CHECK(q->caps().durable);
  spool::queue::send_result s;
  REQUIRE_FALSE(q->send({"on disk", {}, std::chrono::milliseconds{0}}, s));
  CHECK(fs::exists(path));
  std::vector<spool::queue::delivery> got;
  REQUIRE_FALSE(q->receive({}, got));
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "on disk");
  CHECK_FALSE(q->ack(got[0]));
}

TEST_CASE("Queue::Open: unknown schemes and relative file paths are invalid_spec", "[queue]") {
  std::shared_ptr<queue_adapter> q;
  std::string detail;
  CHECK(spool::queue::open("nope://x", q, &detail) == errc::invalid_spec);
  CHECK_FALSE(q);
  CHECK(spool::queue::open("file://relative/q.db", q, &detail) == errc::invalid_spec);
  CHECK_FALSE(q);
  CHECK(spool::queue::open("no scheme at all", q, &detail) == errc::invalid_spec);
  CHECK_FALSE(q);
}

TEST_CASE("Queue::Register: a taken scheme is already_registered, a malformed one invalid_argument", "[queue]") {
  std::string scheme = "spooltest" + std::to_string(::getpid()) + "x" + std::to_string(++counter);
  int opened = 0;
  auto factory = [&opened](std::string_view, std::shared_ptr<queue_adapter>& out, std::string&) {
    ++opened;
    out = spool::queue::make_memory_queue(unique("registered"));
    return spool::error_code();
  };
  REQUIRE_FALSE(spool::queue::register_scheme(scheme, factory));
  CHECK(spool::queue::register_scheme(scheme, factory) == errc::already_registered);
  CHECK(spool::queue::register_scheme("mem", factory) == errc::already_registered);
  CHECK(spool::queue::register_scheme("FILE", factory) == errc::already_registered);  // schemes ignore case
  CHECK(spool::queue::register_scheme("9lives", factory) == errc::invalid_argument);
  CHECK(spool::queue::register_scheme("", factory) == errc::invalid_argument);
  CHECK(spool::queue::register_scheme(scheme + "y", nullptr) == errc::invalid_argument);
  std::shared_ptr<queue_adapter> q;
  REQUIRE_FALSE(spool::queue::open(scheme + "://anything", q));
  CHECK(q);
  CHECK(opened == 1);
}

TEST_CASE("Queue::File::Reopen: messages outlive the queue object", "[queue]") {
  temp_dir dir;
  auto path = (dir.path / "q.db").string();
  std::string detail;
  std::vector<std::string> ids;
  std::string dead_id;
  {
    std::shared_ptr<queue_adapter> q;
    REQUIRE_FALSE(spool::queue::make_file_queue(path, q, &detail));
    for (int i = 0; i < 3; ++i) {
      spool::queue::send_result s;
      REQUIRE_FALSE(q->send({"kept " + std::to_string(i), {}, std::chrono::milliseconds{0}}, s));
      ids.push_back(s.message_id);
    }
    // One dead-lettered, to check the dead-letter store is durable too.
    spool::queue::send_result s;
    REQUIRE_FALSE(q->send({"dead", {}, std::chrono::milliseconds{0}}, s));
    dead_id = s.message_id;
    std::vector<spool::queue::delivery> got;
    spool::queue::receive_options o;
    o.max_messages = 10;
    REQUIRE_FALSE(q->receive(o, got));
    REQUIRE(got.size() == 4);
    for (const auto& d : got) {
      if (d.message_id == dead_id)
        REQUIRE_FALSE(q->dead_letter(d, "test", ""));
      else
        REQUIRE_FALSE(q->nack(d, std::chrono::milliseconds{0}));
    }
  }
  std::shared_ptr<queue_adapter> q;
  REQUIRE_FALSE(spool::queue::make_file_queue(path, q, &detail));
  spool::queue::queue_stats st;
  REQUIRE_FALSE(q->stats(st));
  CHECK(st.visible == 3);
  CHECK(st.dead == 1);
  std::vector<spool::queue::delivery> got;
  spool::queue::receive_options o;
  o.max_messages = 10;
  REQUIRE_FALSE(q->receive(o, got));
  REQUIRE(got.size() == 3);
  for (const auto& d : got) {
    CHECK(std::find(ids.begin(), ids.end(), d.message_id) != ids.end());
    CHECK(d.receive_count == 2);  // the count survives the reopen
    CHECK_FALSE(q->ack(d));
  }
  std::vector<spool::queue::dead_letter_record> dead;
  REQUIRE_FALSE(q->list_dead(dead));
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
  {
    // What schema 1 created, with one visible message, one leased and one dead.
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
    const std::string sql =
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
        "INSERT INTO messages (id, body, dedup_key, sent_at, visible_at) SELECT 'm-visible', 'kept', 'job-1', now, now "
        "  FROM t;"
        "INSERT INTO messages (id, body, sent_at, visible_at, receipt, lease_expires_at, receive_count, "
        "  first_received_at) SELECT 'm-leased', 'busy', now, now + 600000, 'r-leased', now + 600000, 1, now FROM t;"
        "INSERT INTO dead (id, body, dedup_key, reason, last_error_json, receive_count, sent_at, dead_at) "
        "  SELECT 'm-dead', 'doomed', 'job-9', 'test', '', 5, now, now FROM t;";
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    INFO((err ? err : ""));
    sqlite3_free(err);
    sqlite3_close(db);
    REQUIRE(rc == SQLITE_OK);
  }

  std::shared_ptr<queue_adapter> q;
  std::string detail;
  REQUIRE_FALSE(spool::queue::make_file_queue(path, q, &detail));
  spool::queue::queue_stats st;
  REQUIRE_FALSE(q->stats(st));
  CHECK(st.visible == 1);
  CHECK(st.in_flight == 1);
  CHECK(st.dead == 1);

  // Dedup keys of live and dead messages are still known.
  spool::queue::send_result s;
  REQUIRE_FALSE(q->send({"again", "job-1", std::chrono::milliseconds{0}}, s));
  CHECK(s.duplicate);
  CHECK(s.message_id == "m-visible");
  REQUIRE_FALSE(q->send({"again", "job-9", std::chrono::milliseconds{0}}, s));
  CHECK(s.duplicate);
  CHECK(s.message_id == "m-dead");

  // The lease taken before the upgrade is still current: its receipt acks.
  spool::queue::delivery leased;
  leased.message_id = "m-leased";
  leased.receipt = "r-leased";
  CHECK_FALSE(q->ack(leased));

  // Messages sent after the upgrade come after the old ones.
  REQUIRE_FALSE(q->send({"new", "job-2", std::chrono::milliseconds{0}}, s));
  CHECK_FALSE(s.duplicate);
  std::vector<spool::queue::delivery> got;
  spool::queue::receive_options o;
  o.max_messages = 10;
  REQUIRE_FALSE(q->receive(o, got));
  REQUIRE(got.size() == 2);
  CHECK(got[0].message_id == "m-visible");
  CHECK(got[0].body == "kept");
  CHECK(got[0].receive_count == 1);
  CHECK(got[1].message_id == s.message_id);
  for (const auto& d : got) CHECK_FALSE(q->ack(d));
  std::vector<spool::queue::dead_letter_record> dead;
  REQUIRE_FALSE(q->list_dead(dead));
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].body == "doomed");
  // Acknowledged, job-1's key is still remembered (the dedup window came with the upgrade).
  REQUIRE_FALSE(q->send({"retried submit", "job-1", std::chrono::milliseconds{0}}, s));
  CHECK(s.duplicate);
  CHECK(s.message_id == "m-visible");
  q.reset();

  // Opening it again finds the current schema and changes nothing.
  REQUIRE_FALSE(spool::queue::make_file_queue(path, q, &detail));
  REQUIRE_FALSE(q->stats(st));
  CHECK(st.visible + st.in_flight + st.delayed == 0);
  CHECK(st.dead == 1);
  q.reset();
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* version = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &version, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(version) == SQLITE_ROW);
  CHECK(sqlite3_column_int(version, 0) == 4);
  sqlite3_finalize(version);
  sqlite3_close(db);
}

TEST_CASE("Queue::Memory::Fork: a forked child never draws the ids its parent draws next", "[queue]") {
  auto q = spool::queue::make_memory_queue(unique("fork"));
  spool::queue::send_result before;
  REQUIRE_FALSE(q->send({"parent", {}, std::chrono::milliseconds{0}}, before));  // the parent has ids in hand
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    spool::queue::send_result s;
    bool ok = !q->send({"child", {}, std::chrono::milliseconds{0}}, s) && s.message_id.size() == 32;
    ::_exit(ok && ::write(pipe_fds[1], s.message_id.data(), 32) == 32 ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  spool::queue::send_result mine;
  REQUIRE_FALSE(q->send({"parent again", {}, std::chrono::milliseconds{0}}, mine));
  std::string theirs(32, '\0');
  auto n = ::read(pipe_fds[0], theirs.data(), theirs.size());
  ::close(pipe_fds[0]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  REQUIRE(n == 32);
  CHECK(WIFEXITED(wstatus));
  CHECK(theirs != mine.message_id);
  CHECK(theirs != before.message_id);
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
    std::shared_ptr<queue_adapter> q;
    std::string detail;
    char status = 'x';
    spool::queue::send_result s;
    if (!spool::queue::make_file_queue(path, q, &detail) &&
        !q->send({"survivor", {}, std::chrono::milliseconds{0}}, s))
      status = 'k';
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

  std::shared_ptr<queue_adapter> q;
  std::string detail;
  REQUIRE_FALSE(spool::queue::make_file_queue(path, q, &detail));
  std::vector<spool::queue::delivery> got;
  REQUIRE_FALSE(q->receive({}, got));
  REQUIRE(got.size() == 1);
  CHECK(got[0].body == "survivor");
  CHECK(got[0].receive_count == 1);
  CHECK_FALSE(q->ack(got[0]));
}
