// Private playback: a package's manifests with every file they name presigned.
#include <spool/package_layout.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "aws/presign.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

constexpr std::size_t manifest_limit = 16u << 20;

std::string dir_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? "" : std::string(path.substr(0, slash + 1));
}

// Only the package's own relative names are rewritten: an absolute URL is someone else's.
bool relative(std::string_view uri) {
  return !uri.empty() && uri.find("://") == std::string_view::npos && uri.front() != '/';
}

std::string xml_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<std::string> attribute(std::string_view element, std::string_view name) {
  const std::string key = " " + std::string(name) + "=\"";
  auto at = element.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  at += key.size();
  auto end = element.find('"', at);
  if (end == std::string_view::npos) return std::nullopt;
  return std::string(element.substr(at, end - at));
}

// A quoted attribute of an HLS tag line ("#EXT-X-MEDIA:TYPE=AUDIO,...,URI=\"a/index.m3u8\"").
std::optional<std::string> m3u_attribute(std::string_view line, std::string_view name) {
  const std::string key = std::string(name) + "=\"";
  for (auto at = line.find(key); at != std::string_view::npos; at = line.find(key, at + 1)) {
    if (at == 0 || (line[at - 1] != ',' && line[at - 1] != ':')) continue;
    auto begin = at + key.size();
    auto end = line.find('"', begin);
    if (end == std::string_view::npos) return std::nullopt;
    return std::string(line.substr(begin, end - begin));
  }
  return std::nullopt;
}

// "seg_$Number%05d$.m4s" for segment n.
result<std::string> expand_number(std::string_view pattern, std::int64_t n) {
  auto at = pattern.find("$Number");
  if (at == std::string_view::npos) return error(errc::invalid_argument, "a SegmentTemplate without $Number$");
  auto end = pattern.find('$', at + 1);
  if (end == std::string_view::npos) return error(errc::invalid_argument, "an unterminated $Number$");
  auto format = pattern.substr(at + 7, end - at - 7);  // "" or "%05d"
  int width = 0;
  if (!format.empty()) {
    if (format.size() < 3 || format.front() != '%' || format.back() != 'd')
      return error(errc::invalid_argument, "an unknown $Number$ format in the MPD");
    auto digits = format.substr(1, format.size() - 2);
    std::from_chars(digits.data(), digits.data() + digits.size(), width);
  }
  std::string num = std::to_string(n);
  if (static_cast<int>(num.size()) < width) num.insert(0, static_cast<std::size_t>(width) - num.size(), '0');
  return std::string(pattern.substr(0, at)) + num + std::string(pattern.substr(end + 1));
}

class signer {
 public:
  signer(s3_client& c, const s3_uri& package, std::chrono::seconds expires, wall_clock::time_point now,
         private_playback& out)
      : c_(c), bucket_(package.bucket), prefix_(package.key), expires_(expires), now_(now), out_(out) {
    if (!prefix_.empty() && !prefix_.ends_with('/')) prefix_ += '/';
  }

  /// `name` inside the package, presigned for GET.
  result<std::string> url(const std::string& name) {
    return presign_raw(c_, "GET", c_.url(bucket_, prefix_ + name), expires_, now_, {}, out_.warnings);
  }
  result<std::optional<std::string>> read(const std::string& name) {
    return c_.get_small(bucket_, prefix_ + name, manifest_limit);
  }

 private:
  s3_client& c_;
  std::string bucket_;
  std::string prefix_;
  std::chrono::seconds expires_;
  wall_clock::time_point now_;
  private_playback& out_;
};

result<std::string> sign_media_playlist(signer& s, const std::string& name, const std::string& text) {
  const std::string dir = dir_of(name);
  std::string out;
  std::size_t at = 0;
  while (at < text.size()) {
    auto eol = text.find('\n', at);
    std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    at = eol == std::string::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("#EXT-X-MAP:")) {
      auto uri = m3u_attribute(line, "URI");
      if (uri && relative(*uri)) {
        auto u = s.url(dir + *uri);
        if (!u) return u.error();
        auto pos = line.find("URI=\"" + *uri + "\"");
        line.replace(pos + 5, uri->size(), *u);
      }
    } else if (!line.empty() && line.front() != '#' && relative(line)) {
      auto u = s.url(dir + line);
      if (!u) return u.error();
      line = *u;
    }
    out += line + "\n";
  }
  return out;
}

