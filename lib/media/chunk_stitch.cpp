// Assembling a chunked job's package from its parts' packages: segments copied byte for byte, the
// manifests written by the same code an unchunked transcode uses.
#include <spool/json_text.hpp>
#include <spool/media/chunks.hpp>
#include <spool/package_layout.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "media/chunk.hpp"
#include "media/manifest.hpp"
#include "media/package_out.hpp"
#include "media/pipeline.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

namespace json = boost::json;
namespace layout = package_layout;

struct part_track {
  track_info info;
  std::string init_sha256;
};

struct part {
  std::string who;  ///< "chunk 3", "the whole-input part"
  int index = 0;
  std::int64_t first_segment = 0;
  std::vector<part_track> tracks;
  std::vector<std::string> files;
  std::vector<transcode_warning> warnings;
  std::optional<json::value> input;
};

[[noreturn]] void bad(const std::string& what) { av::fail(errc::internal, "cannot stitch the package: " + what); }

// Typed reads of a chunk.json, each failure naming the part and the field.
struct fields {
  const json::object& o;
  const std::string& who;
  const json::value& at(std::string_view key) const {
    const auto* v = o.if_contains(key);
    if (!v) bad(fmt::format("{}'s {} has no \"{}\"", who, chunk_manifest, key));
    return *v;
  }
  std::int64_t integer(std::string_view key) const {
    const auto& v = at(key);
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64() && v.get_uint64() <= INT64_MAX) return static_cast<std::int64_t>(v.get_uint64());
    bad(fmt::format("{}'s \"{}\" is not an integer", who, key));
  }
  std::string text(std::string_view key) const {
    const auto& v = at(key);
    if (!v.is_string()) bad(fmt::format("{}'s \"{}\" is not a string", who, key));
    return std::string(v.get_string());
  }
  const json::array& list(std::string_view key) const {
    const auto& v = at(key);
    if (!v.is_array()) bad(fmt::format("{}'s \"{}\" is not a list", who, key));
    return v.get_array();
  }
  const json::object& object(const json::value& v) const {
    if (!v.is_object()) bad(fmt::format("{}'s {} holds a malformed entry", who, chunk_manifest));
    return v.get_object();
  }
};

part parse_part(std::string_view text, std::string who) {
  part p;
  p.who = std::move(who);
  json::value doc;
  try {
    doc = json::parse(text);
  } catch (const std::exception& e) {
    bad(fmt::format("{}'s {} is not JSON: {}", p.who, chunk_manifest, e.what()));
  }
  if (!doc.is_object()) bad(fmt::format("{}'s {} is not an object", p.who, chunk_manifest));
  const fields f{doc.get_object(), p.who};
  if (f.integer("version") != 1) bad(fmt::format("{}'s {} is of an unknown version", p.who, chunk_manifest));
  p.index = static_cast<int>(f.integer("index"));
  p.first_segment = f.integer("first_segment");
  for (const auto& tv : f.list("tracks")) {
    const fields t{f.object(tv), p.who};
    part_track pt;
    track_info& i = pt.info;
    i.name = t.text("name");
    const std::string kind = t.text("kind");
    if (kind != "video" && kind != "audio") bad(fmt::format("{}'s track {} is of kind \"{}\"", p.who, i.name, kind));
    i.video = kind == "video";
    i.codecs = t.text("codecs");
    i.timescale = static_cast<int>(t.integer("timescale"));
    i.init_bytes = t.integer("init_bytes");
    i.frames = t.integer("frames");
    pt.init_sha256 = t.text("init_sha256");
    if (i.timescale <= 0) bad(fmt::format("{}'s track {} has no timescale", p.who, i.name));
    if (i.video) {
      i.width = static_cast<int>(t.integer("width"));
      i.height = static_cast<int>(t.integer("height"));
      const auto& rate = t.list("frame_rate");
      if (rate.size() != 2 || !rate[0].is_int64() || !rate[1].is_int64() || rate[0].get_int64() <= 0 ||
          rate[1].get_int64() <= 0)
        bad(fmt::format("{}'s track {} has a malformed frame rate", p.who, i.name));
      i.frame_rate = AVRational{static_cast<int>(rate[0].get_int64()), static_cast<int>(rate[1].get_int64())};
    } else {
      i.sample_rate = static_cast<int>(t.integer("sample_rate"));
      i.channels = static_cast<int>(t.integer("channels"));
    }
    for (const auto& sv : t.list("segments")) {
      const fields s{t.object(sv), p.who};
      segment_info seg{s.integer("start"), s.integer("duration"), s.integer("bytes")};
      if (seg.duration <= 0 || seg.bytes <= 0 || seg.start < 0)
        bad(fmt::format("{}'s track {} lists a segment of no length", p.who, i.name));
      i.segments.push_back(seg);
    }
    if (i.segments.empty()) bad(fmt::format("{}'s track {} has no segments", p.who, i.name));
    p.tracks.push_back(std::move(pt));
  }
  for (const auto& fv : f.list("files")) {
    if (!fv.is_string()) bad(fmt::format("{}'s files are not names", p.who));
    p.files.emplace_back(fv.get_string());
  }
  for (const auto& wv : f.list("warnings")) {
    const fields w{f.object(wv), p.who};
    p.warnings.push_back({w.text("code"), w.text("message"), w.integer("count")});
  }
  if (const auto* in = f.o.if_contains("input")) p.input = *in;
  return p;
}

