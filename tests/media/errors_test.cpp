// Failures are typed, and leave nothing behind: no output directory, no temporary siblings.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "fixtures.hpp"
#include "lavfi_input.hpp"
#include "package_checks.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

spool::error_code run(const fs::path& input, const fs::path& out, const media::transcode_options& options,
                      media::transcode_result& result) {
  return spool::transcode(input.string(), out, options, result);
}

/// Counts open/read events on `file` while alive.
class access_watch {
 public:
  explicit access_watch(const fs::path& file) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    REQUIRE(fd_ >= 0);
    wd_ = inotify_add_watch(fd_, file.c_str(), IN_OPEN | IN_ACCESS);
    REQUIRE(wd_ >= 0);
  }
  ~access_watch() { close(fd_); }
  access_watch(const access_watch&) = delete;
  access_watch& operator=(const access_watch&) = delete;
  int events() {
    int n = 0;
    alignas(inotify_event) char buf[4096];
    for (;;) {
      ssize_t len = read(fd_, buf, sizeof buf);
      if (len <= 0) break;
      for (char* p = buf; p < buf + len;) {
        auto* e = reinterpret_cast<inotify_event*>(p);
        if (e->mask & (IN_OPEN | IN_ACCESS)) ++n;
        p += sizeof(inotify_event) + e->len;
      }
    }
    return n;
  }

 private:
  int fd_ = -1;
  int wd_ = -1;
};

}  // namespace

