#pragma once
// Properties of HLS playlists and DASH manifests, read back from their text and compared with the
// tracks they describe. Each check returns the first problem found, or an empty string. Used by
// fuzz_manifest and by the regression tests of its findings; they check what a player relies on, not
// the exact text.
#include <charconv>
#include <cmath>
#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "media/segmenter.hpp"

namespace spool::fuzz {

namespace manifest_detail {

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    auto nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return out;
}

inline bool is_uint(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}
/// Digits, optionally a point and more digits: no sign, exponent, nan or inf.
inline bool is_decimal(std::string_view s) {
  auto dot = s.find('.');
  return dot == std::string_view::npos ? is_uint(s) : is_uint(s.substr(0, dot)) && is_uint(s.substr(dot + 1));
}
inline bool to_i64(std::string_view s, std::int64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return is_uint(s) && r.ec == std::errc() && r.ptr == s.data() + s.size();
}

/// KEY=VALUE,KEY="VALUE",... as in EXT-X-STREAM-INF (quoted values may hold commas).
inline std::map<std::string, std::string> hls_attributes(std::string_view list) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < list.size()) {
    auto eq = list.find('=', i);
    if (eq == std::string_view::npos) break;
    std::string key(list.substr(i, eq - i));
    std::size_t j = eq + 1;
    std::string value;
    if (j < list.size() && list[j] == '"') {
      auto close = list.find('"', j + 1);
      if (close == std::string_view::npos) close = list.size();
      value = std::string(list.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      auto comma = list.find(',', j);
      if (comma == std::string_view::npos) comma = list.size();
      value = std::string(list.substr(j, comma - j));
      j = comma;
    }
    out[key] = value;
    i = j < list.size() && list[j] == ',' ? j + 1 : j;
  }
  return out;
}

struct element {
  std::string name;
  std::map<std::string, std::string> attrs;
  int parent = -1;  ///< index into the element list
};

/// A small XML reader: elements with their attributes and parents, or the first problem.
inline std::string read_xml(const std::string& text, std::vector<element>& out) {
  std::vector<int> open;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text[i] != '<') {
      if (!std::isspace(static_cast<unsigned char>(text[i])))
        return "text outside any element at byte " + std::to_string(i);
      ++i;
      continue;
    }
    if (text.compare(i, 2, "<?") == 0) {
      auto end = text.find("?>", i);
      if (end == std::string::npos) return "unterminated <? ?>";
      i = end + 2;
      continue;
    }
    if (text.compare(i, 2, "</") == 0) {
      auto end = text.find('>', i);
      if (end == std::string::npos) return "unterminated closing tag";
      std::string name = text.substr(i + 2, end - i - 2);
      if (open.empty() || out[static_cast<std::size_t>(open.back())].name != name)
        return "</" + name + "> closes " +
               (open.empty() ? "nothing" : "<" + out[static_cast<std::size_t>(open.back())].name + ">");
      open.pop_back();
      i = end + 1;
      continue;
    }
    element e;
    e.parent = open.empty() ? -1 : open.back();
    if (open.empty() && !out.empty()) return "a second root element";
    std::size_t j = i + 1;
    while (j < text.size() && (std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == ':' || text[j] == '_'))
      ++j;
    e.name = text.substr(i + 1, j - i - 1);
    if (e.name.empty()) return "an element without a name at byte " + std::to_string(i);
    bool self_closing = false;
    for (;;) {
      while (j < text.size() && std::isspace(static_cast<unsigned char>(text[j]))) ++j;
      if (j >= text.size()) return "unterminated <" + e.name + ">";
      if (text[j] == '>') {
        ++j;
        break;
      }
      if (text.compare(j, 2, "/>") == 0) {
        j += 2;
        self_closing = true;
        break;
      }
      auto eq = text.find('=', j);
      if (eq == std::string::npos || eq + 1 >= text.size() || text[eq + 1] != '"')
        return "a malformed attribute in <" + e.name + ">";
      std::string key = text.substr(j, eq - j);
      auto close = text.find('"', eq + 2);
      if (close == std::string::npos) return "an unterminated attribute in <" + e.name + ">";
      std::string value = text.substr(eq + 2, close - eq - 2);
      if (value.find_first_of("<&") != std::string::npos) return "an unescaped < or & in " + e.name + "@" + key;
      if (!e.attrs.emplace(key, value).second) return "attribute " + key + " twice in <" + e.name + ">";
      j = close + 1;
    }
    out.push_back(std::move(e));
    if (!self_closing) open.push_back(static_cast<int>(out.size() - 1));
    i = j;
  }
  if (!open.empty()) return "<" + out[static_cast<std::size_t>(open.back())].name + "> is never closed";
  if (out.empty()) return "no element at all";
  return {};
}

}  // namespace manifest_detail

