// What the conformance suite cannot check of mem:// on its own: ids across fork(), and its
// dead-letter positions.
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "queue_helpers.hpp"

namespace q = spool::queue;
using queue_test::unique;
using spool::errc;

TEST_CASE("Queue::Memory::Fork: a forked child never draws the ids its parent draws next", "[queue]") {
  auto queue = q::make_memory_queue(unique("fork"));
  auto before = queue_test::send(*queue, "parent");  // the parent has ids in hand
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto s = queue->send({"child", {}, std::chrono::milliseconds{0}});
    bool ok = s && s->message_id.size() == 32;
    ::_exit(ok && ::write(pipe_fds[1], s->message_id.data(), 32) == 32 ? 0 : 1);
  }
  ::close(pipe_fds[1]);
  auto mine = queue_test::send(*queue, "parent again");
  std::string theirs(32, '\0');
  auto n = ::read(pipe_fds[0], theirs.data(), theirs.size());
  ::close(pipe_fds[0]);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  REQUIRE(n == 32);
  CHECK(WIFEXITED(wstatus));
  CHECK(theirs != mine);
  CHECK(theirs != before);
}

TEST_CASE("Queue::Memory::DeadLetterPages: a position that is not one of the store's is invalid_argument", "[queue]") {
  auto queue = q::make_memory_queue(unique("positions"));
  auto* store = queue->dead_letters();
  REQUIRE(store);
  for (const char* after : {"x", "12abc", "-3"}) {
    auto page = store->list_dead(after, 10);
    INFO(after);
    REQUIRE_FALSE(page.has_value());
    CHECK(page.error().code == errc::invalid_argument);
  }
}
