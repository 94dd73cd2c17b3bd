// spool::queue::submit and submit_batch: the one way jobs are queued (job_queue and `spool submit`
// both call them), with and without a backend's batch send.
#include <spool/queue/registry.hpp>
#include <spool/queue/submit.hpp>
#include <spool/test/faulty_queue.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <vector>

#include "queue_helpers.hpp"

namespace q = spool::queue;
using spool::errc;
using spool::test::queue_op;

namespace {

spool::job_spec job(const std::string& input, const std::string& key = "") {
  spool::job_spec j;
  j.input = input;
  j.output = "/srv/packages/" + input.substr(input.rfind('/') + 1);
  j.idempotency_key = key;
  return j;
}

std::shared_ptr<spool::test::faulty_queue> fresh() {
  return std::make_shared<spool::test::faulty_queue>(q::make_memory_queue(queue_test::unique("submit")));
}

}  // namespace

TEST_CASE("Queue::Submit: the message is the job as a worker reads it, named by the queue", "[queue][submit]") {
  auto queue = fresh();
  auto j = job("/srv/uploads/a.mp4", "upload-a");
  j.job_id = "chosen-by-the-host";
  j.metadata = boost::json::object{{"course", "cs101"}};
  auto s = queue_test::value_of(q::submit(*queue, j));
  CHECK_FALSE(s.duplicate);
  auto got = queue_test::receive(*queue);
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == s.job_id);
  auto parsed = spool::parse_job_spec(got[0].body);
  REQUIRE(parsed.has_value());
  const auto& body = *parsed;
  CHECK(body.job_id.empty());
  CHECK(body.input == j.input);
  CHECK(body.output == j.output);
  CHECK(body.idempotency_key == "upload-a");
  CHECK(body.metadata == j.metadata);
  CHECK(spool::to_json(body.plan) == spool::to_json(j.plan));  // the plan resolved at submit, whole
  // The key is the dedup key: the same job again queues nothing.
  auto again = queue_test::value_of(q::submit(*queue, j));
  CHECK(again.duplicate);
  CHECK(again.job_id == s.job_id);
}

TEST_CASE("Queue::Submit::Invalid: a job a worker would refuse is invalid_spec with the reason, nothing is sent",
          "[queue][submit]") {
  auto queue = fresh();
  auto bad_plan = job("/srv/uploads/a.mp4");
  bad_plan.plan.packaging.segment_s = 5;  // not a multiple of the 2 s GOP
  auto no_output = job("/srv/uploads/b.mp4");
  no_output.output.clear();
  const std::vector<std::pair<spool::job_spec, std::string>> refused{{bad_plan, "multiple"}, {no_output, "output"}};
  for (const auto& [j, says] : refused) {
    auto checked = q::check_job(j);
    CHECK(checked.code == errc::invalid_spec);
    CHECK(checked.message.find(says) != std::string::npos);
    auto r = q::submit(*queue, j);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::invalid_spec);
    CHECK(r.error().message == checked.message);
  }
  CHECK_FALSE(q::check_job(job("/srv/uploads/c.mp4")));
  CHECK(queue->calls(queue_op::send) == 0);
}

TEST_CASE("Queue::SubmitBatch: one send_batch where the backend has it, all of it or none", "[queue][submit]") {
  auto queue = fresh();
  std::vector<spool::job_spec> jobs{job("/u/1.mp4", "k1"), job("/u/2.mp4"), job("/u/3.mp4", "k1")};
  auto out = q::submit_batch(*queue, jobs);
  REQUIRE(out.size() == 3);
  for (const auto& r : out) REQUIRE(r.has_value());
  CHECK(out[2]->duplicate);
  CHECK(out[2]->job_id == out[0]->job_id);
  CHECK(queue->calls(queue_op::send_batch) == 1);
  CHECK(queue->calls(queue_op::send) == 0);
  CHECK(queue_test::stats(*queue).visible == 2);

  // The backend refuses the batch: every job says so, and nothing was queued.
  queue->fail_nth(queue_op::send_batch, 1, {errc::io_error, "the queue's disk failed"});
  out = q::submit_batch(*queue, {job("/u/4.mp4"), job("/u/5.mp4")});
  REQUIRE(out.size() == 2);
  for (const auto& r : out) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == errc::io_error);
    CHECK(r.error().message == "the queue's disk failed");
  }
  CHECK(queue_test::stats(*queue).visible == 2);
}

TEST_CASE("Queue::SubmitBatch::OneByOne: without batch send, one send per job, stopping at the first failure",
          "[queue][submit]") {
  auto queue = fresh();
  queue->withdraw(queue_op::send_batch);
  queue->fail_nth(queue_op::send, 2, {errc::throttled, "slow down"});
  auto out = q::submit_batch(*queue, {job("/u/1.mp4"), job("/u/2.mp4"), job("/u/3.mp4")});
  REQUIRE(out.size() == 3);
  REQUIRE(out[0].has_value());
  REQUIRE_FALSE(out[1].has_value());
  CHECK(out[1].error().code == errc::throttled);
  CHECK(out[1].error().message == "job 2 of 3: slow down");
  REQUIRE_FALSE(out[2].has_value());
  CHECK(out[2].error().message.find("not attempted") != std::string::npos);
  CHECK(queue->calls(queue_op::send) == 2);
  CHECK(queue->calls(queue_op::send_batch) == 0);
  // Exactly the job with an id was queued.
  auto got = queue_test::receive(*queue);
  REQUIRE(got.size() == 1);
  CHECK(got[0].message_id == out[0]->job_id);

  // Keys still count between the jobs of one batch: the backend's send deduplicates them.
  auto again = q::submit_batch(*queue, {job("/u/4.mp4", "k"), job("/u/5.mp4", "k")});
  REQUIRE(again.size() == 2);
  REQUIRE(again[0].has_value());
  REQUIRE(again[1].has_value());
  CHECK(again[1]->duplicate);
  CHECK(again[1]->job_id == again[0]->job_id);
}
