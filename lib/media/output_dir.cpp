#include "media/output_dir.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fs = std::filesystem;

namespace spool::media {

void fail_errno(int e, const std::string& what) {
  errc code = errc::io_error;
  if (e == ENOSPC || e == EDQUOT || e == EFBIG) code = errc::no_space;
  else if (e == ENOMEM) code = errc::out_of_memory;
  av::fail(code, what + ": " + std::strerror(e));
}

void sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno(errno, "cannot open " + dir.string());
  int r = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (r != 0 && e != EINVAL) fail_errno(e, "cannot sync " + dir.string());
}

namespace {

void sync_tree(const fs::path& dir, const std::function<void()>& check) {
  if (check) check();
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory()) sync_tree(entry.path(), check);
  sync_dir(dir);
}

bool empty_dir(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec) && fs::is_empty(p, ec);
}

// A temporary becomes group/other-readable only once its creator holds the lock on it.
constexpr mode_t ready_bits = S_IRGRP | S_IROTH;
// Older than this, an entry with no lock and no ready bits was abandoned mid-creation.
constexpr std::time_t abandoned_after_s = 60;

}  // namespace

bool holds_no_package(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(p, ec))) return false;
  for (const auto& entry : fs::directory_iterator(p, ec)) {
    auto name = entry.path().filename().string();
    if (name != status_file_name && name.rfind(status_tmp_prefix, 0) != 0) return false;
  }
  return !ec;
}

locked_temp make_locked_temp(const fs::path& dir, const std::string& prefix, bool directory) {
  std::string tmpl = (dir / (prefix + "XXXXXX")).string();
  locked_temp t;
  if (directory) {
    if (!::mkdtemp(tmpl.data())) fail_errno(errno, "cannot create a temporary directory in " + dir.string());
    t.fd = ::open(tmpl.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    t.fd = ::mkostemp(tmpl.data(), O_CLOEXEC);
  }
  int e = errno;
  t.path = tmpl;
  if (t.fd < 0) {
    if (directory) ::rmdir(tmpl.c_str());
    fail_errno(e, "cannot create a temporary in " + dir.string());
  }
  // Lock, then mark ready: remove_stale() never takes a live, ready entry.
  if (::flock(t.fd, LOCK_EX) != 0 || ::fchmod(t.fd, directory ? 0755 : 0644) != 0) {
    e = errno;
    ::close(t.fd);
    std::error_code ignored;
    fs::remove_all(t.path, ignored);
    fail_errno(e, "cannot prepare " + t.path.string());
  }
  return t;
}

void remove_stale(const fs::path& dir, const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind(prefix, 0) != 0) continue;
    int fd = ::open(entry.path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st {};
    bool stale = ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &st) == 0 &&
                 ((st.st_mode & ready_bits) != 0 || std::time(nullptr) - st.st_ctime > abandoned_after_s);
    if (stale) fs::remove_all(entry.path(), ec);
    ::close(fd);
  }
}

namespace {

std::string staging_prefix(const fs::path& output) { return "." + output.filename().string() + ".spool-tmp-"; }

}  // namespace

void remove_stale_staging(const fs::path& output) {
  fs::path o = output.has_filename() ? output : output.parent_path();
  remove_stale(o.has_parent_path() ? o.parent_path() : fs::path("."), staging_prefix(o));
}

staging_dir::staging_dir(fs::path output, bool overwrite) : output_(std::move(output)), overwrite_(overwrite) {
  if (output_.empty()) av::fail(errc::invalid_spec, "no output directory given");
  if (!output_.has_filename()) output_ = output_.parent_path();  // "out/" names "out"
  std::error_code ec;
  auto st = fs::symlink_status(output_, ec);
  if (!ec && fs::exists(st)) {
    if (!fs::is_directory(st)) av::fail(errc::output_exists, output_.string() + " exists and is not a directory");
    if (!overwrite_ && !holds_no_package(output_))
      av::fail(errc::output_exists, output_.string() + " exists and is not empty");
  }
  fs::path parent = output_.has_parent_path() ? output_.parent_path() : fs::path(".");
  fs::create_directories(parent, ec);
  if (ec) fail_errno(ec.value(), "cannot create " + parent.string());
  // A crashed run of the same output left its staging directory behind: nobody holds its lock.
  remove_stale_staging(output_);
  auto t = make_locked_temp(parent, staging_prefix(output_), true);
  tmp_ = std::move(t.path);
  lock_fd_ = t.fd;
}

staging_dir::~staging_dir() {
  if (!published_ && !tmp_.empty()) {
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void staging_dir::publish(const std::function<void()>& check) {
  sync_tree(tmp_, check);
  if (check) check();
  std::error_code ec;
  bool exists = fs::exists(fs::symlink_status(output_, ec));
  if (!exists || empty_dir(output_)) {
    if (::rename(tmp_.c_str(), output_.c_str()) != 0) fail_errno(errno, "cannot publish " + output_.string());
  } else {
    // Only a status file may stand in the way, unless replacing a package was asked for.
    if (!overwrite_ && !holds_no_package(output_))
      av::fail(errc::output_exists, output_.string() + " appeared while transcoding");
    // Swap old and new in one step so readers see one complete directory or the other.
    if (::renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, output_.c_str(), RENAME_EXCHANGE) != 0)
      fail_errno(errno, "cannot replace " + output_.string());
    published_ = true;
    fs::remove_all(tmp_, ec);  // now the old directory
  }
  published_ = true;
  sync_dir(output_.has_parent_path() ? output_.parent_path() : fs::path("."));
}

out_file::~out_file() {
  if (fd_ >= 0) ::close(fd_);
}

void out_file::open(const fs::path& p) {
  path_ = p;
  pos_ = size_ = 0;
  fd_ = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) fail_errno(errno, "cannot create " + p.string());
}

void write_all(int fd, std::string_view data, const fs::path& what) {
  const char* p = data.data();
  std::size_t n = data.size();
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      fail_errno(errno, "cannot write " + what.string());
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void out_file::write(const void* data, std::size_t n) {
  write_all(fd_, std::string_view(static_cast<const char*>(data), n), path_);
  pos_ += static_cast<std::int64_t>(n);
  size_ = std::max(size_, pos_);
}

void out_file::seek(std::int64_t offset) {
  if (::lseek(fd_, offset, SEEK_SET) < 0) fail_errno(errno, "cannot seek in " + path_.string());
  pos_ = offset;
}

std::int64_t out_file::close() {
  if (fd_ < 0) return size_;
  int fd = fd_;
  fd_ = -1;
  if (::fsync(fd) != 0) {
    int e = errno;
    ::close(fd);
    fail_errno(e, "cannot sync " + path_.string());
  }
  if (::close(fd) != 0) fail_errno(errno, "cannot close " + path_.string());
  return size_;
}

void write_file(const fs::path& p, std::string_view content) {
  out_file f(p);
  f.write(content);
  f.close();
}

}  // namespace spool::media
