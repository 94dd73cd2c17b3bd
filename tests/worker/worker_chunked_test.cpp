// Chunked jobs end to end, in process: a long input split into chunk jobs that several workers
// encode, stitched into one package that is compared with the package of the same job unchunked.
#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "package_inspect.hpp"
#include "worker_fixture.hpp"

using namespace worker_test;
namespace inspect = spool::test;

namespace {

// 24 s in chunks of 6 s (three segments of 2 s): four chunks, the whole-input part and the stitch.
constexpr double input_s = 24;
constexpr int expected_chunks = 4;
const char* chunked_plan = R"({"video":{"preset":"ultrafast","rungs":[{"name":"120p","height":120,"crf":30}]},
    "packaging":{"segment_s":2,"gop_s":2},"thumbnails":{"interval_s":4},
    "chunking":{"enabled":true,"min_duration_s":10,"chunk_s":6}})";
const char* unchunked_plan = R"({"video":{"preset":"ultrafast","rungs":[{"name":"120p","height":120,"crf":30}]},
    "packaging":{"segment_s":2,"gop_s":2},"thumbnails":{"interval_s":4}})";

// Runs `n` workers on the queue (each its own runtime, as separate hosts would) until the queue is
// idle; a watchdog stops them all if that takes longer than `limit`.
spool::worker_summary run_workers(const std::vector<std::shared_ptr<q::queue_adapter>>& queues,
                                  const spool::worker_options& o, std::chrono::seconds limit = 120s) {
  std::vector<std::unique_ptr<spool::worker_runtime>> workers;
  for (const auto& q : queues) workers.push_back(std::make_unique<spool::worker_runtime>(q, o));
  std::vector<spool::worker_summary> sums(workers.size());
  std::vector<spool::error_code> codes(workers.size());
  std::mutex m;
  std::condition_variable cv;
  std::size_t finished = 0;
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers.size(); ++i)
    threads.emplace_back([&, i] {
      codes[i] = workers[i]->run(sums[i]);
      std::lock_guard lock(m);
      ++finished;
      cv.notify_all();
    });
  bool in_time;
  {
    std::unique_lock lock(m);
    in_time = cv.wait_for(lock, limit, [&] { return finished == workers.size(); });
  }
  if (!in_time)
    for (auto& w : workers) w->stop();
  for (auto& t : threads) t.join();
  CHECK(in_time);
  spool::worker_summary total;
  for (std::size_t i = 0; i < sums.size(); ++i) {
    CHECK_FALSE(codes[i]);
    total.succeeded += sums[i].succeeded;
    total.already_complete += sums[i].already_complete;
    total.retried += sums[i].retried;
    total.dead += sums[i].dead;
    total.released += sums[i].released;
    total.lease_lost += sums[i].lease_lost;
    total.split += sums[i].split;
  }
  return total;
}

// The chunked job's status events, in order (the stitch job reports them under the job's id).
std::vector<spool::job_status> chunk_events(const recorder& r, const std::string& job_id) {
  std::vector<spool::job_status> out;
  for (const auto& e : r.events())
    if (e.job_id == job_id && e.chunks) out.push_back(e);
  return out;
}

