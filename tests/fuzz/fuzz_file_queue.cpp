// The file:// queue opening a damaged database: the fuzz bytes are written as the database file
// (seeded with a valid queue holding visible, leased, dead-lettered and acknowledged messages), then
// opened and driven through every operation. Nothing may crash, hang or trip a sanitizer, and every
// error must be typed: a damaged file is the disk's or the operator's problem, never `internal`.
#include <spool/queue/registry.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "fuzz_support.hpp"

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;

namespace {

void op(const spool::error_code& ec, const char* what) { spool::fuzz::require_typed(ec, what); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path db = spool::fuzz::scratch() / "queue.db";
  std::error_code fec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(db.string() + suffix, fec);
  spool::fuzz::write_file(db, data, size);

  std::shared_ptr<q::queue_adapter> queue;
  std::string detail;
  auto ec = q::open("file://" + db.string(), queue, &detail);
  if (ec) {
    spool::fuzz::require_typed(ec, "open", detail);
    return 0;
  }

  q::queue_stats st;
  op(queue->stats(st), "stats");
  std::vector<q::dead_letter_record> dead;
  op(queue->list_dead(dead), "list_dead");

  std::vector<q::delivery> got;
  q::receive_options ro;
  ro.max_messages = 10;
  ro.wait = 0ms;
  ro.lease = 60'000ms;
  op(queue->receive(ro, got, nullptr), "receive");
  // Each delivery gets a different fate; the last ones exercise the stale-receipt paths as well.
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& d = got[i];
    q::clock::time_point until;
    op(queue->extend(d, 30'000ms, until), "extend");
    switch (i % 4) {
      case 0: op(queue->ack(d), "ack"); break;
      case 1: op(queue->nack(d, 0ms), "nack"); break;
      case 2: op(queue->dead_letter(d, "fuzz", R"({"code":"input_not_media"})"), "dead_letter"); break;
      default: break;  // stays leased
    }
    (void)queue->ack(d);  // a second ack: lease_lost unless the first was skipped
  }

  for (const auto& r : dead) {
    std::size_t moved = 0;
    op(queue->redrive(r.message_id, moved), "redrive one");
  }
  std::size_t moved = 0;
  op(queue->redrive("", moved), "redrive all");

  q::send_result sr;
  op(queue->send({"body", "", 0ms}, sr), "send");
  op(queue->send({"keyed", "k1", 0ms}, sr), "send with a dedup key");
  std::vector<q::send_result> batch;
  op(queue->send_batch({{"a", "k1", 0ms}, {"b", "k2", 5ms}, {"c", "", 0ms}}, batch), "send_batch");
  got.clear();
  ro.wait = 1ms;  // the long-poll path too: it sleeps until the earliest visible_at the file holds
  op(queue->receive(ro, got, nullptr), "receive again");
  for (const auto& d : got) op(queue->ack(d), "ack again");
  op(queue->stats(st), "stats again");
  dead.clear();
  op(queue->list_dead(dead), "list_dead again");
  return 0;
}
