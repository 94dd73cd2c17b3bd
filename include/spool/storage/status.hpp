#pragma once
// status.json: where a job stands, kept by the worker beside its package (in the output folder on
// local storage) through storage's status sink. Readers (a host, `spool status OUT`) always see a
// whole status: it is replaced at once, never rewritten in place.
#include <spool/io.hpp>
#include <spool/job.hpp>
#include <spool/version.hpp>

#include <memory>
#include <optional>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE {

/// The status kept for the package at `output` (a path or storage URI): write() replaces it,
/// create() writes it only when there is none (a submit never overwrites a worker's), read() reads it.
SPOOL_API result<std::unique_ptr<io::status_sink>> open_status(const std::string& output);

/// The status kept for the package at `output`; an empty optional when there is none, and
/// errc::invalid_spec when what is there is not a status.
SPOOL_API result<std::optional<job_status>> read_status(const std::string& output);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
