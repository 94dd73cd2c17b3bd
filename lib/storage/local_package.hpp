#pragma once
// Internal: local storage's pieces. A package is written into a staging folder beside the output,
// synced, and published by one rename (or an atomic exchange when it replaces a package); status.json
// lives in the output folder, written through a locked temporary and a rename.
#include <spool/io.hpp>
#include <spool/storage/store.hpp>

#include <filesystem>
#include <memory>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE::storage::local {

/// The package sink for `output`: checks it (missing, empty, holding only a status, or `overwrite`)
/// and creates its staging folder `.<name>.spool-tmp-XXXXXX`, removing crashed runs' ones first.
result<std::unique_ptr<io::package_sink>> open_package(const std::filesystem::path& output, bool overwrite);

/// status.json in the folder `dir` (created when missing).
std::unique_ptr<io::status_sink> open_status(const std::filesystem::path& dir);

/// Removes the staging folders and status temporaries of `output` whose writers are gone.
void remove_leftovers(const std::filesystem::path& output) noexcept;

/// True when `p` is a folder holding nothing but status files (or nothing at all).
bool holds_no_package(const std::filesystem::path& p);

/// A regular file opened for reading, judged on the descriptor: a FIFO, device or folder is refused
/// without blocking, also when the path is swapped between a check and the open.
result<std::unique_ptr<io::byte_source>> open_source(const std::filesystem::path& path);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage::local