// The package of the chunked job against that of the same input unchunked, from the files written:
// the same renditions, the same number of segments of the same durations (within a frame), the same
// frames, and every segment starting on a keyframe.
void require_same_package(const fs::path& chunked, const fs::path& plain) {
  auto cm = inspect::parse_master(chunked / "master.m3u8");
  auto pm = inspect::parse_master(plain / "master.m3u8");
  REQUIRE(cm.variants.size() == pm.variants.size());
  CHECK(cm.media.size() == pm.media.size());
  const std::pair<const char*, double> renditions[] = {{"120p", 1.0 / 30}, {"audio", 1024.0 / 48000}};
  for (const auto& [name, frame] : renditions) {
    INFO(name);
    auto c = inspect::parse_media(chunked / name / "index.m3u8");
    auto p = inspect::parse_media(plain / name / "index.m3u8");
    REQUIRE(c.durations.size() == p.durations.size());
    for (std::size_t i = 0; i < c.durations.size(); ++i) {
      INFO("segment " << i + 1);
      CHECK(std::abs(c.durations[i] - p.durations[i]) <= frame + 1e-6);
    }
    CHECK(std::abs(c.total() - p.total()) <= frame + 1e-6);
    CHECK(c.endlist);
  }
  auto cv = inspect::decode_rendition(chunked / "120p");
  auto pv = inspect::decode_rendition(plain / "120p");
  CHECK(cv.frame_count() == pv.frame_count());
  CHECK(std::abs(cv.first_pts() - pv.first_pts()) < 1e-6);
  CHECK(std::abs(cv.end_time() - pv.end_time()) <= 1.0 / 30 + 1e-6);
  for (const auto& s : cv.segments) CHECK(s.starts_with_key);
  // Presentation times follow one another across the chunk boundaries: no gap, no overlap.
  for (std::size_t i = 1; i < cv.frames.size(); ++i) {
    INFO("frame " << i);
    CHECK(cv.frames[i].pts - cv.frames[i - 1].pts == Approx(1.0 / 30).margin(1e-3));
  }
  auto ca = inspect::decode_rendition(chunked / "audio");
  auto pa = inspect::decode_rendition(plain / "audio");
  CHECK(ca.samples == pa.samples);
  auto cmpd = inspect::parse_mpd(chunked / "manifest.mpd");
  auto pmpd = inspect::parse_mpd(plain / "manifest.mpd");
  CHECK(cmpd.adaptation_sets.size() == pmpd.adaptation_sets.size());
  CHECK(std::abs(cmpd.duration_s - pmpd.duration_s) <= 1.0 / 30 + 1e-3);
  for (const char* file : {"poster.jpg", "storyboard.jpg", "storyboard.vtt", "result.json"}) {
    INFO(file);
    CHECK(fs::exists(chunked / file) == fs::exists(plain / file));
  }
}

// Nothing of the work area is left beside the output.
std::vector<std::string> work_areas(const fs::path& out) {
  std::vector<std::string> found;
  const auto prefix = out.filename().string() + ".chunks";
  for (const auto& e : fs::directory_iterator(out.parent_path()))
    if (e.path().filename().string().rfind(prefix, 0) == 0) found.push_back(e.path().string());
  return found;
}

struct chunked_fixture : fixture {
  fs::path in = input("lecture.mp4", input_s);
  fs::path plain = dir / "plain";

  // The same input unchunked, for comparison.
  void make_plain() {
    auto id = submit(in, plain, unchunked_plan);
    auto s = run_worker(queue, options());
    REQUIRE(s.succeeded == 1);
    REQUIRE(s.split == 0);
    require_package(plain, id);
  }
};

}  // namespace

