#pragma once
// The ports the media engine reads and writes through, in the vocabulary every layer shares: the
// engine depends on these and nothing else of storage, and storage implements them (a local file or
// folder, an https URL, later an object store). All calls are blocking and come from the engine's
// own threads; failures are typed and carry their reason in words.
#include <spool/error.hpp>
#include <spool/job.hpp>
#include <spool/version.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::io {

/// Asked by a blocking call between short waits; a non-empty code (cancelled, deadline_exceeded)
/// ends the call with that code.
using interrupt_check = std::function<error_code()>;

/// The bytes of one input. Used from one thread at a time.
class SPOOL_API byte_source {
 public:
  virtual ~byte_source() = default;

  /// Reads up to `buffer.size()` bytes at `offset`: the count, 0 only at the end of the input.
  virtual result<std::size_t> read_at(std::int64_t offset, std::span<std::byte> buffer) = 0;
  /// Total size in bytes, -1 when unknown.
  virtual std::int64_t size() const noexcept = 0;
  /// False when reading backwards may be refused (an https server that ignores Range requests):
  /// the engine then only reads forward.
  virtual bool seekable() const noexcept { return true; }
  /// How messages and logs name the input: a path, or a URL without its query string.
  virtual std::string name() const = 0;
  /// What blocking reads ask while they wait (the engine installs its cancellation and deadline).
  /// Sources that never wait long may ignore it.
  virtual void set_interrupt(interrupt_check /*check*/) {}
};

/// What a package sink can do beyond the required.
struct SPOOL_API sink_capabilities {
  /// Files become visible one by one as they are published (publish_now), not all at once at commit.
  bool incremental = false;
};

/// One package being written. Nothing is visible before commit(), and abort() (or destroying the sink
/// without committing) leaves the output as it was.
class SPOOL_API package_sink {
 public:
  virtual ~package_sink() = default;

  virtual sink_capabilities caps() const noexcept { return {}; }
  /// Stores a file of the package under `name` ("720p/seg_00001.m4s", "poster.jpg"), durably by the
  /// time commit() returns.
  virtual error put(std::string_view name, std::span<const std::byte> bytes) = 0;
  /// Stores a large file the engine made in its local workspace (the progressive MP4); the sink may
  /// move it rather than copy it.
  virtual error put_file(std::string_view name, const std::filesystem::path& local_file) = 0;
  /// Stores a manifest (a playlist, the MPD, result.json): it becomes visible only with or after every
  /// file it names, result.json last of all.
  virtual error put_manifest(std::string_view name, std::string_view text) = 0;
  /// Makes the package visible, whole. `check` runs between steps (a deadline, a lease still held);
  /// a failure it returns stops the commit with nothing visible.
  virtual error commit(const std::function<error()>& check = {}) = 0;
  /// Removes everything written; the output is as it was. Never throws.
  virtual void abort() noexcept = 0;
  /// With caps().incremental: makes what was put so far visible now.
  virtual error publish_now() { return error(errc::feature_unsupported, "this package sink publishes all at once"); }
};

/// Where a job's status lives while it runs: the worker's, never the engine's.
class SPOOL_API status_sink {
 public:
  virtual ~status_sink() = default;

  /// Replaces the status, atomically.
  virtual error write(const job_status& status) = 0;
  /// Writes the status only if there is none yet (a submit never overwrites a worker's);
  /// errc::output_exists when there is one.
  virtual error create(const job_status& status) = 0;
  /// The status there now; an empty optional when there is none.
  virtual result<std::optional<job_status>> read() = 0;
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::io
