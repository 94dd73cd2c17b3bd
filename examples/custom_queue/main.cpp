// A host with its own queue backend: registers tiny:// through the same call spool's built-in
// backends use, queues a job on it, and runs spool's conformance suite against it. Exits 0 only
// when every case passes.
#include <spool/queue/registry.hpp>
#include <spool/queue/submit.hpp>
#include <spool/test/queue_conformance.hpp>

#include <cstdio>
#include <map>
#include <memory>

#include "tiny_queue.hpp"

int main() {
  namespace q = spool::queue;
  // tiny://anything: a fresh, empty queue per open.
  if (auto e = q::register_scheme("tiny", [](std::string_view) -> spool::result<std::shared_ptr<q::queue_adapter>> {
        return std::make_shared<tiny::tiny_queue>();
      })) {
    std::fprintf(stderr, "cannot register tiny://: %s\n", e.what().c_str());
    return 1;
  }

  auto queue = q::open_queue("tiny://uploads");
  if (!queue) {
    std::fprintf(stderr, "cannot open tiny://uploads: %s\n", queue.error().what().c_str());
    return 1;
  }
  spool::job_spec job;
  job.input = "/srv/uploads/lecture.mp4";
  job.output = "/srv/video/lecture";
  auto sent = q::submit(**queue, job);
  if (!sent) {
    std::fprintf(stderr, "submit failed: %s\n", sent.error().what().c_str());
    return 1;
  }
  std::printf("queued job %s on tiny://uploads\n", sent->job_id.c_str());

  namespace conf = spool::test::conformance;
  std::map<std::string, int> cases_per_clause;
  for (const auto& c : conf::cases()) ++cases_per_clause[c.clause];
  auto failures = conf::run_all([] { return q::open_queue("tiny://conformance").value(); });
  for (const auto& [clause, n] : cases_per_clause) std::printf("  %-24s %d cases\n", clause.c_str(), n);
  if (!failures.empty()) {
    std::fprintf(stderr, "tiny:// fails the conformance suite:\n%s", conf::to_string(failures).c_str());
    return 1;
  }
  std::printf("tiny:// passes spool's queue conformance suite\n");
  return 0;
}