TEST_CASE(
    "Worker::Chunked: a long job is split into chunks that two workers encode, stitched into the package "
    "the unchunked job makes",
    "[worker][chunked]") {
  chunked_fixture f;
  f.make_plain();
  std::vector<std::shared_ptr<q::queue_adapter>> queues;
  auto out = f.dir / "chunked";
  // The output as the job names it: a path, or a file:// URI (the work area is named after it).
  std::string output = out.string();
  SECTION("mem://") { queues = {f.queue, f.queue}; }
  SECTION("file://, each worker with its own connection, the output a file:// URI") {
    for (int i = 0; i < 2; ++i) {
      auto opened = q::make_file_queue((f.dir / "jobs.db").string());
      REQUIRE(opened.has_value());
      queues.push_back(*opened);
    }
    f.queue = queues[0];
    output = "file://" + out.string();
  }
  auto id = f.submit(f.in, output, chunked_plan);
  auto summary = run_workers(queues, f.options());

  CHECK(summary.split == 1);
  // Every chunk, the whole-input part and the stitch, each once.
  CHECK(summary.succeeded == expected_chunks + 2);
  CHECK(summary.retried + summary.dead + summary.lease_lost + summary.already_complete == 0);
  require_package(out, id);
  require_same_package(out, f.plain);
  auto st = status_of(out);
  REQUIRE(st.chunks);
  CHECK(st.chunks->done == expected_chunks);
  CHECK(st.chunks->total == expected_chunks);
  CHECK(st.metadata.at("course") == "cs101");

  // The job's status went from no chunk done to all of them, never backwards, progress with them.
  auto events = chunk_events(*f.events, id);
  REQUIRE(events.size() >= 2);
  CHECK(events.front().chunks->done == 0);
  CHECK(events.front().chunks->total == expected_chunks);
  CHECK(events.back().chunks->done == expected_chunks);
  CHECK(events.back().state == job_state::succeeded);
  for (std::size_t i = 1; i < events.size(); ++i) {
    CHECK(events[i].chunks->done >= events[i - 1].chunks->done);
    CHECK(events[i].progress >= events[i - 1].progress - 1e-9);
  }
  CHECK(f.events->states()[id].back() == job_state::succeeded);

  auto qs = f.stats();
  CHECK(qs.visible + qs.in_flight + qs.delayed + qs.dead == 0);
  CHECK(work_areas(out).empty());
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::Chunked: a chunk lost with its worker's lease is encoded again, and the package is whole",
          "[worker][chunked]") {
  chunked_fixture f;
  f.make_plain();
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  f.queue = faulty;
  auto out = f.dir / "chunked";
  auto id = f.submit(f.in, out, chunked_plan);
  // The first child to finish finds its lease gone just before publishing (as a worker that stalled
  // or died would leave it): it publishes nothing and is delivered again once the lease runs out.
  faulty->fail_nth(queue_op::extend, 1, spool::error(spool::errc::lease_lost, "lease gone"));
  auto summary = run_workers({f.queue, f.queue}, f.options());

  CHECK(summary.lease_lost == 1);
  CHECK(summary.succeeded == expected_chunks + 2);
  CHECK(summary.dead == 0);
  require_package(out, id);
  require_same_package(out, f.plain);
  // One child ran twice; its second delivery is the one that published.
  std::set<std::string> again;
  for (const auto& e : f.events->events())
    if (e.job_id != id && e.attempt == 2) again.insert(e.job_id);
  CHECK(again.size() == 1);
  // While it waited for its lease to run out, the others were done and the status counted them.
  bool counted_while_waiting = false;
  for (const auto& e : chunk_events(*f.events, id))
    counted_while_waiting |= e.state == job_state::running && e.chunks->done >= expected_chunks - 1;
  CHECK(counted_while_waiting);
  CHECK(work_areas(out).empty());
  CHECK(f.leftovers().empty());
}

TEST_CASE("Worker::Chunked: a child that fails for good makes the job dead and removes the work area",
          "[worker][chunked]") {
  chunked_fixture f;
  auto out = f.dir / "chunked";
  auto id = f.submit(f.in, out, chunked_plan);
  // Chunk 2's place in the work area holds someone else's file: that child is dead-lettered at once
  // (output_exists), without touching it.
  auto blocked = fs::path(out.string() + ".chunks-" + id) / "chunk-0001";
  fs::create_directories(blocked);
  std::ofstream(blocked / "notes.txt") << "not spool's\n";
  auto summary = run_workers({f.queue, f.queue}, f.options());

  CHECK(summary.split == 1);
  auto st = status_of(out);
  CHECK(st.job_id == id);
  CHECK(st.state == job_state::dead);
  CHECK(st.error == spool::errc::output_exists);
  CHECK(st.error_message.find("chunk 2 of 4") != std::string::npos);
  CHECK_FALSE(fs::exists(out / "master.m3u8"));
  CHECK(work_areas(out).empty());
  CHECK(f.leftovers().empty());
  // The chunk and the stitch job are in the dead-letter store; nothing is left in the queue.
  auto dead = f.dead();
  CHECK(dead.size() == 2);
  auto qs = f.stats();
  CHECK(qs.visible + qs.in_flight + qs.delayed == 0);
  CHECK(f.events->states()[id].back() == job_state::dead);
}

