#include <spool/worker/status.hpp>

#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "media/output_dir.hpp"
#include "worker/faults.hpp"

namespace fs = std::filesystem;

namespace spool {
namespace {

// Moves the synced temporary `tmp` to `target` unless `target` exists; false if it does.
bool move_in_unless_there(const fs::path& tmp, const fs::path& target) {
  if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, target.c_str(), RENAME_NOREPLACE) == 0) return true;
  if (errno == EEXIST) return false;
  if (errno != EINVAL && errno != ENOSYS) media::fail_errno(errno, "cannot create " + target.string());
  // No RENAME_NOREPLACE here: a hard link is created only where no name is.
  if (::link(tmp.c_str(), target.c_str()) != 0) {
    if (errno == EEXIST) return false;
    media::fail_errno(errno, "cannot create " + target.string());
  }
  ::unlink(tmp.c_str());
  return true;
}

error_code write(const fs::path& dir, const job_status& status, bool replace, std::string* detail) {
  int fd = -1;
  fs::path tmp;
  try {
    std::error_code fec;
    fs::create_directories(dir, fec);
    if (fec) media::fail_errno(fec.value(), "cannot create " + dir.string());
    media::remove_stale(dir, media::status_tmp_prefix);
    auto t = media::make_locked_temp(dir, media::status_tmp_prefix, false);
    fd = t.fd;
    tmp = std::move(t.path);
    media::write_all(fd, boost::json::serialize(to_json(status)) + "\n", tmp);
    // Synced and moved in while still locked, so no cleanup can take it for a crashed writer's.
    if (::fsync(fd) != 0) media::fail_errno(errno, "cannot sync " + tmp.string());
    const fs::path target = dir / media::status_file_name;
    if (replace) {
      if (::rename(tmp.c_str(), target.c_str()) != 0) media::fail_errno(errno, "cannot replace " + target.string());
    } else {
      if (auto& hook = spool::detail::faults().before_status_create) hook();
      if (!move_in_unless_there(tmp, target)) media::av::fail(errc::output_exists, target.string() + " exists already");
    }
    tmp.clear();
    // The fd is gone whatever close() says (retrying it could close someone else's); an error is
    // still an error: the data may not be where fsync said it was.
    int closed = ::close(fd);
    fd = -1;
    if (closed != 0 && errno != EINTR) media::fail_errno(errno, "cannot close " + target.string());
    media::sync_dir(dir);
    return {};
  } catch (const media::av::failure& f) {
    if (fd >= 0) ::close(fd);
    if (!tmp.empty()) ::unlink(tmp.c_str());
    if (detail) *detail = f.detail;
    return f.ec;
  }
}

}  // namespace

error_code write_status(const fs::path& dir, const job_status& status, std::string* detail) {
  return write(dir, status, true, detail);
}

error_code create_status(const fs::path& dir, const job_status& status, std::string* detail) {
  return write(dir, status, false, detail);
}

error_code read_status(const fs::path& dir, job_status& out, std::string* detail) {
  std::ifstream in(dir / media::status_file_name, std::ios::binary);
  if (!in) {
    if (detail) *detail = "no readable " + (dir / media::status_file_name).string();
    return errc::input_unreadable;
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto s = parse_job_status(text.str());
  if (!s) {
    if (detail) *detail = s.error().what();
    return s.error().code;
  }
  out = *std::move(s);
  return {};
}

}  // namespace spool
