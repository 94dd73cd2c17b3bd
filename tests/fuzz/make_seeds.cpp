// spool-fuzz-seeds DB: writes a valid file:// queue database as the seed fuzz_file_queue damages.
// It holds every kind of row: visible messages (one delayed), a leased one, a dead-lettered one and
// the acknowledged key of a finished one. The write-ahead log is folded into DB when the queue closes.
#include <spool/queue/registry.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace q = spool::queue;
using namespace std::chrono_literals;

namespace {

int fail(const char* what, const spool::error_code& ec, const std::string& detail = {}) {
  std::fprintf(stderr, "spool-fuzz-seeds: %s: %s %s\n", what, ec.message().c_str(), detail.c_str());
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
    std::shared_ptr<q::queue_adapter> queue;
    std::string detail;
    if (auto ec = q::open("file://" + out.string(), queue, &detail)) return fail("open", ec, detail);
    std::vector<q::send_result> sent;
    const std::vector<q::outgoing_message> msgs = {
        {R"({"version":1,"input":"a.mp4","output":"a"})", "key-acked", 0ms},
        {R"({"version":1,"input":"b.mp4","output":"b"})", "key-dead", 0ms},
        {R"({"version":1,"input":"c.mp4","output":"c"})", "", 0ms},
        {R"({"version":1,"input":"d.mp4","output":"d"})", "key-live", 0ms},
        {R"({"version":1,"input":"e.mp4","output":"e"})", "", 3'600'000ms},
    };
    if (auto ec = queue->send_batch(msgs, sent)) return fail("send_batch", ec);
    std::vector<q::delivery> got;
    q::receive_options ro;
    ro.max_messages = 3;
    if (auto ec = queue->receive(ro, got)) return fail("receive", ec);
    if (got.size() != 3) return fail("receive", make_error_code(spool::errc::internal), "expected 3 deliveries");
    if (auto ec = queue->ack(got[0])) return fail("ack", ec);
    if (auto ec = queue->dead_letter(got[1], "input refused", R"({"code":"input_not_media","category":"input"})"))
      return fail("dead_letter", ec);
    // got[2] stays leased.
  }
  return 0;
}