TEST_CASE("Worker::Chunked: a job delivered again after it queued half its children queues nothing twice",
          "[worker][chunked]") {
  chunked_fixture f;
  auto faulty = std::make_shared<faulty_queue>(f.queue);
  f.queue = faulty;
  auto out = f.dir / "chunked";
  auto id = f.submit(f.in, out, chunked_plan);
  // The chunks and the whole-input job are queued, the stitch job is not: the split fails half-way
  // and the job is retried, as if its worker had died there.
  faulty->fail_nth(queue_op::send, 1, spool::error(spool::errc::io_error, "queue unreachable"));
  auto summary = run_workers({f.queue}, f.options());

  CHECK(summary.retried == 1);
  CHECK(summary.split == 1);
  // Each child encoded once: a second copy would have been found done (already_complete) or
  // encoded twice.
  CHECK(summary.succeeded == expected_chunks + 2);
  CHECK(summary.already_complete == 0);
  std::set<std::string> children;
  for (const auto& [job, states] : f.events->states())
    if (job != id) {
      children.insert(job);
      CHECK(states == std::vector<job_state>{job_state::running, job_state::succeeded});
    }
  CHECK(children.size() == expected_chunks + 1);
  require_package(out, id);
  CHECK(work_areas(out).empty());
}

namespace {

// Keeps the bodies of the messages sent in batches: the children a split queued.
class recording_queue : public spool::test::queue_wrapper {
 public:
  using spool::test::queue_wrapper::queue_wrapper;
  spool::result<std::vector<spool::result<q::send_result>>> send_batch(
      const std::vector<q::outgoing_message>& msgs) override {
    {
      std::lock_guard lock(mutex);
      for (const auto& m : msgs) bodies.push_back(m.body);
    }
    return spool::test::queue_wrapper::send_batch(msgs);
  }
  std::mutex mutex;
  std::vector<std::string> bodies;
};

}  // namespace

TEST_CASE("Worker::Chunked: a child delivered again after its job was stitched encodes nothing and leaves nothing",
          "[worker][chunked]") {
  chunked_fixture f;
  auto recording = std::make_shared<recording_queue>(f.queue);
  f.queue = recording;
  auto out = f.dir / "chunked";
  auto id = f.submit(f.in, out, chunked_plan);
  auto first = run_workers({f.queue}, f.options());
  REQUIRE(first.succeeded == expected_chunks + 2);
  REQUIRE(recording->bodies.size() == expected_chunks + 1);
  auto published = fs::last_write_time(out / "master.m3u8");

  // As when a child published but its acknowledgement was lost: the same child comes again, after
  // the stitch job removed the work area.
  REQUIRE(f.queue->send({recording->bodies[1], "", 0ms}).has_value());
  auto again = run_workers({f.queue}, f.options());
  CHECK(again.succeeded == 0);
  CHECK(again.already_complete == 1);
  CHECK(work_areas(out).empty());
  CHECK(fs::last_write_time(out / "master.m3u8") == published);
  require_package(out, id);
  auto qs = f.stats();
  CHECK(qs.visible + qs.in_flight + qs.delayed + qs.dead == 0);
}

TEST_CASE("Worker::Chunked: a long recording without video is encoded as an ordinary job", "[worker][chunked]") {
  fixture f;
  spool::test::input_spec spec;
  spec.duration_s = input_s;
  spec.video = false;
  const auto in = f.dir / "sound.mp4";
  spool::test::make_input(in, spec);
  auto out = f.dir / "sound";
  f.submit(in, out, chunked_plan);
  auto o = f.options();
  o.policy.allow_audio_only = true;
  auto summary = run_worker(f.queue, o);
  CHECK(summary.split == 0);
  CHECK(summary.succeeded == 1);
  CHECK_FALSE(status_of(out).chunks);
  CHECK(fs::exists(out / "audio" / "index.m3u8"));
  CHECK(work_areas(out).empty());
}

TEST_CASE("Worker::Chunked: an input shorter than min_duration_s is encoded as an ordinary job", "[worker][chunked]") {
  fixture f;
  auto in = f.input("short.mp4", 8);
  auto out = f.dir / "short";
  auto id = f.submit(in, out, chunked_plan);
  auto summary = run_worker(f.queue, f.options());
  CHECK(summary.split == 0);
  CHECK(summary.succeeded == 1);
  require_package(out, id);
  CHECK_FALSE(status_of(out).chunks);
  CHECK(f.events->states().size() == 1);
  CHECK(work_areas(out).empty());
}
