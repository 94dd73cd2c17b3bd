#pragma once
// Field-by-field comparison of plans, and of a JSON spec against the plan it produced, for the job
// spec fuzz target and its regression tests.
#include <spool/plan.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace spool::fuzz {

/// A plan that differs from `p` in every field (not necessarily a valid one).
inline ::spool::plan unlike(const ::spool::plan& p) {
  ::spool::plan u = p;
  u.video.codec = p.video.codec == "libx265" ? "libx264" : "libx265";
  u.video.preset += "~";
  u.video.profile += "~";
  u.video.max_fps = p.video.max_fps + 1;
  u.video.rungs.push_back({"extra~", 2, 1, 1, 1});
  u.audio.enabled = !p.audio.enabled;
  u.audio.bitrate_kbps = p.audio.bitrate_kbps + 1;
  u.audio.sample_rate = p.audio.sample_rate + 1;
  u.audio.channels = p.audio.channels + 1;
  u.packaging.segment_s = p.packaging.segment_s + 1;
  u.packaging.gop_s = p.packaging.gop_s + 1;
  u.packaging.hls = !p.packaging.hls;
  u.packaging.dash = !p.packaging.dash;
  u.packaging.progressive += "~";
  u.thumbnails.poster = !p.thumbnails.poster;
  u.thumbnails.storyboard = !p.thumbnails.storyboard;
  u.thumbnails.interval_s = p.thumbnails.interval_s + 1;
  u.thumbnails.tile_width = p.thumbnails.tile_width + 1;
  u.thumbnails.columns = p.thumbnails.columns + 1;
  return u;
}

/// Equal doubles, but for the last bits a read may move them by: Boost.JSON 1.81 does not round every
/// decimal to the nearest double ("2.4066666666666666E27", written from one, reads back 1 ulp below
/// it). Four epsilons, relative: a float's rounding, or any real change, is far beyond that.
inline bool same_double(double a, double b) {
  return a == b ||
         std::fabs(a - b) <= 4 * std::numeric_limits<double>::epsilon() * std::max(std::fabs(a), std::fabs(b));
}

/// The names of the fields in which `a` and `b` differ; empty when the plans are equal.
inline std::string plan_diff(const ::spool::plan& a, const ::spool::plan& b) {
  std::string out;
  auto cmp = [&](bool same, const char* name) {
    if (!same) out += (out.empty() ? "" : ", ") + std::string(name);
  };
  cmp(a.video.codec == b.video.codec, "video.codec");
  cmp(a.video.preset == b.video.preset, "video.preset");
  cmp(a.video.profile == b.video.profile, "video.profile");
  cmp(same_double(a.video.max_fps, b.video.max_fps), "video.max_fps");
  cmp(a.video.rungs.size() == b.video.rungs.size(), "video.rungs (count)");
  for (std::size_t i = 0; i < a.video.rungs.size() && i < b.video.rungs.size(); ++i) {
    const auto &x = a.video.rungs[i], &y = b.video.rungs[i];
    cmp(x.name == y.name && x.height == y.height && x.crf == y.crf && x.maxrate_kbps == y.maxrate_kbps &&
            x.bufsize_kbps == y.bufsize_kbps,
        "video.rungs[i]");
  }
  cmp(a.audio.enabled == b.audio.enabled, "audio.enabled");
  cmp(a.audio.bitrate_kbps == b.audio.bitrate_kbps, "audio.bitrate_kbps");
  cmp(a.audio.sample_rate == b.audio.sample_rate, "audio.sample_rate");
  cmp(a.audio.channels == b.audio.channels, "audio.channels");
  cmp(same_double(a.packaging.segment_s, b.packaging.segment_s), "packaging.segment_s");
  cmp(same_double(a.packaging.gop_s, b.packaging.gop_s), "packaging.gop_s");
  cmp(a.packaging.hls == b.packaging.hls, "packaging.hls");
  cmp(a.packaging.dash == b.packaging.dash, "packaging.dash");
  cmp(a.packaging.progressive == b.packaging.progressive, "packaging.progressive");
  cmp(a.thumbnails.poster == b.thumbnails.poster, "thumbnails.poster");
  cmp(a.thumbnails.storyboard == b.thumbnails.storyboard, "thumbnails.storyboard");
  cmp(same_double(a.thumbnails.interval_s, b.thumbnails.interval_s), "thumbnails.interval_s");
  cmp(a.thumbnails.tile_width == b.thumbnails.tile_width, "thumbnails.tile_width");
  cmp(a.thumbnails.columns == b.thumbnails.columns, "thumbnails.columns");
  return out;
}

namespace detail {

inline void stated_diff(const boost::json::value& said, const boost::json::value& got, const std::string& where,
                        std::string& out) {
  auto differ = [&] {
    out += (out.empty() ? "" : "; ") + where + ": stated " + boost::json::serialize(said) + ", plan has " +
           boost::json::serialize(got);
  };
  if (said.is_number() && got.is_number()) {
    if (said.to_number<double>() != got.to_number<double>()) differ();
  } else if (said.is_object() && got.is_object()) {
    for (const auto& kv : said.get_object())
      if (const auto* g = got.get_object().if_contains(kv.key()))
        stated_diff(kv.value(), *g, where + "." + std::string(kv.key()), out);
  } else if (said.is_array() && got.is_array()) {
    const auto &a = said.get_array(), &b = got.get_array();
    if (a.size() != b.size()) return differ();
    for (std::size_t i = 0; i < a.size(); ++i) stated_diff(a[i], b[i], where + "[" + std::to_string(i) + "]", out);
  } else if (said.is_null() && got.is_string() && got.get_string().empty()) {
    // "progressive": null means none, written back as "".
  } else if (said != got) {
    differ();
  }
}

}  // namespace detail

/// Where the values `spec` states (a JSON job spec) differ from `written` (to_json of the plan it
/// produced); empty when every stated value was taken as stated. Keys the plan does not write back
/// ("version", "preset") are not compared.
inline std::string stated_diff(const boost::json::value& spec, const boost::json::value& written) {
  std::string out;
  if (!spec.is_object() || !written.is_object()) return out;
  for (const auto& kv : spec.get_object()) {
    if (kv.key() == "version" || kv.key() == "preset") continue;
    if (const auto* g = written.get_object().if_contains(kv.key()))
      detail::stated_diff(kv.value(), *g, std::string(kv.key()), out);
  }
  return out;
}

}  // namespace spool::fuzz