/// A media playlist against its track: one EXTINF and one URI per segment, numbered from 1 in order,
/// each EXTINF the segment's duration, TARGETDURATION at least every EXTINF rounded (RFC 8216 4.3.3.1).
inline std::string check_media_playlist(const std::string& text, const media::track_info& t) {
  using namespace manifest_detail;
  auto lines = lines_of(text);
  if (lines.empty() || lines.front() != "#EXTM3U") return "media playlist does not start with #EXTM3U";
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty() || lines.back() != "#EXT-X-ENDLIST") return "media playlist does not end with #EXT-X-ENDLIST";
  std::int64_t target = -1;
  bool map_seen = false;
  std::vector<double> extinf;
  std::vector<std::string> uris;
  for (const auto& l : lines) {
    if (l.rfind("#EXT-X-TARGETDURATION:", 0) == 0) {
      if (!to_i64(std::string_view(l).substr(22), target)) return "TARGETDURATION is not a non-negative integer: " + l;
    } else if (l.rfind("#EXT-X-MAP:", 0) == 0) {
      if (!uris.empty()) return "EXT-X-MAP after the first segment";
      map_seen = true;
    } else if (l.rfind("#EXTINF:", 0) == 0) {
      auto v = std::string_view(l).substr(8);
      v = v.substr(0, v.find(','));
      if (!is_decimal(v)) return "EXTINF is not a non-negative decimal: " + l;
      if (extinf.size() != uris.size()) return "two EXTINF lines without a segment between them";
      extinf.push_back(std::stod(std::string(v)));
    } else if (!l.empty() && l[0] != '#') {
      if (extinf.size() != uris.size() + 1) return "segment URI " + l + " without its EXTINF";
      uris.push_back(l);
    }
  }
  if (target < 0) return "no TARGETDURATION";
  if (!map_seen) return "no EXT-X-MAP";
  if (extinf.size() != t.segments.size() || uris.size() != t.segments.size())
    return std::to_string(extinf.size()) + " EXTINF and " + std::to_string(uris.size()) + " URIs for " +
           std::to_string(t.segments.size()) + " segments";
  for (std::size_t i = 0; i < uris.size(); ++i) {
    static const std::regex segment_name("seg_([0-9]+)\\.m4s");
    std::smatch m;
    if (!std::regex_match(uris[i], m, segment_name) || std::stoull(m[1]) != i + 1)
      return "segment " + std::to_string(i + 1) + " is listed as " + uris[i];
    const double want = static_cast<double>(t.segments[i].duration) / t.timescale;
    if (std::abs(extinf[i] - want) > 1e-6 + 1e-12 * want)
      return "EXTINF of segment " + std::to_string(i + 1) + " is " + std::to_string(extinf[i]) + ", its duration " +
             std::to_string(want);
    if (std::llround(extinf[i]) > target)
      return "segment " + std::to_string(i + 1) + " lasts " + std::to_string(extinf[i]) + " s, over TARGETDURATION " +
             std::to_string(target);
  }
  return {};
}

/// master.m3u8: one variant per video track in order (or the audio track alone), well-formed numbers,
/// the audio group referenced by every variant, and BANDWIDTH (a peak) not below AVERAGE-BANDWIDTH.
inline std::string check_master_playlist(const std::string& text, const std::vector<media::track_info>& video,
                                         const media::track_info* audio, std::int64_t slack = 0) {
  using namespace manifest_detail;
  auto lines = lines_of(text);
  if (lines.empty() || lines.front() != "#EXTM3U") return "master playlist does not start with #EXTM3U";
  std::vector<const media::track_info*> want;
  for (const auto& v : video) want.push_back(&v);
  if (video.empty() && audio) want.push_back(audio);
  bool all_timed = true;  // every segment has a duration: then the peak cannot be below the average
  for (const auto* t : want)
    for (const auto& s : t->segments) all_timed = all_timed && s.duration > 0;
  if (audio && !video.empty())
    for (const auto& s : audio->segments) all_timed = all_timed && s.duration > 0;
  std::size_t variants = 0, media_lines = 0;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const auto& l = lines[i];
    if (l.rfind("#EXT-X-MEDIA:", 0) == 0) {
      ++media_lines;
      auto a = hls_attributes(std::string_view(l).substr(13));
      if (!audio || video.empty()) return "EXT-X-MEDIA without an audio group to describe";
      if (a["TYPE"] != "AUDIO" || a["GROUP-ID"] != "audio" || a["URI"] != audio->name + "/index.m3u8")
        return "EXT-X-MEDIA does not describe the audio track: " + l;
      continue;
    }
    if (l.rfind("#EXT-X-STREAM-INF:", 0) != 0) continue;
    if (variants >= want.size()) return "more variants than tracks";
    const auto* t = want[variants++];
    auto a = hls_attributes(std::string_view(l).substr(18));
    std::int64_t bw = -1, avg = -1;
    if (!to_i64(a["BANDWIDTH"], bw)) return "BANDWIDTH is not a non-negative integer: " + l;
    if (a.count("AVERAGE-BANDWIDTH") && !to_i64(a["AVERAGE-BANDWIDTH"], avg))
      return "AVERAGE-BANDWIDTH is not a non-negative integer: " + l;
    // Both are one rounding of one formula (track_info::peak_bitrate, avg_bitrate): no slack by default.
    if (all_timed && avg > bw + slack) return "BANDWIDTH below AVERAGE-BANDWIDTH: " + l;
    if (t->video) {
      if (a["RESOLUTION"] != std::to_string(t->width) + "x" + std::to_string(t->height))
        return "RESOLUTION is not the track's size: " + l;
      if (!is_decimal(a["FRAME-RATE"])) return "FRAME-RATE is not a non-negative decimal: " + l;
      if (audio && a["AUDIO"] != "audio") return "a variant without the audio group: " + l;
    }
    if (i + 1 >= lines.size() || lines[i + 1] != t->name + "/index.m3u8")
      return "variant " + std::to_string(variants) + " does not point at " + t->name + "/index.m3u8";
  }
  if (variants != want.size())
    return std::to_string(variants) + " variants for " + std::to_string(want.size()) + " tracks";
  if (audio && !video.empty() && media_lines != 1)
    return std::to_string(media_lines) + " EXT-X-MEDIA lines for one audio track";
  return {};
}