std::string fetch(const chunk_reader& read, const part& p, const std::string& name) {
  auto r = read(p.index, name);
  if (!r) av::fail(r.error().code, fmt::format("cannot read {} of {}: {}", name, p.who, r.error().what()));
  return std::move(*r);
}

// The chunks side by side: the same rungs, each continuing the last, numbered on.
std::vector<track_info> join_rungs(const std::vector<part>& chunks) {
  std::vector<track_info> rungs;
  for (const auto& t : chunks.front().tracks) {
    if (!t.info.video) bad(chunks.front().who + " has an audio track");
    rungs.push_back(t.info);
  }
  if (rungs.empty()) bad(chunks.front().who + " has no rendition");
  std::int64_t next_segment = 0;
  for (std::size_t c = 0; c < chunks.size(); ++c) {
    const part& p = chunks[c];
    if (p.index != static_cast<int>(c)) bad(fmt::format("chunk {} is listed as chunk {}", c, p.index));
    if (p.tracks.size() != rungs.size())
      bad(fmt::format("{} has {} renditions, chunk 0 {}", p.who, p.tracks.size(), rungs.size()));
    if (p.first_segment != next_segment)
      bad(fmt::format("{} starts at segment {}, after {} segments before it", p.who, p.first_segment + 1,
                      next_segment));
    const std::size_t count = p.tracks.front().info.segments.size();
    for (std::size_t r = 0; r < rungs.size(); ++r) {
      const track_info& t = p.tracks[r].info;
      track_info& whole = rungs[r];
      if (t.name != whole.name || t.codecs != whole.codecs || t.width != whole.width || t.height != whole.height ||
          av_cmp_q(t.frame_rate, whole.frame_rate) != 0 || t.timescale != whole.timescale)
        bad(fmt::format("{}'s rendition {} is not chunk 0's {}", p.who, t.name, whole.name));
      if (p.tracks[r].init_sha256 != chunks.front().tracks[r].init_sha256)
        bad(fmt::format("rendition {}: {}'s init.mp4 differs from chunk 0's", t.name, p.who));
      if (t.segments.size() != count) bad(fmt::format("{}'s renditions have different numbers of segments", p.who));
      if (c > 0) {
        // Back to back: this chunk starts where the last one ended, within a frame.
        const auto& prev = whole.segments.back();
        const std::int64_t end = prev.start + prev.duration;
        const double frame = t.timescale * av::q2d(av_inv_q(t.frame_rate));
        if (std::abs(static_cast<double>(t.segments.front().start - end)) > frame)
          bad(fmt::format("rendition {}: {} starts at {:.3f} s, chunk {} ended at {:.3f} s", t.name, p.who,
                          static_cast<double>(t.segments.front().start) / t.timescale, c - 1,
                          static_cast<double>(end) / t.timescale));
        whole.segments.insert(whole.segments.end(), t.segments.begin(), t.segments.end());
        whole.frames += t.frames;
      }
    }
    next_segment += static_cast<std::int64_t>(count);
  }
  return rungs;
}

// The first part gives a track its init.mp4; every other part's must be the same bytes.
void copy_init(const chunk_reader& read, const part& p, const part_track& t, io::package_sink& sink,
               std::string& reference) {
  const std::string init = fetch(read, p, t.info.name + "/" + std::string(layout::init));
  if (reference.empty()) {
    if (static_cast<std::int64_t>(init.size()) != t.info.init_bytes || sha256_hex(init) != t.init_sha256)
      bad(fmt::format("rendition {}: {}'s init.mp4 is not as its {} says", t.info.name, p.who, chunk_manifest));
    put(sink, t.info.name + "/" + std::string(layout::init), init);
    reference = init;
  } else if (init != reference) {
    bad(fmt::format("rendition {}: {}'s init.mp4 differs from chunk 0's", t.info.name, p.who));
  }
}

