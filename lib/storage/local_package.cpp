#include "storage/local_package.hpp"

#include <spool/json_text.hpp>
#include <spool/package_layout.hpp>

#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "core/durable_file.hpp"
#include "core/faults.hpp"

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::storage::local {
namespace {

using detail::fail_errno;

const std::string status_tmp_prefix = "." + std::string(package_layout::status) + ".tmp-";
// Held (flock) in the output folder while a package is published into it progressively: one whose
// lock can be taken was left by a writer that died, and its half-grown package is removed.
const std::string growing_prefix = ".spool-growing-";

bool is_status_file(const std::string& name) {
  return name == package_layout::status || name.rfind(status_tmp_prefix, 0) == 0;
}

// Players fetch the manifests: each becomes visible after every file it names, the media
// playlists before the master and the MPD, result.json (the finished package's mark) last.
int manifest_rank(std::string_view name) {
  if (name == package_layout::result) return 3;
  if (name == package_layout::master_playlist || name == package_layout::mpd) return 2;
  return 1;
}

// Whether `dir` holds a growing package's lock: 0 none, 1 held by a live writer, 2 left by a dead one.
int growing_lock_state(const fs::path& dir) {
  int state = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().rfind(growing_prefix, 0) != 0) continue;
    int fd = ::open(it->path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
      state = std::max(state, 2);
    else
      return 1;
    ::close(fd);
  }
  return state;
}

// Removes everything in `dir` but the job's status files.
void remove_package_files(const fs::path& dir) {
  std::error_code ec;
  std::vector<fs::path> doomed;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!is_status_file(it->path().filename().string())) doomed.push_back(it->path());
  // Manifests first, so no player is left holding a playlist whose segments are going.
  std::sort(doomed.begin(), doomed.end(), [](const fs::path& a, const fs::path& b) {
    return manifest_rank(a.filename().string()) > manifest_rank(b.filename().string());
  });
  for (const auto& p : doomed) fs::remove_all(p, ec);
}

std::string staging_prefix(const fs::path& output) { return "." + output.filename().string() + ".spool-tmp-"; }
fs::path parent_of(const fs::path& p) { return p.has_parent_path() ? p.parent_path() : fs::path("."); }

bool empty_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::is_empty(p, ec);
}

void sync_tree(const fs::path& dir, const std::function<error()>& check) {
  if (check)
    if (auto e = check()) throw failure(e);
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory()) sync_tree(it->path(), check);
  if (ec) fail_errno(ec.value(), "cannot list " + dir.string());
  detail::sync_dir(dir);
}

// A name inside the package: relative, without "." or ".." parts (the engine makes them; a bug that
// made one otherwise must not write outside the staging folder).
fs::path inside(const fs::path& root, std::string_view name) {
  fs::path rel(name);
  bool ok = !name.empty() && rel.is_relative();
  for (const auto& part : rel) ok = ok && part != "." && part != "..";
  if (!ok)
    throw failure(error(errc::internal, "a package file name must be a relative path: '" + std::string(name) + "'"));
  return root / rel;
}

error as_error(const std::exception_ptr& ep) {
  try {
    std::rethrow_exception(ep);
  } catch (const failure& f) {
    return error(f.code(), f.message());
  } catch (const fs::filesystem_error& e) {
    int v = e.code().value();
    return error(v == ENOSPC || v == EDQUOT || v == EFBIG ? errc::no_space : errc::io_error, e.what());
  } catch (const std::bad_alloc&) {
    return error(errc::out_of_memory, "out of memory");
  } catch (const std::exception& e) {
    return error(errc::internal, e.what());
  }
}

template <class F>
error guarded(F&& f) noexcept {
  try {
    f();
    return {};
  } catch (...) {
    return as_error(std::current_exception());
  }
}

class staging_sink final : public io::package_sink {
 public:
  staging_sink(fs::path output, bool overwrite) : output_(std::move(output)), overwrite_(overwrite) {
    if (output_.empty()) throw failure(error(errc::invalid_argument, "no output folder given"));
    if (!output_.has_filename()) output_ = output_.parent_path();  // "out/" names "out"
    std::error_code ec;
    auto st = fs::symlink_status(output_, ec);
    if (!ec && fs::exists(st)) {
      if (!fs::is_directory(st))
        throw failure(error(errc::output_exists, output_.string() + " exists and is not a folder"));
      switch (growing_lock_state(output_)) {
        case 1:
          // Another delivery of this job, or another job, is growing a package here: transient.
          throw failure(error(errc::throttled, "another job is publishing into " + output_.string()));
        case 2:
          remove_package_files(output_);  // grown by a writer that died before finishing it
          break;
        default: break;
      }
      if (!holds_no_package(output_)) {
        if (!overwrite_) throw failure(error(errc::output_exists, output_.string() + " exists and is not empty"));
        replacing_ = true;
      }
    }
    const fs::path parent = parent_of(output_);
    fs::create_directories(parent, ec);
    if (ec) fail_errno(ec.value(), "cannot create " + parent.string());
    // A crashed run of the same output left its staging folder behind: nobody holds its lock.
    detail::remove_stale(parent, staging_prefix(output_));
    auto t = detail::make_locked_temp(parent, staging_prefix(output_), true);
    tmp_ = std::move(t.path);
    lock_fd_ = t.fd;
  }
  ~staging_sink() override {
    abort();
    if (lock_fd_ >= 0) ::close(lock_fd_);
    if (growing_fd_ >= 0) ::close(growing_fd_);
  }

