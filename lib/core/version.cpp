#include <spool/version.hpp>

#define SPOOL_STR2(x) #x
#define SPOOL_STR(x) SPOOL_STR2(x)

namespace spool::inline SPOOL_ABI_NAMESPACE {
int version() noexcept { return SPOOL_VERSION; }
const char* version_string() noexcept {
  return SPOOL_STR(SPOOL_VERSION_MAJOR) "." SPOOL_STR(SPOOL_VERSION_MINOR) "." SPOOL_STR(SPOOL_VERSION_PATCH);
}
}  // namespace spool::inline SPOOL_ABI_NAMESPACE
