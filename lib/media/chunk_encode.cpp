// One chunk of a chunked job: cut out of the input, then checked and described in chunk.json.
#include <spool/json_text.hpp>
#include <spool/package_layout.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "media/chunk.hpp"
#include "media/package_out.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

// The same reach the encoder uses to give a grid line its keyframe (video_rung.hpp).
double reach(double t, AVRational rate) { return t + 0.5 / av::q2d(rate) + 1e-9; }

// The first output frame slot (frame k at k / rate) whose reach is at or past `t`.
std::int64_t first_slot_at(double t, AVRational rate) {
  const long double r = static_cast<long double>(rate.num) / rate.den;
  auto k = static_cast<std::int64_t>(std::ceil((static_cast<long double>(t) - 1e-9L) * r - 0.5L));
  return std::max<std::int64_t>(0, k);
}

[[noreturn]] void refuse(const chunk_span& c, const std::string& what) {
  av::fail(errc::internal, fmt::format("chunk {} failed its check: {}", c.index, what));
}

boost::json::object describe(const track_info& t, const std::string& init_sha256) {
  boost::json::array segments;
  for (const auto& s : t.segments)
    segments.push_back(boost::json::object{{"start", s.start}, {"duration", s.duration}, {"bytes", s.bytes}});
  boost::json::object o{{"name", t.name},           {"kind", t.video ? "video" : "audio"}, {"codecs", t.codecs},
                        {"timescale", t.timescale}, {"init_bytes", t.init_bytes},          {"init_sha256", init_sha256},
                        {"frames", t.frames},       {"segments", std::move(segments)}};
  if (t.video) {
    o["width"] = t.width;
    o["height"] = t.height;
    o["frame_rate"] = boost::json::array{t.frame_rate.num, t.frame_rate.den};
  } else {
    o["sample_rate"] = t.sample_rate;
    o["channels"] = t.channels;
  }
  return o;
}

// One rung of a video chunk against its span, from the bytes its sink was given.
void check_rung(const chunk_span& c, double segment_s, const track_info& v,
                const std::map<std::int64_t, fragment_summary>& seen) {
  const std::string rung = "rendition " + v.name;
  const auto n = static_cast<std::int64_t>(v.segments.size());
  if (n == 0 || static_cast<std::int64_t>(seen.size()) != n)
    refuse(c, fmt::format("{} wrote {} segments and described {}", rung, seen.size(), n));
  if (seen.begin()->first != c.first_segment + 1 || seen.rbegin()->first != c.first_segment + n)
    refuse(c, fmt::format("{} numbered its segments {}..{}, not from {}", rung, seen.begin()->first,
                          seen.rbegin()->first, c.first_segment + 1));
  const bool last = std::isinf(c.end_s);
  if (!last && n != c.segments) refuse(c, fmt::format("{} has {} segments, its span {}", rung, n, c.segments));
  const double ts = v.timescale;
  const double frame = ts * av::q2d(av_inv_q(v.frame_rate));
  const std::int64_t k_lo = first_slot_at(c.start_s, v.frame_rate);
  // Where the range's first frame lies.
  const double start = static_cast<double>(k_lo) * frame;
  std::int64_t frames = 0, i = 0;
  double at = start;
  for (const auto& [number, s] : seen) {
    const auto& described = v.segments[static_cast<std::size_t>(i)];
    if (!s.starts_with_sync) refuse(c, fmt::format("{} segment {} does not start with a keyframe", rung, number));
    // Each segment opens with the frame of its grid line and follows the last without a gap.
    const double line =
        static_cast<double>(first_slot_at(static_cast<double>(number - 1) * segment_s, v.frame_rate)) * frame;
    if (std::abs(static_cast<double>(s.tfdt) - line) > frame / 2)
      refuse(c, fmt::format("{} segment {} starts at {:.3f} s, off its grid line at {:.3f} s", rung, number,
                            static_cast<double>(s.tfdt) / ts, line / ts));
    if (std::abs(static_cast<double>(s.tfdt) - at) > frame / 2)
      refuse(c, fmt::format("{} segment {} starts at {:.3f} s, not {:.3f} s", rung, number,
                            static_cast<double>(s.tfdt) / ts, at / ts));
    if (std::abs(static_cast<double>(described.start - s.tfdt)) > frame / 2 || described.bytes != s.bytes)
      refuse(c, fmt::format("{} segment {} is not as described", rung, number));
    at = static_cast<double>(s.tfdt + s.duration);
    frames += s.samples;
    ++i;
  }
  if (frames != v.frames) refuse(c, fmt::format("{} wrote {} frames and counted {}", rung, frames, v.frames));
  if (!last) {
    const std::int64_t want = first_slot_at(c.end_s, v.frame_rate) - k_lo;
    if (frames != want)
      refuse(c, fmt::format("{} has {} frames; {:.3f}-{:.3f} s holds {} at {}/{} fps", rung, frames, c.start_s, c.end_s,
                            want, v.frame_rate.num, v.frame_rate.den));
    const double end = static_cast<double>(k_lo + want) * frame;
    if (std::abs(at - end) > frame / 2)
      refuse(c, fmt::format("{} ends at {:.3f} s, its range at {:.3f} s", rung, at / ts, end / ts));
  }
}

}  // namespace

bool chunk_admits(const chunk_span& c, double t, AVRational out_rate) {
  const double r = reach(t, out_rate);
  return r >= c.start_s && r < c.end_s;
}

double chunk_read_end(const chunk_span& c) { return c.end_s + 1.0; }

