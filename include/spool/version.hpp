#pragma once
// The single source of spool's version; CMake parses these three lines.
#define SPOOL_VERSION_MAJOR 0
#define SPOOL_VERSION_MINOR 2
#define SPOOL_VERSION_PATCH 0
#define SPOOL_VERSION (SPOOL_VERSION_MAJOR * 10000 + SPOOL_VERSION_MINOR * 100 + SPOOL_VERSION_PATCH)

namespace spool {
/// The version of the library actually linked, as major*10000 + minor*100 + patch.
int version() noexcept;
/// The same, as "major.minor.patch".
const char* version_string() noexcept;
}  // namespace spool
