// The file:// queue opening a damaged database: the fuzz bytes are written as the database file
// (seeded with a valid queue holding visible, leased, dead-lettered and acknowledged messages), then
// opened and driven through every operation. Nothing may crash, hang or trip a sanitizer, and every
// error must be typed: a damaged file is the disk's or the operator's problem, never `internal`.
// Beyond that: every delivery counts itself (receive_count > 0), and paging through the dead letters
// never returns to a position it has been at (so it ends).
#include <spool/queue/registry.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "fuzz_support.hpp"

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;
using spool::fuzz::require;
using spool::fuzz::require_typed;
using spool::fuzz::value_or_typed;

namespace {

/// Every dead-letter record, page by page.
std::vector<q::dead_letter_record> list_dead(q::dead_letter_store& store) {
  std::vector<q::dead_letter_record> all;
  std::set<std::string> seen{""};
  std::string after;
  for (;;) {
    auto page = store.list_dead(after, 7);
    const auto* p = value_or_typed(page, "list_dead");
    if (!p) break;
    all.insert(all.end(), p->records.begin(), p->records.end());
    if (p->next.empty()) break;
    require(seen.insert(p->next).second, "list_dead's pages return to the position '" + p->next + "'");
    after = p->next;
  }
  return all;
}

std::vector<q::delivery> receive(q::queue_adapter& queue, std::chrono::milliseconds wait, const char* what) {
  q::receive_options ro;
  ro.max_messages = 10;
  ro.wait = wait;
  ro.lease = 60'000ms;
  auto got = queue.receive(ro);
  const auto* d = value_or_typed(got, what);
  if (!d) return {};
  for (const auto& x : *d)
    require(x.receive_count > 0, "a delivery with receive_count " + std::to_string(x.receive_count));
  return *d;
}

void send_all(q::queue_adapter& queue) {
  value_or_typed(queue.send({"body", "", 0ms}), "send");
  value_or_typed(queue.send({"keyed", "k1", 0ms}), "send with a dedup key");
  auto batch = queue.send_batch({{"a", "k1", 0ms}, {"b", "k2", 5ms}, {"c", "", 0ms}});
  if (const auto* entries = value_or_typed(batch, "send_batch")) {
    require(entries->size() == 3, "send_batch answered " + std::to_string(entries->size()) + " entries for 3");
    for (auto& e : *entries) value_or_typed(e, "send_batch entry");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const fs::path db = spool::fuzz::scratch() / "queue.db";
  std::error_code fec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(db.string() + suffix, fec);
  spool::fuzz::write_file(db, data, size);

  auto opened = q::open_queue("file://" + db.string());
  const auto* handle = value_or_typed(opened, "open");
  if (!handle) return 0;
  q::queue_adapter& queue = **handle;
  q::dead_letter_store* store = queue.dead_letters();
  require(store != nullptr, "file:// has no dead-letter store");

  value_or_typed(queue.stats(), "stats");
  const auto dead = list_dead(*store);

  // A long poll: with nothing visible it sleeps towards the earliest visible_at the file holds.
  auto got = receive(queue, 1ms, "receive");
  // Each delivery gets a different fate; the last ones exercise the stale-receipt paths as well.
  for (std::size_t i = 0; i < got.size(); ++i) {
    const auto& d = got[i];
    value_or_typed(queue.extend(d, 30'000ms), "extend");
    switch (i % 5) {
      case 0: require_typed(queue.ack(d), "ack"); break;
      case 1: require_typed(queue.nack(d, 0ms), "nack"); break;
      case 2: require_typed(store->dead_letter(d, "fuzz", R"({"code":"input_not_media"})"), "dead_letter"); break;
      case 3: require_typed(queue.release(d), "release"); break;
      default: break;  // stays leased
    }
    (void)queue.ack(d);  // a second ack: lease_lost unless the first was skipped
  }

  for (const auto& r : dead) {
    value_or_typed(store->redrive(r.message_id), "redrive one");
  }
  value_or_typed(store->redrive(""), "redrive all");

  send_all(queue);
  for (const auto& d : receive(queue, 0ms, "receive again")) require_typed(queue.ack(d), "ack again");
  value_or_typed(queue.stats(), "stats again");
  list_dead(*store);
  return 0;
}
