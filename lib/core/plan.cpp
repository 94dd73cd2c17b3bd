#include <spool/package_layout.hpp>
#include <spool/plan.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <set>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

plan hls_ladder() { return plan{}; }

struct spec_error {
  std::string what;
};

[[noreturn]] void bad(std::string what) { throw spec_error{std::move(what)}; }

using boost::json::object;
using boost::json::value;

// Each reader checks the type and the keys it knows; an unknown key is an error, so typos surface.
void check_keys(const object& o, std::initializer_list<std::string_view> known, std::string_view where) {
  for (const auto& kv : o)
    if (std::find(known.begin(), known.end(), kv.key()) == known.end())
      bad("unknown key '" + std::string(kv.key()) + "' in " + std::string(where));
}

const object& as_object(const value& v, std::string_view where) {
  if (!v.is_object()) bad(std::string(where) + " must be an object");
  return v.get_object();
}

double get_number(const value& v, std::string_view key) {
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  bad("'" + std::string(key) + "' must be a number");
}

std::int64_t get_int(const value& v, std::string_view key) {
  double d = get_number(v, key);
  if (d != std::floor(d) || std::abs(d) > 1e15) bad("'" + std::string(key) + "' must be an integer");
  return static_cast<std::int64_t>(d);
}

// For the int fields: a value past int's range must not wrap around into a valid one (4294967312 → 16).
int get_int32(const value& v, std::string_view key) {
  std::int64_t i = get_int(v, key);
  if (i < std::numeric_limits<int>::min() || i > std::numeric_limits<int>::max())
    bad("'" + std::string(key) + "' is out of range");
  return static_cast<int>(i);
}

bool get_bool(const value& v, std::string_view key) {
  if (!v.is_bool()) bad("'" + std::string(key) + "' must be true or false");
  return v.get_bool();
}

std::string get_string(const value& v, std::string_view key) {
  if (!v.is_string()) bad("'" + std::string(key) + "' must be a string");
  return std::string(v.get_string());
}

rung read_rung(const value& v, std::size_t i) {
  std::string where = "video.rungs[" + std::to_string(i) + "]";
  const object& o = as_object(v, where);
  check_keys(o, {"name", "height", "crf", "maxrate_kbps", "bufsize_kbps"}, where);
  rung r;
  if (auto* x = o.if_contains("height"))
    r.height = get_int32(*x, "height");
  else
    bad(where + " needs a height");
  r.name = o.contains("name") ? get_string(o.at("name"), "name") : std::to_string(r.height) + "p";
  if (auto* x = o.if_contains("crf")) r.crf = get_int32(*x, "crf");
  if (auto* x = o.if_contains("maxrate_kbps")) r.maxrate_kbps = get_int(*x, "maxrate_kbps");
  if (auto* x = o.if_contains("bufsize_kbps")) r.bufsize_kbps = get_int(*x, "bufsize_kbps");
  return r;
}