TEST_CASE("garbage input is an input error", "[media][errors]") {
  scratch_dir dir("garbage");
  const fs::path input = dir / "garbage.mp4";
  write_garbage(input, 256 * 1024);
  media::transcode_result result;
  auto ec = run(input, dir / "out", options_for(small_plan()), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(spool::kind_of(ec) == spool::category_kind::input);
  CHECK(ec == spool::condition::input);
  CHECK_FALSE(result.error_detail.empty());
  check_failed_cleanly(ec, dir / "out");
}

TEST_CASE("empty input file is an input error", "[media][errors]") {
  scratch_dir dir("empty");
  const fs::path input = dir / "empty.mp4";
  write_text(input, "");
  media::transcode_result result;
  auto ec = run(input, dir / "out", options_for(small_plan()), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(spool::kind_of(ec) == spool::category_kind::input);
  check_failed_cleanly(ec, dir / "out");
}

TEST_CASE("truncated inputs give the readable part or a typed input error and no leftovers", "[media][errors]") {
  for (std::string container : {"mp4", "mkv", "ts"}) {
    INFO("container " << container);
    scratch_dir dir("truncated");
    input_spec spec;
    spec.container = container;
    spec.duration_s = 6;
    const fs::path whole = dir / ("whole." + container);
    make_input(whole, spec);
    const fs::path input = dir / ("half." + container);
    write_truncated(whole, input, 0.5);
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto ec = run(input, out, options_for(small_plan()), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(temp_leftovers(dir.path()).empty());
    if (ec) {
      CHECK(spool::kind_of(ec) == spool::category_kind::input);
      check_failed_cleanly(ec, out);
    } else {
      // Roughly the first half, as a valid package.
      auto pkg = load_package(out);
      REQUIRE_FALSE(pkg.video.empty());
      const double got = pkg.video.front().track.end_time();
      CHECK(got > 0.5);
      CHECK(got < 6 - 0.5);
      package_expectation expect;
      expect.source_duration = got;
      expect.fps = 30;
      expect.audio = pkg.audio.has_value();
      expect.duration_tolerance = 0.1;
      check_package(pkg, expect);
    }
  }
}

TEST_CASE("an HLS playlist disguised as .mp4/.avi is refused by policy and never followed", "[media][errors][policy]") {
  for (std::string ext : {"mp4", "avi"}) {
    INFO("extension ." << ext);
    scratch_dir dir("playlist");
    // A sentinel the playlist points at: reading it would be the exploit.
    const fs::path secret = dir / "secret.txt";
    write_text(secret, "root:x:0:0:root:/root:/bin/bash\n");
    const fs::path input = dir / ("movie." + ext);
    write_hls_playlist_disguise(input, "file://" + secret.string());
    access_watch watch(secret);
    media::transcode_result result;
    auto ec = run(input, dir / "out", options_for(small_plan()), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::format_not_allowed);
    CHECK(spool::kind_of(ec) == spool::category_kind::policy);
    CHECK(watch.events() == 0);
    check_failed_cleanly(ec, dir / "out");
  }
  // The classic form, pointing at /etc/passwd.
  scratch_dir dir("passwd");
  const fs::path input = dir / "movie.mp4";
  write_hls_playlist_disguise(input, "file:///etc/passwd");
  media::transcode_result result;
  auto ec = run(input, dir / "out", options_for(small_plan()), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(ec == spool::errc::format_not_allowed);
  check_failed_cleanly(ec, dir / "out");
}

TEST_CASE("http and https URLs are refused unless allowed", "[media][errors][policy]") {
  scratch_dir dir("urls");
  for (std::string url : {"http://127.0.0.1:9/video.mp4", "https://example.invalid/video.mp4",
                          "ftp://127.0.0.1:9/video.mp4", "HTTP://127.0.0.1:9/video.mp4"}) {
    INFO("input " << url);
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto ec = spool::transcode(url, out, options_for(small_plan()), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::protocol_not_allowed);
    CHECK(spool::kind_of(ec) == spool::category_kind::policy);
    check_failed_cleanly(ec, out);
  }
}

TEST_CASE("FFmpeg protocol prefixes are not a way around the local-file rule", "[media][errors][policy]") {
  scratch_dir dir("protocols");
  for (std::string url :
       {"concat:/etc/passwd|/etc/passwd", "subfile,,start,0,end,0,,:/etc/passwd", "data:video/mp4;base64,AAAA"}) {
    INFO("input " << url);
    media::transcode_result result;
    const fs::path out = dir / "out";
    auto ec = spool::transcode(url, out, options_for(small_plan()), result);
    INFO(describe(ec) << " - " << result.error_detail);
    // Refused as a protocol, or (read as a plain file name) not found; never opened through FFmpeg's protocol.
    CHECK((ec == spool::errc::protocol_not_allowed || spool::kind_of(ec) == spool::category_kind::input));
    check_failed_cleanly(ec, out);
  }
}

TEST_CASE("policy limits on pixels and duration and streams and demuxers", "[media][errors][policy]") {
  scratch_dir dir("limits");
  input_spec spec;
  spec.duration_s = 4;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  const fs::path out = dir / "out";

  SECTION("too many pixels") {
    auto options = options_for(small_plan());
    options.policy.max_pixels = 320 * 240 - 1;
    media::transcode_result result;
    auto ec = run(input, out, options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::too_many_pixels);
    CHECK(spool::kind_of(ec) == spool::category_kind::policy);
    check_failed_cleanly(ec, out);
  }
  SECTION("exactly at the pixel limit is fine") {
    auto options = options_for(small_plan({240}));
    options.policy.max_pixels = 320 * 240;
    media::transcode_result result;
    auto ec = run(input, out, options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK_FALSE(ec);
  }
  SECTION("too long") {
    auto options = options_for(small_plan());
    options.policy.max_duration_s = 2;
    media::transcode_result result;
    auto ec = run(input, out, options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::too_long);
    CHECK(spool::kind_of(ec) == spool::category_kind::policy);
    check_failed_cleanly(ec, out);
  }
  SECTION("too many streams") {
    auto options = options_for(small_plan());
    options.policy.max_streams = 1;
    media::transcode_result result;
    auto ec = run(input, out, options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::too_many_streams);
    check_failed_cleanly(ec, out);
  }
  SECTION("demuxer not on the allow-list") {
    auto options = options_for(small_plan());
    options.policy.demuxers = {"matroska", "webm"};  // not mov/mp4
    media::transcode_result result;
    auto ec = run(input, out, options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::format_not_allowed);
    check_failed_cleanly(ec, out);
  }
}

TEST_CASE("a nonexistent input is an input error", "[media][errors]") {
  scratch_dir dir("missing");
  media::transcode_result result;
  auto ec = run(dir / "no-such-file.mp4", dir / "out", options_for(small_plan()), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(spool::kind_of(ec) == spool::category_kind::input);
  check_failed_cleanly(ec, dir / "out");
}

TEST_CASE("a plan naming an unknown encoder fails before any work", "[media][errors]") {
  scratch_dir dir("encoder");
  input_spec spec;
  spec.duration_s = 2;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan();
  plan.video.codec = "nonexistent";
  media::transcode_result result;
  auto ec = run(input, dir / "out", options_for(plan), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK((ec == spool::errc::encoder_unavailable || ec == spool::errc::invalid_spec));
  CHECK(spool::is_permanent(ec));
  check_failed_cleanly(ec, dir / "out");
}

TEST_CASE("an inconsistent plan is invalid_spec", "[media][errors]") {
  scratch_dir dir("badplan");
  input_spec spec;
  spec.duration_s = 2;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  auto plan = small_plan();
  plan.packaging.segment_s = 5;  // not a multiple of gop_s = 2
  media::transcode_result result;
  auto ec = run(input, dir / "out", options_for(plan), result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(ec == spool::errc::invalid_spec);
  check_failed_cleanly(ec, dir / "out");
}

TEST_CASE("an existing output directory is refused untouched or replaced with overwrite", "[media][errors][output]") {
  scratch_dir dir("exists");
  input_spec spec;
  spec.duration_s = 2;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  const fs::path out = dir / "out";
  fs::create_directories(out / "sub");
  write_text(out / "keep.txt", "precious");
  write_text(out / "sub" / "nested.txt", "nested");

  {
    media::transcode_result result;
    auto ec = run(input, out, options_for(small_plan()), result);
    INFO(describe(ec) << " - " << result.error_detail);
    CHECK(ec == spool::errc::output_exists);
    CHECK(spool::kind_of(ec) == spool::category_kind::policy);
    CHECK(list_dir(out) == std::vector<std::string>{"keep.txt", "sub"});
    CHECK(read_file(out / "keep.txt") == "precious");
    CHECK(read_file(out / "sub" / "nested.txt") == "nested");
    CHECK(temp_leftovers(dir.path()).empty());
  }
  {
    auto options = options_for(small_plan());
    options.overwrite = true;
    media::transcode_result result;
    auto ec = run(input, out, options, result);
    INFO(describe(ec) << " - " << result.error_detail);
    REQUIRE_FALSE(ec);
    CHECK_FALSE(fs::exists(out / "keep.txt"));
    CHECK_FALSE(fs::exists(out / "sub"));
    CHECK(fs::is_regular_file(out / "master.m3u8"));
    CHECK(temp_leftovers(dir.path()).empty());
    auto pkg = load_package(out);
    package_expectation expect;
    expect.source_duration = 2;
    expect.fps = 30;
    check_package(pkg, expect);
  }
}

TEST_CASE("an existing empty output directory is used", "[media][output]") {
  scratch_dir dir("empty-out");
  input_spec spec;
  spec.duration_s = 2;
  spec.audio = false;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  const fs::path out = dir / "out";
  fs::create_directories(out);
  media::transcode_result result;
  auto ec = run(input, out, options_for(small_plan({240})), result);
  INFO(describe(ec) << " - " << result.error_detail);
  REQUIRE_FALSE(ec);
  CHECK(fs::is_regular_file(out / "master.m3u8"));
  CHECK(temp_leftovers(dir.path()).empty());
}

TEST_CASE("a failure with overwrite keeps the previous package", "[media][errors][output]") {
  scratch_dir dir("keep-old");
  const fs::path out = dir / "out";
  fs::create_directories(out);
  write_text(out / "old.txt", "previous package");
  const fs::path input = dir / "garbage.mp4";
  write_garbage(input, 64 * 1024, 7);
  auto options = options_for(small_plan());
  options.overwrite = true;
  media::transcode_result result;
  auto ec = run(input, out, options, result);
  INFO(describe(ec) << " - " << result.error_detail);
  CHECK(spool::kind_of(ec) == spool::category_kind::input);
  CHECK(read_file(out / "old.txt") == "previous package");
  CHECK(list_dir(out) == std::vector<std::string>{"old.txt"});
  CHECK(temp_leftovers(dir.path()).empty());
}
