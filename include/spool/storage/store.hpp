#pragma once
// Where inputs come from and packages go: a small interface every storage backend implements, with
// optional extras that answer "not supported" by default, and backends chosen by URI scheme (like
// queues). resolve("file:///srv/out/lecture") gives the backend and the path inside it; a plain path
// is the local file system. Built in: local paths and file://, and https:// (read-only, under the
// input policy's access rules). A third party adds a scheme with register_scheme().
#include <spool/error.hpp>
#include <spool/input_policy.hpp>
#include <spool/io.hpp>
#include <spool/version.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {

/// What a backend can do; an operation it does not declare answers errc::feature_unsupported.
struct SPOOL_API capabilities {
  bool read = true;                  ///< open_source
  bool write = false;                ///< open_package, open_status, read_file, list
  bool atomic_publish = false;       ///< a package appears whole at commit, or not at all
  bool incremental_publish = false;  ///< a package can become visible file by file
  bool presign = false;              ///< presign() gives URLs a browser can use directly
};

struct SPOOL_API source_options {
  /// The access rules (https hosts, private addresses, certificates, redirects); the limits are the
  /// media engine's.
  input_policy policy;
  /// Asked while opening waits (connecting to a server); see io::interrupt_check.
  io::interrupt_check interrupt;
};

struct SPOOL_API package_options {
  /// Replace a package already there (atomically, at commit); otherwise a path holding anything but
  /// a status is errc::output_exists.
  bool overwrite = false;
};

class SPOOL_API store {
 public:
  virtual ~store() = default;

  virtual capabilities caps() const noexcept = 0;
  /// The input at `path`, opened for reading.
  virtual result<std::unique_ptr<io::byte_source>> open_source(std::string_view path,
                                                               const source_options& options) = 0;
  /// A new package to be published at `path`.
  virtual result<std::unique_ptr<io::package_sink>> open_package(std::string_view path, const package_options& options);
  /// The job status kept beside (or in) the package at `path`.
  virtual result<std::unique_ptr<io::status_sink>> open_status(std::string_view path);
  /// A small file's content (result.json); an empty optional when it does not exist.
  virtual result<std::optional<std::string>> read_file(std::string_view path);
  /// The names directly inside `path`; an empty optional when nothing is there. A path that is not a
  /// folder is errc::output_exists.
  virtual result<std::optional<std::vector<std::string>>> list(std::string_view path);
  /// Removes what crashed writers of the package at `path` left behind. Best effort; what a live
  /// writer is using is never touched.
  virtual void remove_leftovers(std::string_view path) noexcept { (void)path; }
  /// Removes the folder at `path` and everything in it (a chunked job's work area, once stitched).
  /// Nothing there is no error.
  virtual error remove_all(std::string_view path);
  /// A URL that lets its holder GET (or PUT) `path` until it expires, without credentials.
  virtual result<std::string> presign(std::string_view path, std::string_view method, std::chrono::seconds expires);
};

/// A backend and the path inside it.
struct SPOOL_API location {
  std::shared_ptr<store> backend;
  std::string path;
};

/// Makes a backend for one URI of its scheme and finds the path inside it.
using store_factory = std::function<result<location>(std::string_view uri)>;

/// Adds a scheme ("s3" for s3://...): errc::already_registered when it is taken, errc::invalid_argument
/// when it is malformed or the factory is empty. Case-insensitive, like URI schemes.
SPOOL_API error register_scheme(std::string_view scheme, store_factory factory);
/// The backend for `uri` and the path inside it. A path without a scheme is a local path.
/// An unknown scheme is errc::protocol_not_allowed.
SPOOL_API result<location> resolve(std::string_view uri);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
