// Local storage: plain paths and file:// URIs.
#include <spool/package_layout.hpp>
#include <spool/storage/store.hpp>

#include <boost/url/parse.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/local_package.hpp"
#include "storage/registry_detail.hpp"

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {
namespace local {
namespace {

error open_error(int e, const std::string& path) {
  bool missing =
      e == ENOENT || e == ENOTDIR || e == ELOOP || e == EACCES || e == EPERM || e == ENXIO || e == ENAMETOOLONG;
  return error(missing ? errc::input_unreadable : errc::io_error,
               "cannot open " + path + ": " + std::generic_category().message(e));
}

// Reads with pread(2): no shared file position, so a read at any offset costs the same.
class file_source final : public io::byte_source {
 public:
  file_source(int fd, std::string path, std::int64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
  ~file_source() override { ::close(fd_); }
  file_source(const file_source&) = delete;
  file_source& operator=(const file_source&) = delete;

  result<std::size_t> read_at(std::int64_t offset, std::span<std::byte> buffer) override {
    for (;;) {
      ssize_t n = ::pread(fd_, buffer.data(), buffer.size(), offset);
      if (n >= 0) return static_cast<std::size_t>(n);
      if (errno == EINTR) continue;
      return error(errc::io_error, "cannot read " + path_ + ": " + std::generic_category().message(errno));
    }
  }
  std::int64_t size() const noexcept override { return size_; }
  std::string name() const override { return path_; }

 private:
  int fd_;
  std::string path_;
  std::int64_t size_;
};

}  // namespace

// Decided on the descriptor itself: a path swapped for a FIFO or a device between a check and an
// open can neither block nor be read. An O_PATH descriptor opens nothing (no FIFO wait, no device
// side effect); once it is known to be a regular file, /proc/self/fd reopens that very inode.
result<std::unique_ptr<io::byte_source>> open_source(const fs::path& path) {
  const std::string name = path.string();
  int pfd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (pfd < 0) return open_error(errno, name);
  struct stat st {};
  if (::fstat(pfd, &st) != 0) {
    int e = errno;
    ::close(pfd);
    return open_error(e, name);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(pfd);
    return error(errc::input_unreadable, name + " is not a regular file");
  }
  int fd = ::open(("/proc/self/fd/" + std::to_string(pfd)).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  // Without /proc (some sandboxes): a non-blocking open cannot hang on a FIFO, and fstat of what was
  // opened decides.
  if (fd < 0 && errno == ENOENT) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  int e = errno;
  ::close(pfd);
  if (fd < 0) return open_error(e, name);
  struct stat opened {};
  if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_ino != st.st_ino ||
      opened.st_dev != st.st_dev) {
    ::close(fd);
    return error(errc::input_unreadable, name + " is not a regular file");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return std::unique_ptr<io::byte_source>(std::make_unique<file_source>(fd, name, opened.st_size));
}

}  // namespace local

namespace {

std::string status_tmp_prefix() { return "." + std::string(package_layout::status) + ".tmp-"; }

class local_store final : public store {
 public:
  capabilities caps() const noexcept override {
    capabilities c;
    c.write = true;
    c.atomic_publish = true;
    return c;
  }
  result<std::unique_ptr<io::byte_source>> open_source(std::string_view path, const source_options&) override {
    return local::open_source(fs::path(path));
  }
  result<std::unique_ptr<io::package_sink>> open_package(std::string_view path, const package_options& o) override {
    return local::open_package(fs::path(path), o.overwrite);
  }
  result<std::unique_ptr<io::status_sink>> open_status(std::string_view path) override {
    return local::open_status(fs::path(path));
  }
  result<std::optional<std::string>> read_file(std::string_view path) override {
    auto src = local::open_source(fs::path(path));
    if (!src) {
      std::error_code ec;
      if (!fs::exists(fs::symlink_status(fs::path(path), ec))) return std::optional<std::string>{};
      return src.error();
    }
    std::string text;
    std::byte buf[8192];
    for (std::int64_t off = 0;;) {
      auto n = (*src)->read_at(off, buf);
      if (!n) return n.error();
      if (*n == 0) break;
      text.append(reinterpret_cast<const char*>(buf), *n);
      off += static_cast<std::int64_t>(*n);
      if (text.size() > (16u << 20))
        return error(errc::io_error, std::string(path) + " is too large to be a package's file");
    }
    return std::optional<std::string>(std::move(text));
  }
  result<std::optional<std::vector<std::string>>> list(std::string_view path) override {
    std::error_code ec;
    const fs::path dir(path);
    auto st = fs::symlink_status(dir, ec);
    if (ec || !fs::exists(st)) return std::optional<std::vector<std::string>>{};
    if (!fs::is_directory(st)) return error(errc::output_exists, dir.string() + " is not a folder");
    std::vector<std::string> names;
    // The store's own temporaries (a status being written) are not the folder's content.
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      auto name = it->path().filename().string();
      if (name.rfind(status_tmp_prefix(), 0) != 0) names.push_back(std::move(name));
    }
    if (ec) return error(errc::io_error, "cannot list " + dir.string() + ": " + ec.message());
    return std::optional<std::vector<std::string>>(std::move(names));
  }
  void remove_leftovers(std::string_view path) noexcept override { local::remove_leftovers(fs::path(path)); }
  error remove_all(std::string_view path) override {
    std::error_code ec;
    const fs::path dir(path);
    // A symlink is removed, never followed.
    fs::remove_all(dir, ec);
    if (ec) return error(errc::io_error, "cannot remove " + dir.string() + ": " + ec.message());
    return {};
  }
};

}  // namespace

namespace detail {

// file:///absolute/path, file://localhost/absolute/path, or a path without a scheme.
result<location> make_local(std::string_view uri) {
  static const auto backend = std::make_shared<local_store>();
  if (uri.find("://") == std::string_view::npos) return location{backend, std::string(uri)};
  auto url = boost::urls::parse_uri(uri);
  if (!url) return error(errc::protocol_not_allowed, "not a valid file:// URI: " + std::string(uri));
  auto host = url->encoded_host();
  if (!host.empty() && host != "localhost")
    return error(errc::protocol_not_allowed,
                 "file:// URIs name a local path, not a host ('" + std::string(host) + "')");
  if (url->path().empty()) return error(errc::invalid_argument, "the file:// URI names no path");
  return location{backend, std::string(url->path())};
}

}  // namespace detail
}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