  // Progressive publishing shows files one by one; a package being replaced stays whole instead.
  io::sink_capabilities caps() const noexcept override { return {.incremental = !replacing_}; }

  error put(std::string_view name, std::span<const std::byte> bytes) override {
    return guarded([&] {
      std::shared_lock lock(layout_);
      fs::path p = inside(root(), name);
      make_parent(p);
      if (growing_) {
        write_visible(p, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
        return;
      }
      detail::out_file f(p);
      f.write(bytes.data(), bytes.size());
      f.close();
    });
  }

  error put_file(std::string_view name, const fs::path& local_file) override {
    return guarded([&] {
      std::shared_lock lock(layout_);
      fs::path p = inside(root(), name);
      make_parent(p);
      // The workspace is usually on the same file system: a rename moves it without a copy.
      if (::rename(local_file.c_str(), p.c_str()) == 0) return;
      if (errno != EXDEV) fail_errno(errno, "cannot move " + local_file.string() + " into the package");
      // Another file system: copied, under a hidden name while the package is visible.
      const fs::path copy = growing_ ? p.parent_path() / ("." + p.filename().string() + ".part-copy") : p;
      std::error_code ec;
      fs::copy_file(local_file, copy, fs::copy_options::overwrite_existing, ec);
      if (ec) fail_errno(ec.value(), "cannot copy " + local_file.string() + " into the package");
      int fd = ::open(copy.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0 || ::fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) ::close(fd);
        fail_errno(e, "cannot sync " + copy.string());
      }
      ::close(fd);
      if (copy != p && ::rename(copy.c_str(), p.c_str()) != 0) fail_errno(errno, "cannot publish " + p.string());
      fs::remove(local_file, ec);
    });
  }

  error put_manifest(std::string_view name, std::string_view text) override {
    {
      std::shared_lock lock(layout_);
      if (growing_) {
        // Shown by the next publish_now() or commit(), in manifest order.
        std::lock_guard g(manifests_mutex_);
        pending_[std::string(name)] = std::string(text);
        return {};
      }
    }
    // In a staging folder every file appears at once with the rest: a manifest is a file like any.
    return put(name, std::as_bytes(std::span(text.data(), text.size())));
  }

  error publish_now() override {
    if (replacing_) return io::package_sink::publish_now();
    return guarded([&] {
      std::unique_lock lock(layout_);
      if (!growing_) go_growing();
      show_manifests(false);
    });
  }

  error commit(const std::function<error()>& check) override {
    if (growing_)
      return guarded([&] {
        std::unique_lock lock(layout_);
        show_manifests(false);
        sync_tree(output_, check);
        if (check)
          if (auto e = check()) throw failure(e);
        show_manifests(true);
        detail::sync_dir(output_);
        published_ = true;
        ::unlink(growing_lock_.c_str());
        detail::sync_dir(output_);
      });
    return guarded([&] {
      sync_tree(tmp_, check);
      if (check)
        if (auto e = check()) throw failure(e);
      publish();
      published_ = true;
      detail::sync_dir(parent_of(output_));
    });
  }

  void abort() noexcept override {
    if (published_) return;
    std::error_code ec;
    if (growing_) {
      // What was shown goes, manifests first; the job's status stays.
      try {
        std::unique_lock lock(layout_);
        remove_package_files(output_);
        if (created_output_) fs::remove(output_, ec);  // only if nothing else is there
        published_ = true;                             // nothing more to undo
      } catch (...) {
      }
      return;
    }
    if (tmp_.empty()) return;
    fs::remove_all(tmp_, ec);
    tmp_.clear();
  }

 private:
  const fs::path& root() const { return growing_ ? output_ : tmp_; }

