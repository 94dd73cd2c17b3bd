// Files: the page and the players' scripts, and the packages, with byte ranges, validators and
// caching headers. Only names made of [A-Za-z0-9._-] segments are looked up, so no request reaches
// outside the folders it is meant for.
#include <spool/aws/presign.hpp>
#include <spool/aws/s3.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>

#include "http.hpp"
#include "service.hpp"

namespace asio = boost::asio;

namespace portal {

namespace {

// A relative path of at most `depth` segments of [A-Za-z0-9._-], none starting with a dot.
bool safe_relative(std::string_view p, int depth) {
  if (p.empty() || p.size() > 200) return false;
  int segments = 0;
  while (!p.empty()) {
    const auto slash = p.find('/');
    const std::string_view seg = p.substr(0, slash);
    if (seg.empty() || seg.front() == '.' || ++segments > depth) return false;
    for (char c : seg)
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return true;
}

std::string_view web_type(std::string_view name) {
  const auto dot = name.rfind('.');
  const std::string_view ext = dot == std::string_view::npos ? std::string_view{} : name.substr(dot + 1);
  if (ext == "html") return "text/html; charset=utf-8";
  if (ext == "js" || ext == "mjs") return "text/javascript; charset=utf-8";
  if (ext == "css") return "text/css; charset=utf-8";
  if (ext == "svg") return "image/svg+xml";
  if (ext == "png") return "image/png";
  if (ext == "json" || ext == "map") return "application/json";
  return "application/octet-stream";
}

class fd_guard {
 public:
  explicit fd_guard(int fd) : fd_(fd) {}
  ~fd_guard() {
    if (fd_ >= 0) ::close(fd_);
  }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

struct byte_range {
  std::uint64_t first = 0, last = 0;  // inclusive
};

// One range of "bytes=a-b", "bytes=a-" or "bytes=-n". nullopt: not one satisfiable range
// (`unsatisfiable` tells a range past the end from a header to ignore).
std::optional<byte_range> parse_range(std::string_view h, std::uint64_t size, bool& unsatisfiable) {
  unsatisfiable = false;
  if (!h.starts_with("bytes=") || h.find(',') != std::string_view::npos) return std::nullopt;
  h.remove_prefix(6);
  const auto dash = h.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto number = [](std::string_view s, std::uint64_t& out) {
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return !s.empty() && ec == std::errc() && end == s.data() + s.size();
  };
  std::uint64_t a = 0, b = 0;
  const std::string_view left = h.substr(0, dash), right = h.substr(dash + 1);
  if (left.empty()) {  // the last n bytes
    if (!number(right, b) || b == 0) return std::nullopt;
    if (size == 0) {
      unsatisfiable = true;
      return std::nullopt;
    }
    return byte_range{b >= size ? 0 : size - b, size - 1};
  }
  if (!number(left, a)) return std::nullopt;
  if (right.empty())
    b = size == 0 ? 0 : size - 1;
  else if (!number(right, b) || b < a)
    return std::nullopt;
  if (a >= size) {
    unsatisfiable = true;
    return std::nullopt;
  }
  return byte_range{a, std::min(b, size - 1)};
}

// S3: the playlists rewritten with presigned segment URLs, kept for half their life.
struct playback_entry {
  spool::aws::private_playback texts;
  std::chrono::steady_clock::time_point fresh_until;
};
std::mutex playback_mutex;
std::map<std::string, playback_entry, std::less<>> playback_cache;

std::optional<spool::aws::private_playback> playback_for(service& app, std::string_view id, bool finished,
                                                         std::string& why) {
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(playback_mutex);
    auto it = playback_cache.find(id);
    if (it != playback_cache.end() && it->second.fresh_until > now) return it->second.texts;
  }
  auto made = spool::aws::presign_playback({}, app.package_of(id), app.config().url_ttl,
                                           "/videos/" + std::string(id) + "/package/");
  if (!made) {
    why = made.error().what();
    return std::nullopt;
  }
  // A growing package's playlists change every few seconds: signed again on every request.
  if (!finished) return *made;
  std::lock_guard lock(playback_mutex);
  playback_cache[std::string(id)] = {*made, now + app.config().url_ttl / 2};
  return *made;
}

asio::awaitable<void> package_on_s3(exchange& x, std::string_view id, std::string_view rest) {
  const auto headers = spool::aws::package_file_headers(rest);
  const bool text = rest == "master.m3u8" || rest == "manifest.mpd" || rest.ends_with("/index.m3u8");
  if (text) {
    std::string why;
    auto v = x.app.videos().get(id);
    const bool finished = v && v->state == video_state::succeeded;
    auto playback = playback_for(x.app, id, finished, why);
    if (!playback) co_return co_await send_error(x, http::status::not_found, "not_found", "no package yet: " + why);
    std::string body;
    if (rest == "master.m3u8")
      body = playback->master_playlist;
    else if (rest == "manifest.mpd")
      body = playback->mpd;
    else if (auto it = playback->media_playlists.find(std::string(rest)); it != playback->media_playlists.end())
      body = it->second;
    if (body.empty()) co_return co_await send_error(x, http::status::not_found, "not_found", "no such file");
    co_return co_await send_text(x, http::status::ok, headers.content_type, std::move(body),
                                 finished ? "private, max-age=60" : "private, no-cache");
  }
  spool::aws::presign_options po;
  po.expires = x.app.config().url_ttl;
  auto url = spool::aws::presign({}, x.app.package_of(id) + "/" + std::string(rest), po);
  if (!url)
    co_return co_await send_error(x, http::status::service_unavailable, "storage_unavailable", url.error().what());
  http::response<http::empty_body> res{http::status::found, x.header().version()};
  res.set(http::field::location, url->url);
  res.set(http::field::cache_control, "private, max-age=60");
  res.keep_alive(x.header().keep_alive());
  res.prepare_payload();
  x.status = 302;
  co_await http::async_write(x.stream, res, asio::as_tuple(asio::use_awaitable));
}

}  // namespace

asio::awaitable<void> send_file(exchange& x, const std::string& path, std::string_view content_type,
                                std::string_view cache_control) {
  const auto method = x.header().method();
  if (method != http::verb::get && method != http::verb::head)
    co_return co_await send_error(x, http::status::method_not_allowed, "method_not_allowed", "use GET");
  fd_guard fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode))
    co_return co_await send_error(x, http::status::not_found, "not_found", "no such file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  const std::string etag = fmt::format("\"{:x}-{:x}{:09x}\"", size, st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
  if (x.header()[http::field::if_none_match] == etag) {
    http::response<http::empty_body> res{http::status::not_modified, x.header().version()};
    res.set(http::field::etag, etag);
    res.set(http::field::cache_control, cache_control);
    res.keep_alive(x.header().keep_alive());
    x.status = 304;
    co_await http::async_write(x.stream, res, asio::as_tuple(asio::use_awaitable));
    co_return;
  }
  byte_range range{0, size == 0 ? 0 : size - 1};
  bool partial = false;
  if (const auto h = x.header()[http::field::range]; !h.empty()) {
    bool unsatisfiable = false;
    if (auto r = parse_range(h, size, unsatisfiable)) {
      range = *r;
      partial = true;
    } else if (unsatisfiable) {
      http::response<http::empty_body> res{http::status::range_not_satisfiable, x.header().version()};
      res.set(http::field::content_range, fmt::format("bytes */{}", size));
      res.keep_alive(x.header().keep_alive());
      res.prepare_payload();
      x.status = 416;
      co_await http::async_write(x.stream, res, asio::as_tuple(asio::use_awaitable));
      co_return;
    }
  }
  const std::uint64_t length = size == 0 ? 0 : range.last - range.first + 1;
  http::response<http::buffer_body> res{partial ? http::status::partial_content : http::status::ok,
                                        x.header().version()};
  res.set(http::field::server, "lecture-portal");
  res.set(http::field::content_type, content_type);
  res.set(http::field::cache_control, cache_control);
  res.set(http::field::etag, etag);
  res.set(http::field::accept_ranges, "bytes");
  res.set("X-Content-Type-Options", "nosniff");
  if (partial) res.set(http::field::content_range, fmt::format("bytes {}-{}/{}", range.first, range.last, size));
  res.content_length(length);
  res.keep_alive(x.header().keep_alive());
  res.body().data = nullptr;
  res.body().more = method == http::verb::get && length > 0;
  x.status = partial ? 206 : 200;
  http::response_serializer<http::buffer_body> writer{res};
  x.stream.expires_after(std::chrono::seconds(60));
  auto [hec, hn] = co_await http::async_write_header(x.stream, writer, asio::as_tuple(asio::use_awaitable));
  if (hec || method == http::verb::head || length == 0) {
    if (hec) x.keep_alive = false;
    co_return;
  }
  std::array<char, 64 * 1024> chunk;
  std::uint64_t offset = range.first, left = length;
  while (left > 0) {
    const ssize_t n =
        ::pread(fd.get(), chunk.data(), std::min<std::uint64_t>(chunk.size(), left), static_cast<off_t>(offset));
    if (n <= 0) {  // the file shrank under us: the answer cannot be completed
      x.keep_alive = false;
      co_return;
    }
    offset += static_cast<std::uint64_t>(n);
    left -= static_cast<std::uint64_t>(n);
    res.body().data = chunk.data();
    res.body().size = static_cast<std::size_t>(n);
    res.body().more = left > 0;
    x.stream.expires_after(std::chrono::seconds(60));
    auto [ec, w] = co_await http::async_write(x.stream, writer, asio::as_tuple(asio::use_awaitable));
    if (ec && ec != http::error::need_buffer) {
      x.keep_alive = false;
      co_return;
    }
  }
}

asio::awaitable<void> handle_static(exchange& x, std::string_view path, std::string_view query) {
  (void)query;
  x.route = "page";
  const auto& web = x.app.config().web;
  if (path == "/" || path == "/index.html")
    co_return co_await send_file(x, (web / "index.html").string(), web_type(".html"), "no-cache");
  if (path == "/player") co_return co_await send_file(x, (web / "player.html").string(), web_type(".html"), "no-cache");
  if (path.starts_with("/static/")) {
    const std::string_view name = path.substr(8);
    if (!safe_relative(name, 1)) co_return co_await send_error(x, http::status::not_found, "not_found", "no such file");
    co_return co_await send_file(x, (web / std::string(name)).string(), web_type(name), "no-cache");
  }
  if (path == "/vendor/hls.js" || path == "/vendor/dash.js") {
    const auto& vendor = x.app.config().vendor;
    const std::array<std::filesystem::path, 4> candidates =
        path == "/vendor/hls.js"
            ? std::array<std::filesystem::path, 4>{vendor / "hls.js/dist/hls.min.js",
                                                   vendor / "hls.js/dist/hls.js",
                                                   {},
                                                   {}}
            : std::array<std::filesystem::path, 4>{
                  vendor / "dashjs/dist/modern/umd/dash.all.min.js", vendor / "dashjs/dist/dash.all.min.js",
                  vendor / "dashjs/dist/legacy/umd/dash.all.min.js", vendor / "dashjs/dist/dash.all.debug.js"};
    for (const auto& c : candidates)
      if (!c.empty() && std::filesystem::is_regular_file(c))
        co_return co_await send_file(x, c.string(), web_type(".js"), "public, max-age=3600");
    co_return co_await send_error(x, http::status::not_found, "not_installed",
                                  "the player scripts are not installed: run `make web-tools`");
  }
  co_await send_error(x, http::status::not_found, "not_found", "no such page");
}

asio::awaitable<void> handle_package(exchange& x, std::string_view id, std::string_view rest) {
  if (!valid_id(id) || !safe_relative(rest, 3))
    co_return co_await send_error(x, http::status::not_found, "not_found", "no such file");
  if (!x.app.videos().get(id)) co_return co_await send_error(x, http::status::not_found, "not_found", "no such video");
  if (x.app.on_s3()) co_return co_await package_on_s3(x, id, rest);
  const auto headers = spool::aws::package_file_headers(rest);
  co_await send_file(x, x.app.package_of(id) + "/" + std::string(rest), headers.content_type, headers.cache_control);
}

}  // namespace portal
