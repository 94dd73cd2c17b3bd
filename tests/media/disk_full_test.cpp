// Running out of space mid-package is a resource error (retry later), and leaves nothing behind.
// The transcode runs in a forked child whose file-size limit (RLIMIT_FSIZE) is tiny: every write
// past it fails with EFBIG, the same way a full disk fails with ENOSPC.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

#include "fixtures.hpp"
#include "lavfi_input.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

// Child exit codes: 10 + category_kind, or these.
constexpr int exit_success = 2;
constexpr int exit_exception = 3;

}  // namespace

TEST_CASE("a write limit during the transcode is a resource error with no leftovers", "[media][resource]") {
  // Fork first, before this process has started any thread of its own (the input is generated
  // here too, but libx264's threads are joined when its encoder closes).
  scratch_dir dir("disk-full");
  input_spec spec;
  spec.width = 640;
  spec.height = 360;
  spec.duration_s = 8;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  const fs::path out = dir / "out";

  int pipefd[2];
  REQUIRE(pipe(pipefd) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: no Catch2 here, just the transcode and an exit code.
    close(pipefd[0]);
    signal(SIGXFSZ, SIG_IGN);
    rlimit lim{};
    lim.rlim_cur = lim.rlim_max = 96 * 1024;  // bytes per file
    if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(exit_exception);
    int code = exit_exception;
    try {
      media::transcode_options options;
      options.plan.video.rungs = {{"360p", 360, 23, 0, 0}, {"240p", 240, 23, 0, 0}};
      options.plan.video.preset = "ultrafast";
      media::transcode_result result;
      auto ec = spool::transcode(input.string(), out, options, result);
      std::string text = describe(ec) + " - " + result.error_detail;
      ssize_t ignored = write(pipefd[1], text.data(), text.size());
      (void)ignored;
      code = ec ? 10 + static_cast<int>(spool::kind_of(ec)) : exit_success;
    } catch (...) {
      code = exit_exception;
    }
    close(pipefd[1]);
    _exit(code);
  }
  close(pipefd[1]);
  // A hang is a failure too: give the child a generous while (this is a watchdog, not a timing
  // assertion: the transcode itself takes a few seconds), then kill it.
  int status = 0;
  bool hung = false;
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(4);
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    REQUIRE(r >= 0);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > give_up) {
      hung = true;
      kill(pid, SIGKILL);
      REQUIRE(waitpid(pid, &status, 0) == pid);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string child_said;
  char buf[512];
  for (ssize_t n; (n = read(pipefd[0], buf, sizeof buf)) > 0;) child_said.append(buf, static_cast<std::size_t>(n));
  close(pipefd[0]);
  INFO("child: " << child_said);
  {
    INFO("the transcode did not return within 4 minutes after hitting the write limit (hang); child killed");
    CHECK_FALSE(hung);
  }
  if (hung) {
    // The killed child could not clean up after itself; the leftover checks below would only
    // repeat the hang. The scratch directory (and whatever the child left in it) is removed anyway.
    return;
  }
  REQUIRE(WIFEXITED(status));
  const int code = WEXITSTATUS(status);
  INFO("child exit code " << code << " (10 + category_kind; resource = "
                          << 10 + static_cast<int>(spool::category_kind::resource) << ")");
  CHECK(code != exit_success);
  CHECK(code != exit_exception);
  CHECK(code == 10 + static_cast<int>(spool::category_kind::resource));
  CHECK_FALSE(fs::exists(out));
  CHECK(temp_leftovers(dir.path()).empty());
  // Nothing else appeared next to the input either.
  CHECK(list_dir(dir.path()) == std::vector<std::string>{"in.mp4"});
}