chunk_seeker::chunk_seeker(AVFormatContext* ctx, int stream, std::int64_t origin, const chunk_span& c,
                           AVRational out_rate)
    : ctx_(ctx),
      stream_(stream),
      origin_(origin),
      start_s_(c.start_s),
      first_frame_s_(static_cast<double>(first_slot_at(c.start_s, out_rate)) * av::q2d(av_inv_q(out_rate))) {
  seek();
}

void chunk_seeker::seek() {
  const AVRational tb = ctx_->streams[stream_]->time_base;
  const double from = std::max(0.0, start_s_ - back_s_);
  const std::int64_t target = origin_ + av_rescale_q(static_cast<std::int64_t>(from * 1000), AVRational{1, 1000}, tb);
  // Unseekable: read from wherever it is (the start), nothing to check.
  const bool moved = avformat_seek_file(ctx_, stream_, INT64_MIN, target, target, 0) >= 0;
  checking_ = moved && from > 0;
}

bool chunk_seeker::accept(double t) {
  if (pending_) return false;
  if (!checking_) return true;
  checking_ = false;
  if (t <= first_frame_s_ + 1e-6) return true;
  pending_ = true;
  return false;
}

void chunk_seeker::reseek(AVCodecContext* dec) {
  pending_ = false;
  back_s_ = back_s_ < 10 ? 10 : back_s_ < 60 ? 60 : start_s_;
  avcodec_flush_buffers(dec);
  seek();
}

error recording_sink::put(std::string_view name, std::span<const std::byte> bytes) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const auto slash = name.rfind('/');
  if (slash != std::string_view::npos) {
    const std::string dir(name.substr(0, slash));
    const std::string_view file = name.substr(slash + 1);
    try {
      std::int64_t number = 0;
      if (file == package_layout::init) {
        record_.init_sha256[dir] = sha256_hex(text);
      } else if (file.starts_with("seg_") && file.ends_with(".m4s") &&
                 std::from_chars(file.data() + 4, file.data() + file.size() - 4, number).ec == std::errc()) {
        auto s = summarize_fragment(text);
        s.bytes = static_cast<std::int64_t>(bytes.size());
        record_.segments[dir][number] = s;
      }
    } catch (const av::failure& f) {
      return error(f.code(), f.message());
    }
  }
  return inner_.put(name, bytes);
}

error validate_chunk(const transcode_options& opt) {
  const chunk_span& c = *opt.chunk;
  if (c.index == whole_input_index) return {};
  const double seg = opt.plan.packaging.segment_s;
  auto bad = [&](const std::string& why) {
    return error(errc::invalid_argument, fmt::format("chunk {} ({:.3f}-{:.3f} s, segments {}+{}): {}", c.index,
                                                     c.start_s, c.end_s, c.first_segment, c.segments, why));
  };
  if (c.index < 0) return bad("a chunk's index is 0 or more (or the whole-input part's)");
  if (c.first_segment < 0 || c.segments < 1) return bad("a chunk is one segment or more");
  if (std::abs(c.start_s - static_cast<double>(c.first_segment) * seg) > 1e-6)
    return bad("it does not start on its first segment's grid line");
  if (!std::isinf(c.end_s) && std::abs(c.end_s - static_cast<double>(c.first_segment + c.segments) * seg) > 1e-6)
    return bad("it does not end on the grid line after its last segment");
  return {};
}

bool whole_input_has_work(const plan& p, const probe_result& probe) {
  return (p.audio.enabled && probe.audio_index >= 0) ||
         ((p.thumbnails.poster || p.thumbnails.storyboard) && probe.video_index >= 0);
}

void finish_chunk(const transcode_options& opt, const chunk_record& seen, const pipeline_output& out,
                  const transcode_result& result, io::package_sink& sink) {
  const chunk_span& c = *opt.chunk;
  auto sha = [&](const track_info& t) {
    auto it = seen.init_sha256.find(t.name);
    if (it == seen.init_sha256.end()) refuse(c, "rendition " + t.name + " wrote no init.mp4");
    return it->second;
  };
  boost::json::array tracks;
  for (const auto& v : out.video) {
    auto it = seen.segments.find(v.name);
    if (it == seen.segments.end()) refuse(c, "rendition " + v.name + " wrote no segment");
    check_rung(c, opt.plan.packaging.segment_s, v, it->second);
    tracks.push_back(describe(v, sha(v)));
  }
  if (c.index >= 0 && out.video.empty()) refuse(c, "no rendition was encoded");
  if (out.audio) {
    auto it = seen.segments.find(out.audio->name);
    if (it == seen.segments.end() || it->second.size() != out.audio->segments.size())
      refuse(c, "the audio track's segments are not as described");
    tracks.push_back(describe(*out.audio, sha(*out.audio)));
  }
  boost::json::array files, warnings;
  for (const auto& f : out.files) files.push_back(boost::json::string(f));
  for (const auto& w : out.warnings)
    warnings.push_back(boost::json::object{{"code", w.code}, {"message", w.message}, {"count", w.count}});
  boost::json::object doc{{"version", 1},
                          {"index", c.index},
                          {"first_segment", c.first_segment},
                          {"segments", c.segments},
                          {"start_s", c.start_s},
                          {"end_s", std::isinf(c.end_s) ? boost::json::value(nullptr) : boost::json::value(c.end_s)},
                          {"tracks", std::move(tracks)},
                          {"files", std::move(files)},
                          {"warnings", std::move(warnings)}};
  if (c.index == whole_input_index) doc["input"] = to_json(result.input);
  put_manifest(sink, chunk_manifest, to_json_text(doc) + "\n");
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
