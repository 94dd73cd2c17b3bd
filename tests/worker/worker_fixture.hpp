#pragma once
// What the worker tests share: a scratch directory with a mem:// queue, a recorder of status
// events, an adapter that fails on purpose (spool::test::faulty_queue), and checks of a published
// package. Assertions run on the test thread only; worker threads record.
#include <spool/queue/registry.hpp>
#include <spool/storage/status.hpp>
#include <spool/test/faulty_queue.hpp>
#include <spool/worker/worker.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "catch_result.hpp"
#include "fixtures.hpp"
#include "lavfi_input.hpp"

namespace worker_test {

namespace fs = std::filesystem;
namespace q = spool::queue;
using namespace std::chrono_literals;
using spool::job_state;
using spool::test::queue_op;

inline std::shared_ptr<q::queue_adapter> fresh_memory_queue() {
  static std::atomic<int> n{0};
  return q::make_memory_queue("worker-test-" + std::to_string(n++));
}

// One 120p rung at ultrafast: a few hundred milliseconds per job.
inline const char* small_plan_json =
    R"({"video":{"preset":"ultrafast","rungs":[{"name":"120p","height":120,"crf":30}]}})";

// Everything the worker reported, in order.
class recorder {
 public:
  void operator()(const spool::job_status& s) {
    std::lock_guard lock(mutex_);
    events_.push_back(s);
    if (s.state == job_state::running)
      running_.insert(s.job_id);
    else
      running_.erase(s.job_id);
    max_running_ = std::max(max_running_, static_cast<int>(running_.size()));
  }
  std::vector<spool::job_status> events() const {
    std::lock_guard lock(mutex_);
    return events_;
  }
  // States each job went through, without repeats (progress updates collapse into one "running").
  std::map<std::string, std::vector<job_state>> states() const {
    std::map<std::string, std::vector<job_state>> out;
    for (const auto& e : events()) {
      auto& v = out[e.job_id];
      if (v.empty() || v.back() != e.state) v.push_back(e.state);
    }
    return out;
  }
  bool saw(job_state state) const {
    for (const auto& e : events())
      if (e.state == state) return true;
    return false;
  }
  int max_running() const {
    std::lock_guard lock(mutex_);
    return max_running_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<spool::job_status> events_;
  std::set<std::string> running_;
  int max_running_ = 0;
};

struct fixture {
  spool::test::scratch_dir dir{"worker"};
  std::shared_ptr<q::queue_adapter> queue = fresh_memory_queue();
  std::shared_ptr<recorder> events = std::make_shared<recorder>();

  fs::path input(const std::string& name, double seconds = 2, int width = 320, int height = 240) {
    spool::test::input_spec spec;
    spec.duration_s = seconds;
    spec.width = width;
    spec.height = height;
    auto p = dir / name;
    spool::test::make_input(p, spec);
    return p;
  }

  std::string submit(const fs::path& in, const fs::path& out, const char* plan = small_plan_json,
                     const std::string& key = "") {
    spool::job_spec j;
    j.idempotency_key = key;
    j.input = in.string();
    j.output = out.string();
    j.plan = spool::apply_spec(boost::json::parse(plan)).value();
    j.metadata = boost::json::object{{"course", "cs101"}};
    auto r = queue->send({boost::json::serialize(spool::to_json(j)), key, 0ms});
    INFO((r ? std::string() : r.error().what()));
    REQUIRE(r.has_value());
    return r->message_id;
  }

  spool::worker_options options() {
    spool::worker_options o;
    o.lease = 2s;
    o.poll_wait = 50ms;
    o.exit_when_idle = true;
    o.status_interval = 100ms;
    o.retry.base = 50ms;
    o.encode_nice = 0;
    o.on_status = [e = events](const spool::job_status& s) { (*e)(s); };
    return o;
  }

  q::queue_stats stats() {
    auto s = queue->stats();
    REQUIRE(s.has_value());
    return *s;
  }

  // Every dead-letter record, page by page.
  std::vector<q::dead_letter_record> dead() {
    std::vector<q::dead_letter_record> out;
    std::string after;
    do {
      auto page = queue->dead_letters()->list_dead(after, 10);
      REQUIRE(page.has_value());
      out.insert(out.end(), page->records.begin(), page->records.end());
      after = page->next;
    } while (!after.empty());
    return out;
  }

  // Temporaries of any kind anywhere under the scratch directory.
  std::vector<std::string> leftovers() {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
      auto name = e.path().filename().string();
      if (name.find(".spool-tmp-") != std::string::npos || name.find(".tmp-") != std::string::npos ||
          name.find(".spool-growing-") != std::string::npos || name.find(".part-") != std::string::npos)
        out.push_back(e.path().string());
    }
    return out;
  }
};

inline spool::job_status status_of(const fs::path& out) {
  auto s = spool::read_status(out);
  REQUIRE(s);
  REQUIRE(s->has_value());
  return **s;
}

inline spool::error write_status(const fs::path& out, const spool::job_status& s) {
  return spool::open_status(out).value()->write(s);
}

inline spool::worker_summary run_worker(std::shared_ptr<q::queue_adapter> queue, spool::worker_options o) {
  spool::worker_runtime w(std::move(queue), std::move(o));
  spool::worker_summary s;
  REQUIRE_FALSE(w.run(s));
  return s;
}

inline void require_package(const fs::path& out, const std::string& job_id, const std::string& rung = "120p") {
  CHECK(fs::exists(out / "master.m3u8"));
  CHECK(fs::exists(out / "manifest.mpd"));
  CHECK(fs::exists(out / "result.json"));
  CHECK(fs::exists(out / rung / "seg_00001.m4s"));
  std::error_code ec;
  CHECK(fs::file_size(out / rung / "init.mp4", ec) > 0);
  CHECK_FALSE(ec);
  auto s = status_of(out);
  CHECK(s.job_id == job_id);
  CHECK(s.state == job_state::succeeded);
  CHECK(s.progress == 1);
  CHECK_FALSE(s.error);
}

// Waits (bounded) until `pred` holds.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 120s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

// spool::test::faulty_queue, which can also act as a backend without deduplication (SQS standard
// queues).
class faulty_queue : public spool::test::faulty_queue {
 public:
  using spool::test::faulty_queue::faulty_queue;
  std::atomic<bool> no_dedup{false};
  spool::result<q::send_result> send(const q::outgoing_message& m) override {
    if (!no_dedup) return spool::test::faulty_queue::send(m);
    auto copy = m;
    copy.dedup_key.clear();
    return spool::test::faulty_queue::send(copy);
  }
};

}  // namespace worker_test