void read_spec(const value& spec, plan& out) {
  const object& o = as_object(spec, "the plan spec");
  check_keys(o, {"version", "preset", "video", "audio", "packaging", "thumbnails", "chunking"}, "the plan spec");
  if (auto* v = o.if_contains("version")) {
    if (get_int(*v, "version") != 1) bad("unsupported spec version (this library reads version 1)");
  }
  if (auto* v = o.if_contains("preset")) {
    std::string name = get_string(*v, "preset");
    auto preset = make_preset(name);
    if (!preset) bad(preset.error().what());
    out = *std::move(preset);
  }
  if (auto* v = o.if_contains("video")) {
    const object& vo = as_object(*v, "video");
    check_keys(vo, {"codec", "preset", "profile", "max_fps", "remux", "rungs"}, "video");
    if (auto* x = vo.if_contains("codec")) out.video.codec = get_string(*x, "codec");
    if (auto* x = vo.if_contains("preset")) out.video.preset = get_string(*x, "preset");
    if (auto* x = vo.if_contains("profile")) out.video.profile = get_string(*x, "profile");
    if (auto* x = vo.if_contains("max_fps")) out.video.max_fps = get_number(*x, "max_fps");
    if (auto* x = vo.if_contains("remux")) out.video.remux = get_string(*x, "remux");
    if (auto* x = vo.if_contains("rungs")) {
      if (!x->is_array()) bad("video.rungs must be an array");
      out.video.rungs.clear();
      std::size_t i = 0;
      for (const auto& r : x->get_array()) out.video.rungs.push_back(read_rung(r, i++));
    }
  }
  if (auto* v = o.if_contains("audio")) {
    const object& ao = as_object(*v, "audio");
    check_keys(ao, {"enabled", "bitrate_kbps", "sample_rate", "channels"}, "audio");
    if (auto* x = ao.if_contains("enabled")) out.audio.enabled = get_bool(*x, "enabled");
    if (auto* x = ao.if_contains("bitrate_kbps")) out.audio.bitrate_kbps = get_int32(*x, "bitrate_kbps");
    if (auto* x = ao.if_contains("sample_rate")) out.audio.sample_rate = get_int32(*x, "sample_rate");
    if (auto* x = ao.if_contains("channels")) out.audio.channels = get_int32(*x, "channels");
  }
  if (auto* v = o.if_contains("packaging")) {
    const object& po = as_object(*v, "packaging");
    check_keys(po, {"segment_s", "gop_s", "hls", "dash", "progressive", "publish"}, "packaging");
    if (auto* x = po.if_contains("segment_s")) out.packaging.segment_s = get_number(*x, "segment_s");
    if (auto* x = po.if_contains("gop_s")) out.packaging.gop_s = get_number(*x, "gop_s");
    if (auto* x = po.if_contains("hls")) out.packaging.hls = get_bool(*x, "hls");
    if (auto* x = po.if_contains("dash")) out.packaging.dash = get_bool(*x, "dash");
    if (auto* x = po.if_contains("progressive"))
      out.packaging.progressive = x->is_null() ? "" : get_string(*x, "progressive");
    if (auto* x = po.if_contains("publish")) out.packaging.publish = get_string(*x, "publish");
  }
  if (auto* v = o.if_contains("thumbnails")) {
    const object& to = as_object(*v, "thumbnails");
    check_keys(to, {"poster", "storyboard", "interval_s", "tile_width", "columns"}, "thumbnails");
    if (auto* x = to.if_contains("poster")) out.thumbnails.poster = get_bool(*x, "poster");
    if (auto* x = to.if_contains("storyboard")) out.thumbnails.storyboard = get_bool(*x, "storyboard");
    if (auto* x = to.if_contains("interval_s")) out.thumbnails.interval_s = get_number(*x, "interval_s");
    if (auto* x = to.if_contains("tile_width")) out.thumbnails.tile_width = get_int32(*x, "tile_width");
    if (auto* x = to.if_contains("columns")) out.thumbnails.columns = get_int32(*x, "columns");
  }
  if (auto* v = o.if_contains("chunking")) {
    const object& co = as_object(*v, "chunking");
    check_keys(co, {"enabled", "min_duration_s", "chunk_s"}, "chunking");
    if (auto* x = co.if_contains("enabled")) out.chunking.enabled = get_bool(*x, "enabled");
    if (auto* x = co.if_contains("min_duration_s")) out.chunking.min_duration_s = get_number(*x, "min_duration_s");
    if (auto* x = co.if_contains("chunk_s")) out.chunking.chunk_s = get_number(*x, "chunk_s");
  }
}

bool path_safe(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
  });
}

bool same_name(std::string_view a, std::string_view b) {
  // Case-insensitively: a package copied to a case-insensitive file system must not collide either.
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Why a rung may not use `name` as its directory, or empty when it may.
std::string reserved_name(const std::string& name) {
  // A leading dot is how spool names its temporaries (staging directories, status.json's).
  if (name[0] == '.') return "starts with '.', which spool's temporary files use";
  for (auto n : package_layout::top_level)
    if (same_name(name, n)) return "is the name of a package file";
  return {};
}

}  // namespace

std::vector<std::string> preset_names() { return {"hls-ladder"}; }

result<plan> make_preset(std::string_view name) {
  if (name == "hls-ladder") return hls_ladder();
  return error(errc::invalid_spec, "unknown preset '" + std::string(name) + "'");
}

