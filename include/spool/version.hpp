#pragma once
// The single source of spool's version; CMake parses these three lines.
#define SPOOL_VERSION_MAJOR 0
#define SPOOL_VERSION_MINOR 2
#define SPOOL_VERSION_PATCH 0
#define SPOOL_VERSION (SPOOL_VERSION_MAJOR * 10000 + SPOOL_VERSION_MINOR * 100 + SPOOL_VERSION_PATCH)

// The ABI namespace. Everything spool declares lives in the inline namespace
// spool::SPOOL_ABI_NAMESPACE: code names spool::plan, the linker sees spool::v0_2::plan. A 0.x minor
// version may change the ABI, so the name carries major and minor: a program compiled against other
// headers than the library it links fails to link instead of misbehaving. It changes with the minor
// version (a unit test checks that the two agree), never with the patch version.
#define SPOOL_ABI_NAMESPACE v0_2

// What spool's shared libraries export: the public API, and the few internal functions one of its
// libraries calls in another. The libraries are compiled with hidden visibility, so everything not
// marked stays inside them (fmt, SQLite and Boost.URL among it).
#if defined(__GNUC__) || defined(__clang__)
#define SPOOL_API __attribute__((visibility("default")))
#else
#define SPOOL_API
#endif

namespace spool::inline SPOOL_ABI_NAMESPACE {
/// The version of the library actually linked, as major*10000 + minor*100 + patch.
SPOOL_API int version() noexcept;
/// The same, as "major.minor.patch".
SPOOL_API const char* version_string() noexcept;
}  // namespace spool::inline SPOOL_ABI_NAMESPACE
