// A local input is opened once and judged on the descriptor: FIFOs, devices and directories are
// refused without blocking, also when the path is swapped between the check and the open.
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>

#include "crafted_input.hpp"
#include "fixtures.hpp"
#include "lavfi_input.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

// Runs in a child with an alarm: a call that blocks is killed and reported, never hangs the suite.
int probe_in_child(const fs::path& input, unsigned seconds = 10) {
  int code = -1;
  child_peak_rss_kb(
      [&] {
        ::alarm(seconds);
        media::probe_result p;
        auto ec = probe(input.string(), spool::input_policy{}, p);
        if (!ec) return 0;
        return ec == spool::errc::input_unreadable ? 3 : 4;
      },
      code);
  return code;
}

}  // namespace

TEST_CASE("FIFOs, devices and directories are refused at once", "[media][input][local]") {
  scratch_dir dir("special");
  const fs::path fifo = dir / "lecture.mp4";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  fs::create_directory(dir / "folder.mp4");
  fs::create_symlink(fifo, dir / "link.mp4");
  for (const fs::path& p : {fifo, dir / "link.mp4", dir / "folder.mp4", fs::path("/dev/zero"), fs::path("/dev/null")}) {
    INFO(p);
    // A FIFO opened for reading waits for a writer; refused, it returns at once (the alarm is 10 s).
    CHECK(probe_in_child(p) == 3);
  }
  media::transcode_result result;
  auto ec = spool::transcode(fifo.string(), dir / "out", options_for(small_plan()), result);
  CHECK(ec == spool::errc::input_unreadable);
  CHECK(result.error_detail.find("not a regular file") != std::string::npos);
}

TEST_CASE("a path swapped between a file and a FIFO never blocks and is judged on what was opened",
          "[media][input][local]") {
  scratch_dir dir("swap");
  input_spec spec;
  spec.duration_s = 0.5;
  spec.width = 160;
  spec.height = 120;
  make_input(dir / "real.mp4", spec);
  REQUIRE(::mkfifo((dir / "pipe").c_str(), 0600) == 0);
  const fs::path target = dir / "upload.mp4";
  fs::copy_file(dir / "real.mp4", target);

  // One child swaps what the path names, as fast as it can, until killed; probing children run
  // meanwhile (the parent stays single-threaded, so forking it is safe).
  const pid_t swapper = ::fork();
  REQUIRE(swapper >= 0);
  if (swapper == 0) {
    const std::string t = target.string(), real = (dir / "real.mp4").string(), pipe = (dir / "pipe").string();
    for (bool is_fifo = false;; is_fifo = !is_fifo) {
      if (is_fifo) {
        ::rename(t.c_str(), pipe.c_str());
        ::rename(real.c_str(), t.c_str());
      } else {
        ::rename(t.c_str(), real.c_str());
        ::rename(pipe.c_str(), t.c_str());
      }
      ::usleep(200);
    }
  }
  int code = -1, ok = 0, refused = 0;
  for (int i = 0; i < 30; ++i) {
    code = probe_in_child(target, 10);
    if (code == 0)
      ++ok;
    else if (code == 3)
      ++refused;
    else
      break;  // blocked (killed by the alarm) or another error
  }
  ::kill(swapper, SIGKILL);
  ::waitpid(swapper, nullptr, 0);
  INFO("ok " << ok << ", refused " << refused << ", last exit " << code);
  CHECK(ok + refused == 30);
}