/// manifest.mpd: balanced XML under one MPD root, one Representation per track whose SegmentTimeline
/// expands to exactly the track's segments (start and duration), and only non-negative integers where
/// the schema wants them.
inline std::string check_dash_manifest(const std::string& text, const std::vector<media::track_info>& video,
                                       const media::track_info* audio) {
  using namespace manifest_detail;
  std::vector<element> els;
  if (auto problem = read_xml(text, els); !problem.empty()) return "manifest.mpd is not well-formed: " + problem;
  if (els.front().name != "MPD") return "the root element is <" + els.front().name + ">";
  static const std::regex iso_duration("PT[0-9]+(\\.[0-9]+)?S");
  if (!std::regex_match(els.front().attrs["mediaPresentationDuration"], iso_duration))
    return "mediaPresentationDuration is malformed: " + els.front().attrs["mediaPresentationDuration"];
  std::map<std::string, const media::track_info*> tracks;
  for (const auto& v : video) tracks[v.name] = &v;
  if (audio) tracks[audio->name] = audio;
  std::map<std::string, int> seen;
  for (std::size_t i = 0; i < els.size(); ++i) {
    const auto& e = els[i];
    for (const char* key : {"bandwidth", "width", "height", "timescale", "t", "d", "r", "audioSamplingRate", "maxWidth",
                            "maxHeight", "startNumber"}) {
      auto it = e.attrs.find(key);
      std::int64_t v;
      if (it != e.attrs.end() && !to_i64(it->second, v))
        return e.name + "@" + key + " is not a non-negative integer: " + it->second;
    }
    if (e.name != "Representation") continue;
    const std::string id = e.attrs.count("id") ? e.attrs.at("id") : "";
    if (!tracks.count(id)) return "a Representation for no track: " + id;
    if (++seen[id] > 1) return "two Representations for " + id;
    const auto& t = *tracks[id];
    // Its SegmentTemplate and that template's S elements.
    std::vector<std::pair<std::int64_t, std::int64_t>> timeline;
    int templates = 0;
    for (std::size_t k = i + 1; k < els.size(); ++k) {
      if (els[k].name != "SegmentTemplate" || els[k].parent != static_cast<int>(i)) continue;
      ++templates;
      std::int64_t ts = 0;
      to_i64(els[k].attrs["timescale"], ts);
      if (ts != t.timescale)
        return id + ": timescale " + els[k].attrs["timescale"] + ", the track's is " + std::to_string(t.timescale);
      std::int64_t next = 0;
      for (std::size_t s = k + 1; s < els.size(); ++s) {
        if (els[s].name != "S" || els[s].parent < 0 ||
            els[static_cast<std::size_t>(els[s].parent)].parent != static_cast<int>(k))
          continue;
        std::int64_t at = next, d = 0, r = 0;
        if (els[s].attrs.count("t")) to_i64(els[s].attrs["t"], at);
        if (!to_i64(els[s].attrs["d"], d)) return id + ": an S element without d";
        if (els[s].attrs.count("r")) to_i64(els[s].attrs["r"], r);
        if (r > static_cast<std::int64_t>(t.segments.size()))
          return id + ": S@r " + std::to_string(r) + " beyond the segment count";
        for (std::int64_t n = 0; n <= r; ++n) {
          timeline.emplace_back(at, d);
          at += d;
        }
        next = at;
      }
    }
    if (templates != 1) return id + ": " + std::to_string(templates) + " SegmentTemplates";
    if (timeline.size() != t.segments.size())
      return id + ": the timeline has " + std::to_string(timeline.size()) + " segments, the track " +
             std::to_string(t.segments.size());
    for (std::size_t s = 0; s < timeline.size(); ++s)
      if (timeline[s].first != t.segments[s].start || timeline[s].second != t.segments[s].duration)
        return id + ": timeline segment " + std::to_string(s + 1) + " is t=" + std::to_string(timeline[s].first) +
               " d=" + std::to_string(timeline[s].second) + ", the track's t=" + std::to_string(t.segments[s].start) +
               " d=" + std::to_string(t.segments[s].duration);
  }
  if (seen.size() != tracks.size())
    return std::to_string(seen.size()) + " Representations for " + std::to_string(tracks.size()) + " tracks";
  return {};
}

}  // namespace spool::fuzz