void copy_segments(const chunk_reader& read, const part& p, const part_track& t, io::package_sink& sink) {
  for (std::size_t i = 0; i < t.info.segments.size(); ++i) {
    const std::string name =
        t.info.name + "/" + layout::segment_file(static_cast<std::size_t>(p.first_segment) + i + 1);
    const std::string bytes = fetch(read, p, name);
    if (static_cast<std::int64_t>(bytes.size()) != t.info.segments[i].bytes)
      bad(fmt::format("{} of {} is {} bytes, its {} says {}", name, p.who, bytes.size(), chunk_manifest,
                      t.info.segments[i].bytes));
    if (t.info.video) {
      // The bytes agree with the description: a keyframe first, at the time it gives (within a frame).
      const auto f = summarize_fragment(bytes);
      const double frame = t.info.timescale * av::q2d(av_inv_q(t.info.frame_rate));
      if (!f.starts_with_sync || std::abs(static_cast<double>(f.tfdt - t.info.segments[i].start)) > frame)
        bad(fmt::format("{} of {} does not start with a keyframe at {:.3f} s", name, p.who,
                        static_cast<double>(t.info.segments[i].start) / t.info.timescale));
    }
    put(sink, name, bytes);
  }
}

void stitch_into(const plan& pl, const stitch_input& in, const chunk_reader& read, io::package_sink& sink,
                 transcode_result& result) {
  if (in.chunk_json.empty()) bad("there are no chunks");
  std::vector<part> chunks;
  for (std::size_t i = 0; i < in.chunk_json.size(); ++i)
    chunks.push_back(parse_part(in.chunk_json[i], fmt::format("chunk {}", i)));
  std::optional<part> whole;
  if (in.whole_input_json) {
    whole = parse_part(*in.whole_input_json, "the whole-input part");
    if (whole->index != whole_input_index) bad("the whole-input part's chunk.json is a chunk's");
    whole->index = whole_input_index;
  }
  std::vector<track_info> video = join_rungs(chunks);

  // Every check passed on the descriptions; now the bytes, rung by rung.
  for (std::size_t r = 0; r < video.size(); ++r) {
    std::string reference;
    for (const auto& p : chunks) {
      copy_init(read, p, p.tracks[r], sink, reference);
      copy_segments(read, p, p.tracks[r], sink);
    }
  }
  std::optional<track_info> audio;
  std::vector<std::string> thumbnails;
  if (whole) {
    for (const auto& t : whole->tracks) {
      if (t.info.video || audio) bad("the whole-input part has a track other than one audio track");
      std::string reference;
      copy_init(read, *whole, t, sink, reference);
      copy_segments(read, *whole, t, sink);
      audio = t.info;
    }
    for (const auto& f : whole->files) {
      put(sink, f, fetch(read, *whole, f));
      thumbnails.push_back(f);
    }
  }

  // The manifests and result.json, as transcode() writes them.
  double duration = 0;
  for (const auto& v : video) duration = std::max(duration, v.duration_s());
  const track_info* a = audio ? &*audio : nullptr;
  if (pl.packaging.hls) {
    for (const auto& v : video)
      put_manifest(sink, v.name + "/" + std::string(layout::media_playlist), hls_media_playlist(v));
    if (a) put_manifest(sink, a->name + "/" + std::string(layout::media_playlist), hls_media_playlist(*a));
    put_manifest(sink, layout::master_playlist, hls_master_playlist(video, a));
    result.files.emplace_back(layout::master_playlist);
  }
  if (pl.packaging.dash) {
    put_manifest(sink, layout::mpd, dash_manifest(video, a, std::max(duration, a ? a->duration_s() : 0.0)));
    result.files.emplace_back(layout::mpd);
  }
  for (auto& f : thumbnails) result.files.push_back(std::move(f));
  for (const auto& v : video) result.renditions.push_back(to_result(v));
  if (a) result.renditions.push_back(to_result(*a));
  result.duration_s = duration;
  for (const auto& p : chunks) result.warnings.insert(result.warnings.end(), p.warnings.begin(), p.warnings.end());
  if (whole) result.warnings.insert(result.warnings.end(), whole->warnings.begin(), whole->warnings.end());
  result.publish = "atomic";
  result.files.emplace_back(layout::result);
  json::value doc = to_json(result);
  // The input as the whole-input part probed it (this job never opened it).
  if (whole && whole->input) doc.as_object()["input"] = *whole->input;
  put_manifest(sink, layout::result, to_json_text(doc) + "\n");
}

}  // namespace

error stitch(const plan& p, const stitch_input& parts, const chunk_reader& read, io::package_sink& sink,
             transcode_result& result) {
  result.renditions.clear();
  result.files.clear();
  result.warnings.clear();
  try {
    stitch_into(p, parts, read, sink, result);
    return {};
  } catch (const av::failure& f) {
    result.error_detail = f.message();
    return error(f.code(), f.message());
  } catch (const std::bad_alloc&) {
    result.error_detail = "out of memory";
    return error(errc::out_of_memory, "out of memory while stitching");
  } catch (const std::exception& e) {
    result.error_detail = e.what();
    return error(errc::internal, e.what());
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