error validate(const plan& p) {
  auto no = [](std::string what) { return error(errc::invalid_spec, std::move(what)); };
  static const std::set<std::string> codecs{"libx264", "libx265", "libsvtav1"};
  if (!codecs.count(p.video.codec)) return no("video.codec must be one of libx264, libx265, libsvtav1");
  if (!(p.video.max_fps >= 1 && p.video.max_fps <= 120)) return no("video.max_fps must be within 1..120");
  if (p.video.rungs.empty() && !p.audio.enabled) return no("the plan has neither video rungs nor audio");
  std::set<std::string> names;
  for (const auto& r : p.video.rungs) {
    if (!path_safe(r.name)) return no("rung name '" + r.name + "' must be 1-64 of [A-Za-z0-9._-]");
    if (auto why = reserved_name(r.name); !why.empty()) return no("rung name '" + r.name + "' " + why);
    for (const auto& n : names)
      if (same_name(n, r.name)) return no("rung name '" + r.name + "' is used twice");
    names.insert(r.name);
    if (r.height < 16 || r.height > 4320 || r.height % 2)
      return no("rung '" + r.name + "': height must be even, 16..4320");
    if (r.crf < 0 || r.crf > 63) return no("rung '" + r.name + "': crf must be within 0..63");
    if (r.maxrate_kbps < 0 || r.bufsize_kbps < 0 || r.maxrate_kbps > 1'000'000 || r.bufsize_kbps > 2'000'000)
      return no("rung '" + r.name + "': maxrate_kbps/bufsize_kbps out of range");
  }
  if (p.audio.enabled) {
    if (p.audio.bitrate_kbps < 16 || p.audio.bitrate_kbps > 512) return no("audio.bitrate_kbps must be within 16..512");
    if (p.audio.sample_rate != 44100 && p.audio.sample_rate != 48000 && p.audio.sample_rate != 32000)
      return no("audio.sample_rate must be 32000, 44100 or 48000");
    if (p.audio.channels < 1 || p.audio.channels > 2) return no("audio.channels must be 1 or 2");
  }
  if (p.video.remux != "auto" && p.video.remux != "on" && p.video.remux != "off")
    return no("video.remux must be \"auto\", \"on\" or \"off\", not '" + p.video.remux + "'");
  const auto& k = p.packaging;
  if (!(k.gop_s >= 0.5 && k.gop_s <= 20)) return no("packaging.gop_s must be within 0.5..20");
  if (!(k.segment_s >= k.gop_s && k.segment_s <= 60)) return no("packaging.segment_s must be within gop_s..60");
  double ratio = k.segment_s / k.gop_s;
  if (std::abs(ratio - std::round(ratio)) > 1e-6) return no("packaging.segment_s must be a multiple of gop_s");
  if (k.publish != "auto" && k.publish != "atomic" && k.publish != "progressive")
    return no("packaging.publish must be \"auto\", \"atomic\" or \"progressive\", not '" + k.publish + "'");
  if (!k.hls && !k.dash && k.progressive.empty())
    return no("packaging writes nothing: enable hls, dash or progressive");
  if (!k.progressive.empty()) {
    if (!names.count(k.progressive)) return no("packaging.progressive names no rung ('" + k.progressive + "')");
    // Any rung may become the MP4 (when a small source drops the named one), so none may be named
    // like another's MP4.
    for (const auto& a : names)
      for (const auto& b : names)
        if (same_name(a, package_layout::progressive_file(b)))
          return no("rung name '" + a + "' is the name of the progressive MP4 of rung '" + b + "'");
  }
  const auto& t = p.thumbnails;
  if (!(t.interval_s >= 1 && t.interval_s <= 600)) return no("thumbnails.interval_s must be within 1..600");
  if (t.tile_width < 32 || t.tile_width > 640 || t.tile_width % 2)
    return no("thumbnails.tile_width must be even, 32..640");
  if (t.columns < 1 || t.columns > 50) return no("thumbnails.columns must be within 1..50");
  const auto& c = p.chunking;
  if (!(c.min_duration_s >= 0 && c.min_duration_s <= 7 * 86400))
    return no("chunking.min_duration_s must be within 0..604800");
  // A chunk is whole segments: at least one, and few enough chunks to queue.
  if (!(c.chunk_s >= k.segment_s && c.chunk_s <= 86400)) return no("chunking.chunk_s must be within segment_s..86400");
  return {};
}

result<plan> apply_spec(const boost::json::value& spec, plan base) {
  try {
    read_spec(spec, base);
  } catch (const spec_error& e) {
    return error(errc::invalid_spec, e.what);
  }
  if (auto e = validate(base)) return e;
  return base;
}

result<plan> apply_spec(std::string_view json_text, plan base) {
  boost::system::error_code jec;
  boost::json::value v = boost::json::parse(json_text, jec);
  if (jec) return error(errc::invalid_spec, "the plan spec is not valid JSON: " + jec.message());
  return apply_spec(v, std::move(base));
}

boost::json::value to_json(const plan& p) {
  boost::json::array rungs;
  for (const auto& r : p.video.rungs)
    rungs.push_back({{"name", r.name},
                     {"height", r.height},
                     {"crf", r.crf},
                     {"maxrate_kbps", r.maxrate_kbps},
                     {"bufsize_kbps", r.bufsize_kbps}});
  return {
      {"version", 1},
      {"video",
       {{"codec", p.video.codec},
        {"preset", p.video.preset},
        {"profile", p.video.profile},
        {"max_fps", p.video.max_fps},
        {"remux", p.video.remux},
        {"rungs", std::move(rungs)}}},
      {"audio",
       {{"enabled", p.audio.enabled},
        {"bitrate_kbps", p.audio.bitrate_kbps},
        {"sample_rate", p.audio.sample_rate},
        {"channels", p.audio.channels}}},
      {"packaging",
       {{"segment_s", p.packaging.segment_s},
        {"gop_s", p.packaging.gop_s},
        {"hls", p.packaging.hls},
        {"dash", p.packaging.dash},
        {"progressive", p.packaging.progressive},
        {"publish", p.packaging.publish}}},
      {"thumbnails",
       {{"poster", p.thumbnails.poster},
        {"storyboard", p.thumbnails.storyboard},
        {"interval_s", p.thumbnails.interval_s},
        {"tile_width", p.thumbnails.tile_width},
        {"columns", p.thumbnails.columns}}},
      {"chunking",
       {{"enabled", p.chunking.enabled},
        {"min_duration_s", p.chunking.min_duration_s},
        {"chunk_s", p.chunking.chunk_s}}},
  };
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