  // A file shown in a growing package: written under a hidden name, then renamed, so a reader sees
  // all of it or nothing.
  void write_visible(const fs::path& p, std::string_view bytes) {
    static std::atomic<unsigned> counter{0};
    fs::path tmp = p.parent_path() / fmt::format(".{}.part-{}-{}", p.filename().string(), ::getpid(), counter++);
    try {
      detail::out_file f(tmp);
      f.write(bytes.data(), bytes.size());
      f.close();
      if (::rename(tmp.c_str(), p.c_str()) != 0) fail_errno(errno, "cannot publish " + p.string());
    } catch (...) {
      ::unlink(tmp.c_str());
      throw;
    }
  }

  // The first publish_now(): the staging folder's files move into the output folder, every
  // rendition's folder before the manifests at the top, and from now on files go straight there.
  void go_growing() {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(output_, ec))) {
      if (!holds_no_package(output_))
        throw failure(error(errc::output_exists, output_.string() + " received a package meanwhile"));
    } else {
      fs::create_directory(output_, ec);
      if (ec) fail_errno(ec.value(), "cannot create " + output_.string());
      created_output_ = true;
      detail::sync_dir(parent_of(output_));
    }
    auto lock = detail::make_locked_temp(output_, growing_prefix, false);
    growing_lock_ = std::move(lock.path);
    growing_fd_ = lock.fd;
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(tmp_, ec), end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
    if (ec) fail_errno(ec.value(), "cannot list " + tmp_.string());
    std::sort(entries.begin(), entries.end(), [](const fs::path& a, const fs::path& b) {
      return manifest_rank(a.filename().string()) < manifest_rank(b.filename().string());
    });
    sync_tree(tmp_, {});
    for (const auto& e : entries)
      if (::rename(e.c_str(), (output_ / e.filename()).c_str()) != 0)
        fail_errno(errno, "cannot publish " + (output_ / e.filename()).string());
    growing_ = true;
    fs::remove_all(tmp_, ec);
    tmp_.clear();
  }

  // Shows the manifests given since the last time, in manifest order; result.json only with `all`.
  void show_manifests(bool all) {
    std::vector<std::pair<std::string, std::string>> ready;
    {
      std::lock_guard g(manifests_mutex_);
      for (auto it = pending_.begin(); it != pending_.end();) {
        if (!all && it->first == package_layout::result) {
          ++it;
          continue;
        }
        ready.emplace_back(it->first, std::move(it->second));
        it = pending_.erase(it);
      }
    }
    std::stable_sort(ready.begin(), ready.end(),
                     [](const auto& a, const auto& b) { return manifest_rank(a.first) < manifest_rank(b.first); });
    for (const auto& [name, text] : ready) {
      fs::path p = inside(output_, name);
      make_parent(p);
      write_visible(p, text);
    }
  }

  void make_parent(const fs::path& p) {
    std::error_code ec;
    fs::create_directories(p.parent_path(), ec);
    if (ec) fail_errno(ec.value(), "cannot create " + p.parent_path().string());
  }

  void publish() {
    std::error_code ec;
    bool exists = fs::exists(fs::symlink_status(output_, ec));
    if (!exists || empty_dir(output_)) {
      if (::rename(tmp_.c_str(), output_.c_str()) == 0) return;
      fail_errno(errno, "cannot publish " + output_.string());
    }
    // Only a status file may stand in the way, unless replacing a package was asked for.
    if (!overwrite_ && !holds_no_package(output_))
      throw failure(error(errc::output_exists, output_.string() + " appeared while transcoding"));
    // Swap old and new in one step so readers see one complete folder or the other.
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, output_.c_str(), RENAME_EXCHANGE) == 0) {
      published_ = true;
      fs::remove_all(tmp_, ec);  // now the old folder
      return;
    }
    if (errno != EINVAL && errno != ENOSYS) fail_errno(errno, "cannot replace " + output_.string());
    // A file system without an atomic exchange (NFS, many FUSE ones): the old folder is moved aside
    // and the new one renamed in. Readers may see no folder for that instant, never a mixed one.
    const fs::path aside = tmp_.string() + "-old";  // beside the staging folder, named like it: cleaned alike
    if (::rename(output_.c_str(), aside.c_str()) != 0) fail_errno(errno, "cannot move " + output_.string() + " aside");
    if (::rename(tmp_.c_str(), output_.c_str()) != 0) {
      int e = errno;
      ::rename(aside.c_str(), output_.c_str());  // the old package back in its place
      fail_errno(e, "cannot publish " + output_.string());
    }
    published_ = true;
    fs::remove_all(aside, ec);
  }

  fs::path output_;
  fs::path tmp_;
  bool overwrite_ = false;
  bool published_ = false;
  bool replacing_ = false;  ///< the output held a package at open (and overwrite was asked)
  int lock_fd_ = -1;        ///< holds a flock on tmp_ while this process owns it
  // Published progressively (after the first publish_now()): files go straight into output_.
  std::shared_mutex layout_;  ///< put() shares it; moving into the output folder takes it alone
  bool growing_ = false;
  bool created_output_ = false;
  fs::path growing_lock_;
  int growing_fd_ = -1;
  std::mutex manifests_mutex_;
  std::map<std::string, std::string> pending_;  ///< manifests given since the last show
};

