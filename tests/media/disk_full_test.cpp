// Running out of space mid-package is a resource error (retry later), and leaves nothing behind.
// The transcode runs in a forked child whose file-size limit (RLIMIT_FSIZE) is tiny: every write
// past it fails with EFBIG, the same way a full disk fails with ENOSPC.
#include <spool/media/transcode.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "crafted_input.hpp"
#include "fixtures.hpp"
#include "lavfi_input.hpp"

namespace fs = std::filesystem;
using namespace spool::test;
namespace media = spool::media;

namespace {

// Child exit codes: 10 + category_kind, or this (or child_threw).
constexpr int exit_success = 2;

}  // namespace

TEST_CASE("a write limit during the transcode is a resource error with no leftovers", "[media][resource]") {
  scratch_dir dir("disk-full");
  input_spec spec;
  spec.width = 640;
  spec.height = 360;
  spec.duration_s = 8;
  const fs::path input = dir / "in.mp4";
  make_input(input, spec);
  const fs::path out = dir / "out";

  // The fork comes before this process starts any thread of its own (libx264's threads, which made
  // the input, are joined when its encoder closes).
  const auto child = run_with_file_size_limit(96 * 1024, [&](std::string& said) {
    media::transcode_options options;
    options.plan.video.rungs = {{"360p", 360, 23, 0, 0}, {"240p", 240, 23, 0, 0}};
    options.plan.video.preset = "ultrafast";
    media::transcode_result result;
    auto ec = spool::transcode(input.string(), out, options, result);
    said = describe(ec) + " - " + result.error_detail;
    return ec ? 10 + static_cast<int>(spool::kind_of(ec)) : exit_success;
  });
  INFO("child: " << child.said);
  {
    INFO("the transcode did not return within 4 minutes after hitting the write limit (hang); child killed");
    CHECK_FALSE(child.hung);
  }
  if (child.hung) {
    // The killed child could not clean up after itself; the leftover checks below would only
    // repeat the hang. The scratch directory (and whatever the child left in it) is removed anyway.
    return;
  }
  REQUIRE(child.exited);
  const int code = child.exit_code;
  INFO("child exit code " << code << " (10 + category_kind; resource = "
                          << 10 + static_cast<int>(spool::category_kind::resource) << ")");
  CHECK(code != exit_success);
  CHECK(code != child_threw);
  CHECK(code == 10 + static_cast<int>(spool::category_kind::resource));
  CHECK_FALSE(fs::exists(out));
  CHECK(temp_leftovers(dir.path()).empty());
  // Nothing else appeared next to the input either.
  CHECK(list_dir(dir.path()) == std::vector<std::string>{"in.mp4"});
}
