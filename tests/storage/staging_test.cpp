// Local storage's staging folder, the package sink the engine writes into: a crashed run's is
// cleaned up by the next run of the same output, a live one is never touched, nothing is visible
// before commit, and a status.json alone does not make an output "taken".
#include <spool/media/transcode.hpp>
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <span>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_inspect.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

fs::path small_input(const scratch_dir& dir) {
  input_spec spec;
  spec.duration_s = 2;
  spec.audio = false;
  auto p = dir / "in.mp4";
  make_input(p, spec);
  return p;
}

// What a run killed mid-encode leaves beside its output: a ready staging directory nobody locks.
fs::path abandoned_staging(const fs::path& parent, const std::string& output_name, const std::string& suffix) {
  auto p = parent / ("." + output_name + ".spool-tmp-" + suffix);
  fs::create_directories(p / "240p");
  write_text(p / "240p" / "seg_00001.m4s", "half a segment");
  fs::permissions(p, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                         fs::perms::others_exec);
  return p;
}

}  // namespace

TEST_CASE("a crashed run's staging directory is removed by the next run of the same output", "[storage][output]") {
  scratch_dir dir("staging-stale");
  auto input = small_input(dir);
  auto stale = abandoned_staging(dir.path(), "out", "Zq81Lx");
  auto other = abandoned_staging(dir.path(), "other", "Pp02Aa");  // another output's: not ours to remove
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), dir / "out", options_for(small_plan({240})), result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(other));
  CHECK(temp_leftovers(dir.path()) == std::vector<std::string>{other.filename().string()});
}

TEST_CASE("a staging directory whose owner is alive is left alone", "[storage][output]") {
  scratch_dir dir("staging-live");
  auto input = small_input(dir);
  auto live = abandoned_staging(dir.path(), "out", "Lv55Qw");
  // Its owner holds the lock (flock conflicts between open files even within one process).
  int fd = ::open(live.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  media::transcode_result result;
  auto ec = spool::transcode(input.string(), dir / "out", options_for(small_plan({240})), result);
  ::close(fd);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(fs::exists(live / "240p" / "seg_00001.m4s"));
  CHECK(fs::is_regular_file(dir / "out" / "master.m3u8"));
}

TEST_CASE("an output folder holding only a status.json is published over, with the status put into the package",
          "[storage][output]") {
  scratch_dir dir("staging-status");
  auto input = small_input(dir);
  auto out = dir / "out";
  fs::create_directories(out);
  write_text(out / "status.json", R"({"job_id":"j","state":"running"})");
  // What the worker does: the engine encodes into the sink, the final status goes in, then commit.
  auto where = spool::storage::resolve(out.string()).value();
  auto sink = where.backend->open_package(where.path, {}).value();
  auto source = where.backend->open_source(input.string(), {}).value();
  media::transcode_result result;
  REQUIRE_FALSE(media::transcode(*source, *sink, options_for(small_plan({240})), result));
  CHECK_FALSE(fs::exists(out / "master.m3u8"));  // nothing visible before commit
  REQUIRE_FALSE(sink->put_manifest("status.json", "final"));
  REQUIRE_FALSE(sink->commit());
  CHECK(fs::is_regular_file(out / "master.m3u8"));
  CHECK(read_file(out / "status.json") == "final");
  CHECK(temp_leftovers(dir.path()).empty());

  // Anything else in the way is still refused.
  auto taken = dir / "taken";
  fs::create_directories(taken);
  write_text(taken / "status.json", "{}");
  write_text(taken / "notes.txt", "mine");
  auto ec = spool::transcode(input.string(), taken, options_for(small_plan({240})), result);
  CHECK(ec == spool::errc::output_exists);
  CHECK(list_dir(taken) == std::vector<std::string>{"notes.txt", "status.json"});
}

TEST_CASE("a commit whose check fails publishes nothing and leaves nothing", "[storage][output]") {
  scratch_dir dir("staging-check");
  auto input = small_input(dir);
  auto where = spool::storage::resolve((dir / "out").string()).value();
  auto sink = where.backend->open_package(where.path, {}).value();
  auto source = where.backend->open_source(input.string(), {}).value();
  media::transcode_result result;
  REQUIRE_FALSE(media::transcode(*source, *sink, options_for(small_plan({240})), result));
  int checks = 0;
  auto e = sink->commit([&]() -> spool::error {
    // A lease found lost on the way: the first directory synced, then it stops.
    return ++checks > 1 ? spool::error(spool::errc::lease_lost, "the lease was lost before publishing")
                        : spool::error();
  });
  CHECK(e.code == spool::errc::lease_lost);
  CHECK(checks == 2);
  sink->abort();
  CHECK_FALSE(fs::exists(dir / "out"));
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("a sink destroyed without commit leaves the output as it was", "[storage][output]") {
  scratch_dir dir("staging-drop");
  fs::create_directories(dir / "out");
  write_text(dir / "out" / "status.json", "{}");
  {
    auto where = spool::storage::resolve((dir / "out").string()).value();
    auto sink = where.backend->open_package(where.path, {}).value();
    const std::string bytes = "a segment";
    REQUIRE_FALSE(sink->put("240p/seg_00001.m4s", std::as_bytes(std::span(bytes.data(), bytes.size()))));
    CHECK(temp_leftovers(dir.path()).size() == 1);
  }
  CHECK(temp_leftovers(dir.path()).empty());
  CHECK(list_dir(dir / "out") == std::vector<std::string>{"status.json"});
}
