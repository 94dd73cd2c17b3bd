#pragma once
// What the queue tests share: scratch directories, unique names, and the backend's calls with
// their success required (each failure shows the backend's message).
#include <spool/queue/registry.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace queue_test {

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;

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

/// A name no other test of this process uses.
inline std::string unique(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(++counter);
}

inline std::string text(const spool::error& e) {
  std::ostringstream s;
  s << e;
  return s.str();
}

/// Requires `r` to hold a value; the failure shows the error's code and message.
template <class T>
T value_of(spool::result<T> r) {
  INFO((r ? std::string() : text(r.error())));
  REQUIRE(r.has_value());
  return std::move(*r);
}

inline std::shared_ptr<q::queue_adapter> file_queue(const fs::path& path,
                                                    std::shared_ptr<const q::time_source> time = nullptr) {
  return value_of(q::make_file_queue(path.string(), std::move(time)));
}

inline std::string send(q::queue_adapter& queue, const std::string& body, const std::string& key = {},
                        std::chrono::milliseconds delay = 0ms) {
  return value_of(queue.send({body, key, delay})).message_id;
}

inline std::vector<q::delivery> receive(q::queue_adapter& queue, std::size_t max = 10,
                                        std::chrono::milliseconds lease = 60s) {
  q::receive_options o;
  o.max_messages = max;
  o.lease = lease;
  return value_of(queue.receive(o));
}

inline q::queue_stats stats(q::queue_adapter& queue) { return value_of(queue.stats()); }

/// Every dead-letter record, page by page.
inline std::vector<q::dead_letter_record> all_dead(q::queue_adapter& queue) {
  auto* store = queue.dead_letters();
  REQUIRE(store);
  std::vector<q::dead_letter_record> out;
  std::string after;
  do {
    auto page = value_of(store->list_dead(after, 3));
    out.insert(out.end(), page.records.begin(), page.records.end());
    after = page.next;
  } while (!after.empty());
  return out;
}

inline void dead_letter(q::queue_adapter& queue, const q::delivery& d, const std::string& reason) {
  REQUIRE(queue.dead_letters());
  auto e = queue.dead_letters()->dead_letter(d, reason, "");
  INFO(text(e));
  REQUIRE_FALSE(e);
}

}  // namespace queue_test
