// The staging directory a package is built in: a crashed run's is cleaned up by the next run of the
// same output, a live one is never touched, and a status.json alone does not make an output "taken".
#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_inspect.hpp"

#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

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

TEST_CASE("a crashed run's staging directory is removed by the next run of the same output", "[media][output]") {
  scratch_dir dir("staging-stale");
  auto input = small_input(dir);
  auto stale = abandoned_staging(dir.path(), "out", "Zq81Lx");
  auto other = abandoned_staging(dir.path(), "other", "Pp02Aa");  // another output's: not ours to remove
  media::transcode_result result;
  auto ec = media::transcode(input.string(), dir / "out", options_for(small_plan({240})), result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK_FALSE(fs::exists(stale));
  CHECK(fs::exists(other));
  CHECK(temp_leftovers(dir.path()) == std::vector<std::string>{other.filename().string()});
}

TEST_CASE("a staging directory whose owner is alive is left alone", "[media][output]") {
  scratch_dir dir("staging-live");
  auto input = small_input(dir);
  auto live = abandoned_staging(dir.path(), "out", "Lv55Qw");
  // Its owner holds the lock (flock conflicts between open files even within one process).
  int fd = ::open(live.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  REQUIRE(::flock(fd, LOCK_EX) == 0);
  media::transcode_result result;
  auto ec = media::transcode(input.string(), dir / "out", options_for(small_plan({240})), result);
  ::close(fd);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(fs::exists(live / "240p" / "seg_00001.m4s"));
  CHECK(fs::is_regular_file(dir / "out" / "master.m3u8"));
}

TEST_CASE("an output directory holding only a status.json is published over", "[media][output]") {
  scratch_dir dir("staging-status");
  auto input = small_input(dir);
  auto out = dir / "out";
  fs::create_directories(out);
  write_text(out / "status.json", R"({"job_id":"j","state":"running"})");
  auto options = options_for(small_plan({240}));
  options.before_publish = [](const fs::path& staging) { write_text(staging / "status.json", "final"); };
  media::transcode_result result;
  auto ec = media::transcode(input.string(), out, options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(fs::is_regular_file(out / "master.m3u8"));
  CHECK(read_file(out / "status.json") == "final");
  CHECK(temp_leftovers(dir.path()).empty());

  // Anything else in the way is still refused.
  auto taken = dir / "taken";
  fs::create_directories(taken);
  write_text(taken / "status.json", "{}");
  write_text(taken / "notes.txt", "mine");
  ec = media::transcode(input.string(), taken, options, result);
  CHECK(ec == spool::errc::output_exists);
  CHECK(list_dir(taken) == std::vector<std::string>{"notes.txt", "status.json"});
}

TEST_CASE("before_publish throwing fails the transcode and publishes nothing", "[media][output]") {
  scratch_dir dir("staging-hook");
  auto input = small_input(dir);
  auto options = options_for(small_plan({240}));
  options.before_publish = [](const fs::path&) { throw std::runtime_error("status store unavailable"); };
  media::transcode_result result;
  auto ec = media::transcode(input.string(), dir / "out", options, result);
  CHECK(ec == spool::errc::internal);
  CHECK(result.error_detail.find("status store unavailable") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "out"));
  CHECK(temp_leftovers(dir.path()).empty());
}
