// Links against spool built as part of this project. Exits non-zero on any mismatch.
#include <spool/spool.hpp>

#include <cstdio>

int main() {
  auto p = spool::make_preset("hls-ladder");
  if (!p.has_value() || p->video.rungs.size() != 4) {
    std::fprintf(stderr, "consumer check failed: hls-ladder should give 4 rungs\n");
    return 1;
  }
  if (spool::version() != SPOOL_VERSION) {
    std::fprintf(stderr, "consumer check failed: library and header versions differ\n");
    return 1;
  }
  std::printf("spool %s, %zu rungs\n", spool::version_string(), p->video.rungs.size());
  return 0;
}
