#include "media/output_dir.hpp"

#include <spool/worker/status.hpp>

#include <boost/json/serialize.hpp>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace spool {

error_code write_status(const fs::path& dir, const job_status& status, std::string* detail) {
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
    // Synced and renamed while still locked, so no cleanup can take it for a crashed writer's.
    if (::fsync(fd) != 0) media::fail_errno(errno, "cannot sync " + tmp.string());
    if (::rename(tmp.c_str(), (dir / media::status_file_name).c_str()) != 0)
      media::fail_errno(errno, "cannot replace " + (dir / media::status_file_name).string());
    tmp.clear();
    ::close(fd);
    fd = -1;
    media::sync_dir(dir);
    return {};
  } catch (const media::av::failure& f) {
    if (fd >= 0) ::close(fd);
    if (!tmp.empty()) ::unlink(tmp.c_str());
    if (detail) *detail = f.detail;
    return f.ec;
  }
}

error_code read_status(const fs::path& dir, job_status& out, std::string* detail) {
  std::ifstream in(dir / media::status_file_name, std::ios::binary);
  if (!in) {
    if (detail) *detail = "no readable " + (dir / media::status_file_name).string();
    return errc::input_unreadable;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_job_status(text.str(), out, detail);
}

}  // namespace spool
