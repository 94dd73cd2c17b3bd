// A host with a PostgreSQL queue: registers postgresql:// through the same call spool's built-in
// backends use, queues a job on it, runs spool's conformance suite case by case (each on a fresh
// queue of its own) and this backend's own checks. Exits 0 only when everything passes.
//
//   pg_conformance postgresql://USER@HOST:PORT/DATABASE
//
// run-with-postgres.sh starts a PostgreSQL server of its own for it and stops it afterwards.
#include <spool/queue/registry.hpp>
#include <spool/queue/submit.hpp>
#include <spool/test/queue_conformance.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "backend_checks.hpp"
#include "pg_queue.hpp"
#include "pg_uri.hpp"

namespace {

namespace q = spool::queue;
namespace conf = spool::test::conformance;
using steady = std::chrono::steady_clock;

long long ms_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - t).count();
}

void print_failures(const std::vector<conf::failure>& failures) {
  for (const auto& f : failures) std::printf("      %s\n", f.what.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s postgresql://USER@HOST:PORT/DATABASE\n", argv[0]);
    return 2;
  }
  const std::string server = argv[1];
  if (auto e = pgq::register_postgresql_scheme()) {
    std::fprintf(stderr, "cannot register postgresql://: %s\n", e.what().c_str());
    return 1;
  }
  // Queue names of this run: a database may keep queues of earlier runs.
  const std::string run = "run-" + std::to_string(::getpid()) + "-" +
                          std::to_string(std::chrono::system_clock::now().time_since_epoch().count()) + "-";

  auto queue = q::open_queue(pgq::with_queue(server, run + "uploads"));
  if (!queue) {
    std::fprintf(stderr, "cannot open the queue: %s\n", queue.error().what().c_str());
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
  std::printf("queued job %s on %s\n", sent->job_id.c_str(), pgq::with_queue(server, run + "uploads").c_str());

  int passed = 0, failed = 0, n = 0;
  const auto start = steady::now();
  for (const auto& c : conf::cases()) {
    const auto t0 = steady::now();
    std::vector<conf::failure> failures;
    auto fresh = q::open_queue(pgq::with_queue(server, run + "conformance-" + std::to_string(n++)));
    if (!fresh)
      failures.push_back({c.name, "cannot open a fresh queue: " + fresh.error().what()});
    else
      failures = conf::run_case(c, **fresh);
    std::printf("  %-4s %-24s %-36s %5lld ms\n", failures.empty() ? "ok" : "FAIL", c.clause.c_str(), c.name.c_str(),
                ms_since(t0));
    print_failures(failures);
    ++(failures.empty() ? passed : failed);
  }
  std::printf("conformance: %d of %d cases passed in %lld ms\n", passed, passed + failed, ms_since(start));

  const auto t0 = steady::now();
  auto own = pgq::run_backend_checks(server, run + "own-");
  std::printf("backend checks: %s in %lld ms\n", own.empty() ? "passed" : "FAILED", ms_since(t0));
  for (const auto& f : own) std::printf("  %s: %s\n", f.test.c_str(), f.what.c_str());

  const bool ok = failed == 0 && own.empty();
  std::printf(ok ? "postgresql:// passes spool's queue conformance suite\n"
                 : "postgresql:// fails spool's queue conformance suite or its own checks\n");
  return ok ? 0 : 1;
}