// status.json: a locked temporary, synced, moved in while still locked.
class status_file final : public io::status_sink {
 public:
  explicit status_file(fs::path dir) : dir_(std::move(dir)) {}

  error write(const job_status& s) override {
    return guarded([&] { store(s, true); });
  }
  error create(const job_status& s) override {
    return guarded([&] { store(s, false); });
  }

  result<std::optional<job_status>> read() override {
    const fs::path p = dir_ / package_layout::status;
    std::FILE* f = std::fopen(p.c_str(), "rb");
    if (!f) {
      if (errno == ENOENT || errno == ENOTDIR) return std::optional<job_status>{};
      return error(errc::io_error, "cannot read " + p.string());
    }
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    bool bad = std::ferror(f) != 0;
    std::fclose(f);
    if (bad) return error(errc::io_error, "cannot read " + p.string());
    auto s = parse_job_status(text);
    if (!s) return s.error();
    return std::optional<job_status>(*std::move(s));
  }

 private:
  void store(const job_status& s, bool replace) {
    std::error_code fec;
    fs::create_directories(dir_, fec);
    if (fec) fail_errno(fec.value(), "cannot create " + dir_.string());
    detail::remove_stale(dir_, status_tmp_prefix);
    auto t = detail::make_locked_temp(dir_, status_tmp_prefix, false);
    struct cleanup {
      detail::locked_temp& t;
      ~cleanup() {
        if (t.fd >= 0) ::close(t.fd);
        if (!t.path.empty()) ::unlink(t.path.c_str());
      }
    } guard{t};
    detail::write_all(t.fd, to_json_text(to_json(s)) + "\n", t.path);
    if (::fsync(t.fd) != 0) fail_errno(errno, "cannot sync " + t.path.string());
    const fs::path target = dir_ / package_layout::status;
    if (replace) {
      if (::rename(t.path.c_str(), target.c_str()) != 0) fail_errno(errno, "cannot replace " + target.string());
    } else {
      if (auto& hook = spool::detail::faults().before_status_create) hook();
      if (!move_in_unless_there(t.path, target))
        throw failure(error(errc::output_exists, target.string() + " exists already"));
    }
    t.path.clear();
    // The fd is gone whatever close() says (retrying could close someone else's); an error is still
    // an error: the data may not be where fsync said it was.
    int closed = ::close(t.fd);
    t.fd = -1;
    if (closed != 0 && errno != EINTR) fail_errno(errno, "cannot close " + target.string());
    detail::sync_dir(dir_);
  }

  // Moves the synced temporary to `target` unless `target` exists; false if it does.
  static bool move_in_unless_there(const fs::path& tmp, const fs::path& target) {
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) return true;
    if (errno == EEXIST) return false;
    if (errno != EINVAL && errno != ENOSYS) fail_errno(errno, "cannot create " + target.string());
    // No RENAME_NOREPLACE here: a hard link is created only where no name is.
    if (::link(tmp.c_str(), target.c_str()) != 0) {
      if (errno == EEXIST) return false;
      fail_errno(errno, "cannot create " + target.string());
    }
    ::unlink(tmp.c_str());
    return true;
  }

  fs::path dir_;
};

}  // namespace

result<std::unique_ptr<io::package_sink>> open_package(const fs::path& output, bool overwrite) {
  try {
    return std::unique_ptr<io::package_sink>(std::make_unique<staging_sink>(output, overwrite));
  } catch (...) {
    return as_error(std::current_exception());
  }
}

std::unique_ptr<io::status_sink> open_status(const fs::path& dir) { return std::make_unique<status_file>(dir); }

void remove_leftovers(const fs::path& output) noexcept {
  try {
    fs::path o = output.has_filename() ? output : output.parent_path();
    detail::remove_stale(parent_of(o), staging_prefix(o));
    detail::remove_stale(o, status_tmp_prefix);
  } catch (...) {
  }
}

bool holds_no_package(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(p, ec))) return false;
  for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
    auto name = it->path().filename().string();
    if (name != package_layout::status && name.rfind(status_tmp_prefix, 0) != 0) return false;
  }
  return !ec;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage::local
