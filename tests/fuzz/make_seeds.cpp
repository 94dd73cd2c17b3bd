// spool-fuzz-seeds DB: writes a valid file:// queue database as the seed fuzz_file_queue damages.
// It holds every kind of row: visible messages (one delayed), a leased one, a dead-lettered one and
// the acknowledged key of a finished one. The write-ahead log is folded into DB when the queue closes.
#include <spool/queue/registry.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

namespace q = spool::queue;
using namespace std::chrono_literals;

namespace {

int fail(const char* what, const spool::error& e) {
  std::ostringstream s;
  s << e;
  std::fprintf(stderr, "spool-fuzz-seeds: %s: %s\n", what, s.str().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: spool-fuzz-seeds OUT.db\n");
    return 2;
  }
  const std::filesystem::path out = std::filesystem::absolute(argv[1]);
  std::error_code fec;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(out.string() + suffix, fec);
  {
    auto opened = q::open_queue("file://" + out.string());
    if (!opened) return fail("open", opened.error());
    q::queue_adapter& queue = **opened;
    // Version 2 messages, as a submit queues them; their plans do not matter to the queue.
    const std::vector<q::outgoing_message> msgs = {
        {R"({"version":2,"input":"a.mp4","output":"a","plan":{}})", "key-acked", 0ms},
        {R"({"version":2,"input":"b.mp4","output":"b","plan":{}})", "key-dead", 0ms},
        {R"({"version":2,"input":"c.mp4","output":"c","plan":{}})", "", 0ms},
        {R"({"version":2,"input":"d.mp4","output":"d","plan":{}})", "key-live", 0ms},
        {R"({"version":2,"input":"e.mp4","output":"e","plan":{}})", "", 3'600'000ms},
    };
    auto sent = queue.send_batch(msgs);
    if (!sent) return fail("send_batch", sent.error());
    q::receive_options ro;
    ro.max_messages = 3;
    auto got = queue.receive(ro);
    if (!got) return fail("receive", got.error());
    if (got->size() != 3) return fail("receive", {spool::errc::internal, "expected 3 deliveries"});
    if (auto e = queue.ack((*got)[0])) return fail("ack", e);
    if (!queue.dead_letters()) return fail("dead_letter", {spool::errc::internal, "no dead-letter store"});
    if (auto e = queue.dead_letters()->dead_letter((*got)[1], "input refused",
                                                   R"({"code":"input_not_media","category":"input"})"))
      return fail("dead_letter", e);
    // (*got)[2] stays leased.
  }
  return 0;
}
