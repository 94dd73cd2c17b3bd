// Backends by URI: open_queue, register_scheme, and the built-in schemes' own URI grammar.
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>

#include "queue_helpers.hpp"

namespace fs = std::filesystem;
namespace q = spool::queue;
using queue_test::temp_dir;
using queue_test::unique;
using spool::errc;

TEST_CASE("Queue::Open: mem:// of one name is one shared queue", "[queue]") {
  std::string uri = "mem://" + unique("shared");
  auto a = queue_test::value_of(q::open_queue(uri));
  auto b = queue_test::value_of(q::open_queue(uri));
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a == b);
  auto id = queue_test::send(*a, "via a");
  auto got = queue_test::receive(*b, 1);
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == id);
  CHECK(got[0].body == "via a");
  CHECK_FALSE(a->ack(got[0]));  // the lease taken through b is the one queue's lease

  // A different name is a different queue.
  auto other = queue_test::value_of(q::open_queue("mem://" + unique("other")));
  queue_test::send(*a, "only in a");
  CHECK(queue_test::receive(*other).empty());
}

TEST_CASE("Queue::Open: file:// with an absolute path opens the SQLite backend", "[queue]") {
  temp_dir dir;
  auto path = (dir.path / "q.db").string();
  for (const std::string& uri : {"file://" + path, "file://localhost" + path}) {
    auto q = queue_test::value_of(q::open_queue(uri));
    CHECK(q->caps().durable);
    CHECK(q->type_name() == "file");
    queue_test::send(*q, "on disk");
    CHECK(fs::exists(path));
    auto got = queue_test::receive(*q, 1);
    REQUIRE(got.size() == 1);
    CHECK(got[0].body == "on disk");
    CHECK_FALSE(q->ack(got[0]));
  }
}

TEST_CASE("Queue::Open: a URI nothing can open is invalid_argument, saying why", "[queue]") {
  struct bad {
    std::string uri, says;
  };
  for (const auto& [uri, says] : {bad{"nope://x", "no queue backend"}, bad{"no scheme at all", "not a queue URI"},
                                  bad{"file://relative/q.db", "absolute path"}, bad{"mem://", "needs a name"},
                                  bad{"file://otherhost/q.db", "absolute path"}}) {
    auto q = q::open_queue(uri);
    INFO(uri);
    REQUIRE_FALSE(q.has_value());
    CHECK(q.error().code == errc::invalid_argument);
    CHECK(spool::kind_of(q.error().code) == spool::category_kind::usage);
    CHECK(q.error().message.find(says) != std::string::npos);
  }
}

TEST_CASE("Queue::Register: a taken scheme is already_registered, a malformed one invalid_argument", "[queue]") {
  static int n = 0;  // Catch2 may run the case more than once in a process
  const std::string scheme = "spooltest" + std::to_string(::getpid()) + "n" + std::to_string(++n);
  std::atomic<int> opened{0};
  std::string seen_uri;
  auto factory = [&](std::string_view uri) -> spool::result<std::shared_ptr<q::queue_adapter>> {
    ++opened;
    seen_uri = std::string(uri);
    return q::make_memory_queue(unique("registered"));
  };
  REQUIRE_FALSE(q::register_scheme(scheme, factory));
  CHECK(q::register_scheme(scheme, factory).code == errc::already_registered);
  CHECK(q::register_scheme("mem", factory).code == errc::already_registered);   // the built-ins are registered
  CHECK(q::register_scheme("FILE", factory).code == errc::already_registered);  // schemes ignore case
  CHECK(q::register_scheme("9lives", factory).code == errc::invalid_argument);
  CHECK(q::register_scheme("", factory).code == errc::invalid_argument);
  CHECK(q::register_scheme(scheme + "y", nullptr).code == errc::invalid_argument);
  auto q = queue_test::value_of(q::open_queue(scheme + "://anything"));
  CHECK(q);
  CHECK(opened == 1);
  CHECK(seen_uri == scheme + "://anything");

  // A factory's refusal reaches the caller as it was given.
  std::string refusing = scheme + "r";
  REQUIRE_FALSE(q::register_scheme(refusing, [](std::string_view) -> spool::result<std::shared_ptr<q::queue_adapter>> {
    return spool::error{errc::invalid_argument, "this backend needs ?region="};
  }));
  auto refused = q::open_queue(refusing + "://x");
  REQUIRE_FALSE(refused.has_value());
  CHECK(refused.error().message == "this backend needs ?region=");
}
