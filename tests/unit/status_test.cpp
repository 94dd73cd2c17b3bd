#include <spool/json_text.hpp>
#include <spool/storage/status.hpp>
#include <spool/worker/worker.hpp>

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "catch_result.hpp"
#include "core/faults.hpp"

namespace fs = std::filesystem;
using spool::job_state;

namespace {

struct temp_dir {
  fs::path path;
  temp_dir() {
    std::string t = (fs::temp_directory_path() / "spool-status-XXXXXX").string();
    REQUIRE(mkdtemp(t.data()));
    path = t;
  }
  ~temp_dir() { fs::remove_all(path); }
};

std::vector<std::string> names_in(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Clears a fault hook when the test ends, however it ends.
struct hook_reset {
  ~hook_reset() { spool::detail::faults().before_status_create = nullptr; }
};

spool::job_status sample() {
  spool::job_status s;
  s.job_id = "0123456789abcdef0123456789abcdef";
  s.state = job_state::failed;
  s.attempt = 3;
  s.progress = 0.25;
  s.eta_s = 42.5;
  s.error = spool::errc::no_space;
  s.error_message = "disk full";
  s.updated_at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'790'000'000'123));
  s.metadata = boost::json::object{{"course", "cs101"}};
  return s;
}

// The status kept for `dir`, through storage's status sink.
spool::error write_status(const fs::path& dir, const spool::job_status& s) {
  return spool::open_status(dir).value()->write(s);
}
spool::error create_status(const fs::path& dir, const spool::job_status& s) {
  return spool::open_status(dir).value()->create(s);
}
std::optional<spool::job_status> read_back(const fs::path& dir) { return spool::read_status(dir).value(); }

}  // namespace

TEST_CASE("Job::Status: the JSON of a status reads back the same", "[status]") {
  auto s = sample();
  auto text = boost::json::serialize(spool::to_json(s));
  auto parsed = spool::parse_job_status(text);
  REQUIRE(parsed.has_value());
  const spool::job_status& back = *parsed;
  CHECK(back.job_id == s.job_id);
  CHECK(back.state == s.state);
  CHECK(back.attempt == 3);
  CHECK(back.progress == 0.25);
  CHECK(back.eta_s == 42.5);
  CHECK(back.error == spool::errc::no_space);
  CHECK(back.error_message == "disk full");
  CHECK(back.updated_at == s.updated_at);
  CHECK(back.metadata == s.metadata);
  auto o = boost::json::parse(text).as_object();
  CHECK(o.at("updated_at") == "2026-09-21T14:13:20.123Z");
  CHECK(o.at("error").at("category") == "resource");
}

TEST_CASE("Job::Status: what is not a status is refused", "[status]") {
  for (const char* bad : {"", "[]", "{}", R"({"job_id":"x"})", R"({"job_id":"x","state":"exploded"})",
                          R"({"job_id":7,"state":"queued"})"}) {
    INFO(bad);
    auto r = spool::parse_job_status(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == spool::errc::invalid_spec);
  }
}

TEST_CASE("Job::Status: a status sink's write replaces status.json whole and leaves no temporary", "[status]") {
  temp_dir d;
  auto out = d.path / "lecture";  // created on the first write
  auto s = sample();
  REQUIRE_FALSE(write_status(out, s));
  s.state = job_state::succeeded;
  s.error = {};
  REQUIRE_FALSE(write_status(out, s));
  auto back = read_back(out);
  REQUIRE(back.has_value());
  CHECK(back->state == job_state::succeeded);
  CHECK_FALSE(back->error);
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
  CHECK(names == std::vector<std::string>{"status.json"});
  CHECK((fs::status(out / "status.json").permissions() & fs::perms::others_read) != fs::perms::none);
}

TEST_CASE("Job::Status: a crashed writer's temporary is removed by the next write", "[status]") {
  temp_dir d;
  // What a writer killed between creating and renaming its temporary leaves: no lock holds it.
  std::ofstream(d.path / ".status.json.tmp-AbC123") << "{\"job_id\":";
  fs::permissions(d.path / ".status.json.tmp-AbC123",
                  fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
  REQUIRE_FALSE(write_status(d.path, sample()));
  CHECK_FALSE(fs::exists(d.path / ".status.json.tmp-AbC123"));
  CHECK(fs::exists(d.path / "status.json"));
}

TEST_CASE("Job::Status: reading where there is none says so, what is not a status is a typed error", "[status]") {
  temp_dir d;
  auto missing = spool::read_status(d.path / "missing");
  REQUIRE(missing.has_value());
  CHECK_FALSE(missing->has_value());  // none there: an empty answer, not an error
  std::ofstream(d.path / "status.json") << "not json";
  auto bad = spool::read_status(d.path);
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == spool::errc::invalid_spec);
}

TEST_CASE("Job::Status: a status sink's create writes where there is no status.json, and only there", "[status]") {
  temp_dir d;
  auto out = d.path / "lecture";  // created with it
  auto queued = sample();
  queued.state = job_state::queued;
  REQUIRE_FALSE(create_status(out, queued));
  auto back = read_back(out);
  REQUIRE(back.has_value());
  CHECK(back->state == job_state::queued);

  // A second create finds it there: refused, and the file is what the first wrote.
  const auto before = contents(out / "status.json");
  auto other = sample();
  other.job_id = "ffffffffffffffffffffffffffffffff";
  auto e = create_status(out, other);
  CHECK(e.code == spool::errc::output_exists);
  CHECK_FALSE(e.message.empty());
  CHECK(contents(out / "status.json") == before);
  CHECK(names_in(out) == std::vector<std::string>{"status.json"});
}

TEST_CASE("Job::Status: a status written while a create is under way is never replaced", "[status]") {
  temp_dir d;
  hook_reset reset;
  // The submit's "queued" is synced and about to go in when a worker writes "running".
  auto running = sample();
  running.state = job_state::running;
  running.error = {};
  int calls = 0;
  spool::detail::faults().before_status_create = [&] {
    ++calls;
    REQUIRE_FALSE(write_status(d.path, running));
  };
  auto queued = sample();
  queued.state = job_state::queued;
  CHECK(create_status(d.path, queued).code == spool::errc::output_exists);
  CHECK(calls == 1);
  auto back = read_back(d.path);
  REQUIRE(back.has_value());
  CHECK(back->state == job_state::running);
  // The refused temporary is gone too.
  CHECK(names_in(d.path) == std::vector<std::string>{"status.json"});
}

TEST_CASE("Worker::Summary: its JSON has every count under its own name, as a whole number", "[status][worker]") {
  spool::worker_summary sum;
  sum.succeeded = 1;
  sum.already_complete = 2;
  sum.retried = 3;
  sum.dead = 4;
  sum.released = 5;
  sum.lease_lost = 6'000'000'000;  // past 32 bits
  sum.split = 7;
  CHECK(spool::to_json_text(spool::to_json(sum)) ==
        R"({"succeeded":1,"already_complete":2,"retried":3,"dead":4,"released":5,"lease_lost":6000000000,)"
        R"("split":7})");
}