result<std::string> sign_mpd(signer& s, const std::string& mpd) {
  std::string out;
  std::size_t at = 0;
  for (;;) {
    auto begin = mpd.find("<SegmentTemplate", at);
    if (begin == std::string::npos) break;
    auto close = mpd.find("</SegmentTemplate>", begin);
    if (close == std::string::npos) return error(errc::invalid_argument, "an unterminated SegmentTemplate in the MPD");
    auto tag_end = mpd.find('>', begin);
    const std::string tag = mpd.substr(begin, tag_end - begin);
    const std::string inner = mpd.substr(tag_end + 1, close - tag_end - 1);
    auto init = attribute(tag, "initialization");
    auto media = attribute(tag, "media");
    if (!init || !media) return error(errc::invalid_argument, "a SegmentTemplate without initialization or media");
    std::int64_t start = 1, count = 0;
    if (auto sn = attribute(tag, "startNumber")) std::from_chars(sn->data(), sn->data() + sn->size(), start);
    // Each <S> is one segment plus r repeats.
    for (std::size_t p = inner.find("<S "); p != std::string::npos; p = inner.find("<S ", p + 3)) {
      auto e = inner.find('>', p);
      std::int64_t r = 0;
      if (auto rv = attribute(inner.substr(p, e - p), "r")) std::from_chars(rv->data(), rv->data() + rv->size(), r);
      if (r < 0) return error(errc::invalid_argument, "an open-ended SegmentTimeline cannot be listed");
      count += r + 1;
    }
    if (count == 0) return error(errc::invalid_argument, "a SegmentTemplate without a SegmentTimeline");
    std::string list = "<SegmentList";
    if (auto ts = attribute(tag, "timescale")) list += " timescale=\"" + *ts + "\"";
    list += ">";
    auto init_url = s.url(*init);
    if (!init_url) return init_url.error();
    list += "<Initialization sourceURL=\"" + xml_escape(*init_url) + "\"/>";
    list += inner.substr(inner.find("<SegmentTimeline"),
                         inner.find("</SegmentTimeline>") + 18 - inner.find("<SegmentTimeline"));
    for (std::int64_t n = start; n < start + count; ++n) {
      auto name = expand_number(*media, n);
      if (!name) return name.error();
      auto u = s.url(*name);
      if (!u) return u.error();
      list += "<SegmentURL media=\"" + xml_escape(*u) + "\"/>";
    }
    list += "</SegmentList>";
    out += mpd.substr(at, begin - at) + list;
    at = close + 18;
  }
  return out + mpd.substr(at);
}

}  // namespace

result<private_playback> presign_playback(s3_client& client, const s3_uri& package, std::chrono::seconds expires,
                                          std::string_view playlist_base, wall_clock::time_point now) {
  private_playback out;
  if (expires.count() <= 0) return error(errc::invalid_argument, "presigned URLs must expire in at least 1 second");
  if (expires > max_presign_expiry) {
    out.warnings.push_back("the expiry is cut to 7 days, the longest S3 accepts");
    expires = max_presign_expiry;
  }
  out.expires = expires;
  signer s(client, package, expires, now, out);
  auto master = s.read(std::string(package_layout::master_playlist));
  if (!master) return master.error();
  if (!*master)
    return error(errc::input_unreadable, s3_name(package.bucket, package.key) + " holds no master playlist");
  const std::string& text = **master;
  std::size_t at = 0;
  while (at < text.size()) {
    auto eol = text.find('\n', at);
    std::string line = text.substr(at, eol == std::string::npos ? std::string::npos : eol - at);
    at = eol == std::string::npos ? text.size() : eol + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::optional<std::string> uri;
    if (line.starts_with("#EXT-X-MEDIA:"))
      uri = m3u_attribute(line, "URI");
    else if (!line.empty() && line.front() != '#')
      uri = line;
    if (uri && relative(*uri)) {
      if (!out.media_playlists.contains(*uri)) {
        auto media = s.read(*uri);
        if (!media) return media.error();
        if (!*media) return error(errc::input_unreadable, "the package's " + *uri + " is missing");
        auto signed_text = sign_media_playlist(s, *uri, **media);
        if (!signed_text) return signed_text.error();
        out.media_playlists[*uri] = *std::move(signed_text);
      }
      if (!playlist_base.empty()) {
        auto pos = line.find(*uri);
        line.replace(pos, uri->size(), std::string(playlist_base) + *uri);
      }
    }
    out.master_playlist += line + "\n";
  }
  auto mpd = s.read(std::string(package_layout::mpd));
  if (!mpd) return mpd.error();
  if (*mpd) {
    auto signed_mpd = sign_mpd(s, **mpd);
    if (!signed_mpd) return signed_mpd.error();
    out.mpd = *std::move(signed_mpd);
  }
  std::sort(out.warnings.begin(), out.warnings.end());
  out.warnings.erase(std::unique(out.warnings.begin(), out.warnings.end()), out.warnings.end());
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
