#include <spool/queue/scaling.hpp>

#include <catch2/catch.hpp>

#include <chrono>

namespace q = spool::queue;
using namespace std::chrono_literals;

TEST_CASE("Queue::Scaling: backlog per worker, as KEDA's SQS scaler counts it", "[scaling]") {
  q::queue_stats s;
  s.visible = 40;
  s.in_flight = 3;
  s.delayed = 7;
  q::scaling_policy p;  // 1 job per worker, in-flight counted, delayed not
  CHECK(q::backlog(s, p) == 43);
  CHECK(q::recommended_workers(s, p) == 43);
  p.jobs_per_worker = 5;                     // KEDA's default queueLength
  CHECK(q::recommended_workers(s, p) == 9);  // ceil(43 / 5)
  p.count_in_flight = false;
  CHECK(q::recommended_workers(s, p) == 8);  // ceil(40 / 5)
  p.count_delayed = true;
  CHECK(q::recommended_workers(s, p) == 10);  // ceil(47 / 5)
}

TEST_CASE("Queue::Scaling: bounds, an empty queue, and the ECS latency target", "[scaling]") {
  q::queue_stats empty;
  q::scaling_policy p;
  CHECK(q::recommended_workers(empty, p) == 0);
  p.min_workers = 2;
  CHECK(q::recommended_workers(empty, p) == 2);
  q::queue_stats deep;
  deep.visible = 1500;
  p.max_workers = 20;
  CHECK(q::recommended_workers(deep, p) == 20);
  // ECS's worked example: 0.1 s per message and 10 s of acceptable latency: 100 per task.
  p.jobs_per_worker = q::target_jobs_per_worker(10s, 100ms);
  CHECK(p.jobs_per_worker == 100);
  p.max_workers = 0;
  CHECK(q::recommended_workers(deep, p) == 15);
  // Lectures: 10-minute encodes and 30 minutes of acceptable wait: 3 jobs per worker.
  CHECK(q::target_jobs_per_worker(30min, 10min) == 3);
  CHECK(q::target_jobs_per_worker(5min, 10min) == 1);  // never below one
  p.jobs_per_worker = 0;                               // nonsense counts as 1
  CHECK(q::recommended_workers(deep, p) == 1500);
}
