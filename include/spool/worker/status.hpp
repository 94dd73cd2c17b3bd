#pragma once
// status.json: where a job stands, kept by the worker in the job's output directory. Readers (a host,
// `spool status OUT`) always see a whole file: it is replaced by rename, never rewritten in place.
#include <spool/job.hpp>

#include <filesystem>
#include <string>

namespace spool {

/// Writes dir/status.json atomically and durably (temporary file, fsync, rename, directory fsync),
/// creating `dir` if needed. Leftovers of a writer that crashed mid-write are removed on the next write.
error_code write_status(const std::filesystem::path& dir, const job_status& status, std::string* detail = nullptr);

/// As write_status, but only when there is no dir/status.json yet: it never replaces one, however
/// close a writer of another status comes (the synced temporary is moved in with
/// renameat2(RENAME_NOREPLACE), or link(2) where the file system lacks it). errc::output_exists, and
/// nothing changed, when a status.json is there.
error_code create_status(const std::filesystem::path& dir, const job_status& status, std::string* detail = nullptr);

/// Reads dir/status.json. errc::input_unreadable when there is none, errc::invalid_spec when it is
/// not a status object.
error_code read_status(const std::filesystem::path& dir, job_status& out, std::string* detail = nullptr);

}  // namespace spool
