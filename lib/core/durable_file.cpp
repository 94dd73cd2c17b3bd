#include "core/durable_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::detail {
namespace {

// A temporary becomes group/other-readable only once its creator holds the lock on it.
constexpr mode_t ready_bits = S_IRGRP | S_IROTH;
// Older than this, an entry with no lock and no ready bits was abandoned mid-creation.
constexpr std::time_t abandoned_after_s = 60;

}  // namespace

void fail_errno(int e, const std::string& what) {
  errc code = errc::io_error;
  if (e == ENOSPC || e == EDQUOT || e == EFBIG)
    code = errc::no_space;
  else if (e == ENOMEM)
    code = errc::out_of_memory;
  throw failure(error(code, what + ": " + std::generic_category().message(e)));
}

void sync_dir(const fs::path& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail_errno(errno, "cannot open " + dir.string());
  int r = ::fsync(fd);
  int e = errno;
  ::close(fd);
  if (r != 0 && e != EINVAL) fail_errno(e, "cannot sync " + dir.string());
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

void remove_stale(const fs::path& dir, const std::string& prefix) noexcept {
  try {
    std::error_code ec;
    // Incremented with an error_code: a directory that changes or vanishes meanwhile ends the walk,
    // it does not throw.
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().filename().string().rfind(prefix, 0) != 0) continue;
      int fd = ::open(it->path().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) continue;
      struct stat st {};
      bool stale = ::flock(fd, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd, &st) == 0 &&
                   ((st.st_mode & ready_bits) != 0 || std::time(nullptr) - st.st_ctime > abandoned_after_s);
      std::error_code rec;
      if (stale) fs::remove_all(it->path(), rec);
      ::close(fd);
    }
  } catch (...) {
    // Best effort: an allocation failing here leaves the leftovers for the next run.
  }
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

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::detail
