// Submits a job to a file:// queue, takes it back the way a worker would, and reads the (absent)
// status of its output: everything a submitting host does, from spool::core alone.
#include <spool/job.hpp>
#include <spool/queue/registry.hpp>
#include <spool/queue/submit.hpp>
#include <spool/storage/status.hpp>
#include <spool/version.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

int main() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    if (!ok) {
      std::fprintf(stderr, "core-only consumer check failed: %s\n", what);
      ++failures;
    }
  };
  check(spool::version() == SPOOL_VERSION, "the library's version matches the headers'");

  namespace fs = std::filesystem;
  char dir_template[] = "/tmp/spool-core-only-XXXXXX";
  const char* made = ::mkdtemp(dir_template);
  if (made == nullptr) return 2;
  const fs::path dir = made;

  auto q = spool::queue::open_queue("file://" + (dir / "jobs.db").string());
  check(q.has_value(), "a file:// queue opens");
  if (q.has_value()) {
    spool::job_spec job;
    job.input = (dir / "lecture.mp4").string();
    job.output = (dir / "out").string();
    auto sent = spool::queue::submit(**q, job);
    check(sent.has_value() && !sent->job_id.empty(), "submit queues the job and names it");

    auto got = (*q)->receive({});
    check(got.has_value() && got->size() == 1, "the job comes back from the queue");
    if (got.has_value() && got->size() == 1) {
      auto back = spool::parse_job_spec(got->front().body);
      check(back.has_value() && back->input == job.input, "the message is the job submitted");
      check(back.has_value() && !back->resolved_by.empty(), "the job carries its resolved plan");
      check(!(*q)->ack(got->front()), "the job is acknowledged");
    }

    spool::job_spec bad = job;
    bad.plan.video.rungs.clear();
    bad.plan.audio.enabled = false;
    auto refused = spool::queue::submit(**q, bad);
    check(!refused.has_value() && refused.error().code == spool::errc::invalid_spec,
          "a job a worker would refuse is invalid_spec");
  }

  auto status = spool::read_status((dir / "out").string());
  check(status.has_value() && !status->has_value(), "no status before a worker ran");

  fs::remove_all(dir);
  return failures == 0 ? 0 : 1;
}
