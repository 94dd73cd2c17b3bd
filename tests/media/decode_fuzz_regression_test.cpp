// Findings of fuzz_decode in the media engine, kept as regression tests (docs/fuzzing.md). Their
// reproducers are in tests/fuzz/regressions; under make asan, LeakSanitizer watches the process.
#include <spool/error.hpp>
#include <spool/media/transcode.hpp>
#include <spool/transcode.hpp>

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "decode_options.hpp"

namespace fs = std::filesystem;

TEST_CASE("Decode::Fuzz::TallGif: a 12x24932 GIF is refused before an encoder is opened, leaking nothing",
          "[media][decode][fuzz]") {
  // fuzz_decode: two GIF images back to back, the first 12x24932. The one rendition (12 pixels is under
  // the 16-pixel rung, so the source's own size) is a picture x264 refuses; x264_encoder_open fails and
  // leaks the parameter strings it copied (2 + 2 objects, 332 bytes, libx264.so.164), which LeakSanitizer
  // reports at exit. The error itself is typed (feature_unsupported). The engine should refuse such a
  // geometry itself, before it opens the encoder.
  const fs::path input = fs::path(SPOOL_FUZZ_REGRESSIONS_DIR) / "tall-gif-x264-open-leak.gif";
  const fs::path parent = fs::temp_directory_path() / ("spool-pending-" + std::to_string(::getpid()));
  fs::remove_all(parent);
  fs::create_directories(parent);
  spool::media::transcode_result result;
  auto ec = spool::transcode(input.string(), parent / "package", spool::fuzz::decode_options(), result);
  INFO(spool::code_name(ec) << ": " << result.error_detail);
  CHECK(ec);
  CHECK(spool::is_permanent(ec));
  CHECK(fs::is_empty(parent));
  CHECK(result.error_detail.find("cannot open encoder") == std::string::npos);
  fs::remove_all(parent);
}
