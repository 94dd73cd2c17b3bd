#include "package_inspect.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/display.h>
#include <libavutil/pixdesc.h>
}

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace fs = std::filesystem;

namespace {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

std::string trim(std::string s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

double to_double(const std::string& s, const std::string& what) {
  try {
    std::size_t used = 0;
    double v = std::stod(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    throw std::runtime_error("bad number for " + what + ": '" + s + "'");
  }
}

std::int64_t to_int(const std::string& s, const std::string& what) {
  try {
    std::size_t used = 0;
    long long v = std::stoll(s, &used);
    if (used != s.size()) throw std::invalid_argument(s);
    return v;
  } catch (const std::exception&) {
    throw std::runtime_error("bad integer for " + what + ": '" + s + "'");
  }
}

}  // namespace

// ---------------------------------------------------------------- files

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file.string());
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

boost::json::value read_json(const fs::path& file) { return boost::json::parse(read_file(file)); }

// ---------------------------------------------------------------- HLS

std::map<std::string, std::string> parse_attribute_list(const std::string& text) {
  std::map<std::string, std::string> out;
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t eq = text.find('=', i);
    if (eq == std::string::npos) throw std::runtime_error("attribute without '=' in '" + text + "'");
    std::string key = trim(text.substr(i, eq - i));
    std::string value;
    std::size_t j = eq + 1;
    if (j < text.size() && text[j] == '"') {
      std::size_t close = text.find('"', j + 1);
      if (close == std::string::npos) throw std::runtime_error("unterminated quote in '" + text + "'");
      value = text.substr(j + 1, close - j - 1);
      j = close + 1;
    } else {
      std::size_t comma = text.find(',', j);
      if (comma == std::string::npos) comma = text.size();
      value = trim(text.substr(j, comma - j));
      j = comma;
    }
    if (key.empty()) throw std::runtime_error("empty attribute name in '" + text + "'");
    out[key] = value;
    if (j < text.size() && text[j] != ',') throw std::runtime_error("junk after attribute in '" + text + "'");
    i = j + 1;
  }
  return out;
}

double media_playlist::total() const {
  double t = 0;
  for (double d : durations) t += d;
  return t;
}

master_playlist parse_master(const fs::path& file) {
  master_playlist m;
  auto lines = lines_of(read_file(file));
  if (lines.empty() || lines[0] != "#EXTM3U") throw std::runtime_error(file.string() + ": first line is not #EXTM3U");
  m.extm3u = true;
  std::optional<hls_variant> pending;
  for (std::size_t n = 1; n < lines.size(); ++n) {
    const std::string line = trim(lines[n]);
    if (line.empty()) continue;
    if (starts_with(line, "#EXT-X-VERSION:")) {
      m.version = static_cast<int>(to_int(line.substr(15), "EXT-X-VERSION"));
    } else if (line == "#EXT-X-INDEPENDENT-SEGMENTS") {
      m.independent_segments = true;
    } else if (starts_with(line, "#EXT-X-MEDIA:")) {
      hls_media media;
      media.attrs = parse_attribute_list(line.substr(13));
      media.type = media.attrs["TYPE"];
      media.group_id = media.attrs["GROUP-ID"];
      media.uri = media.attrs.count("URI") ? media.attrs["URI"] : "";
      m.media.push_back(std::move(media));
    } else if (starts_with(line, "#EXT-X-STREAM-INF:")) {
      if (pending) throw std::runtime_error(file.string() + ": EXT-X-STREAM-INF without URI");
      hls_variant v;
      v.attrs = parse_attribute_list(line.substr(18));
      if (!v.attrs.count("BANDWIDTH")) throw std::runtime_error(file.string() + ": variant without BANDWIDTH");
      v.bandwidth = to_int(v.attrs["BANDWIDTH"], "BANDWIDTH");
      if (v.attrs.count("AVERAGE-BANDWIDTH"))
        v.average_bandwidth = to_int(v.attrs["AVERAGE-BANDWIDTH"], "AVERAGE-BANDWIDTH");
      if (v.attrs.count("RESOLUTION")) {
        const std::string& r = v.attrs["RESOLUTION"];
        auto x = r.find('x');
        if (x == std::string::npos) throw std::runtime_error(file.string() + ": bad RESOLUTION " + r);
        v.width = static_cast<int>(to_int(r.substr(0, x), "RESOLUTION"));
        v.height = static_cast<int>(to_int(r.substr(x + 1), "RESOLUTION"));
      }
      if (v.attrs.count("FRAME-RATE")) v.frame_rate = to_double(v.attrs["FRAME-RATE"], "FRAME-RATE");
      if (v.attrs.count("CODECS")) v.codecs = v.attrs["CODECS"];
      if (v.attrs.count("AUDIO")) v.audio = v.attrs["AUDIO"];
      pending = std::move(v);
    } else if (line[0] == '#') {
      // other tags and comments
    } else {
      if (!pending) throw std::runtime_error(file.string() + ": URI line without EXT-X-STREAM-INF: " + line);
      pending->uri = line;
      m.variants.push_back(std::move(*pending));
      pending.reset();
    }
  }
  if (pending) throw std::runtime_error(file.string() + ": trailing EXT-X-STREAM-INF without URI");
  return m;
}

media_playlist parse_media(const fs::path& file) {
  media_playlist p;
  auto lines = lines_of(read_file(file));
  if (lines.empty() || lines[0] != "#EXTM3U") throw std::runtime_error(file.string() + ": first line is not #EXTM3U");
  p.extm3u = true;
  double pending = 0;
  bool has_pending = false;
  for (std::size_t n = 1; n < lines.size(); ++n) {
    const std::string line = trim(lines[n]);
    if (line.empty()) continue;
    if (p.endlist && line[0] != '#') throw std::runtime_error(file.string() + ": URI after EXT-X-ENDLIST");
    if (starts_with(line, "#EXT-X-VERSION:")) {
      p.version = static_cast<int>(to_int(line.substr(15), "EXT-X-VERSION"));
    } else if (starts_with(line, "#EXT-X-TARGETDURATION:")) {
      p.target_duration = to_double(line.substr(22), "EXT-X-TARGETDURATION");
    } else if (starts_with(line, "#EXT-X-PLAYLIST-TYPE:")) {
      p.playlist_type = line.substr(21);
    } else if (starts_with(line, "#EXT-X-MEDIA-SEQUENCE:")) {
      p.media_sequence = static_cast<int>(to_int(line.substr(22), "EXT-X-MEDIA-SEQUENCE"));
    } else if (starts_with(line, "#EXT-X-MAP:")) {
      auto attrs = parse_attribute_list(line.substr(11));
      p.map_uri = attrs["URI"];
    } else if (starts_with(line, "#EXTINF:")) {
      if (has_pending) throw std::runtime_error(file.string() + ": two EXTINF in a row");
      std::string v = line.substr(8);
      auto comma = v.find(',');
      if (comma != std::string::npos) v = v.substr(0, comma);
      pending = to_double(trim(v), "EXTINF");
      has_pending = true;
    } else if (line == "#EXT-X-ENDLIST") {
      p.endlist = true;
    } else if (line[0] == '#') {
      // other tags
    } else {
      if (!has_pending) throw std::runtime_error(file.string() + ": segment URI without EXTINF: " + line);
      p.durations.push_back(pending);
      p.uris.push_back(line);
      has_pending = false;
    }
  }
  if (has_pending) throw std::runtime_error(file.string() + ": EXTINF without a URI");
  return p;
}

// ---------------------------------------------------------------- DASH

double parse_iso_duration(const std::string& text) {
  if (text.size() < 2 || text[0] != 'P') throw std::runtime_error("bad ISO 8601 duration '" + text + "'");
  double total = 0;
  bool in_time = false;
  std::string number;
  for (std::size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (c == 'T') {
      in_time = true;
    } else if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
      number += c;
    } else {
      if (number.empty()) throw std::runtime_error("bad ISO 8601 duration '" + text + "'");
      double v = to_double(number, "duration");
      number.clear();
      if (c == 'D' && !in_time)
        total += v * 86400;
      else if (c == 'H' && in_time)
        total += v * 3600;
      else if (c == 'M' && in_time)
        total += v * 60;
      else if (c == 'S' && in_time)
        total += v;
      else
        throw std::runtime_error("unsupported ISO 8601 duration '" + text + "'");
    }
  }
  if (!number.empty()) throw std::runtime_error("bad ISO 8601 duration '" + text + "'");
  return total;
}

std::vector<double> mpd_representation::segment_starts() const {
  std::vector<double> out;
  std::int64_t t = 0;
  for (const auto& s : timeline) {
    if (s.has_t) t = s.t;
    for (std::int64_t k = 0; k <= s.r; ++k) {
      out.push_back(static_cast<double>(t) / static_cast<double>(timescale));
      t += s.d;
    }
  }
  return out;
}

double mpd_representation::timeline_duration() const {
  std::int64_t t = 0, first = INT64_MIN;
  for (const auto& s : timeline) {
    if (s.has_t) t = s.t;
    if (first == INT64_MIN) first = t;
    t += s.d * (s.r + 1);
  }
  if (first == INT64_MIN) return 0;
  return static_cast<double>(t - first) / static_cast<double>(timescale);
}

const mpd_representation* mpd_manifest::find(const std::string& id) const {
  for (const auto& as : adaptation_sets)
    for (const auto& r : as.representations)
      if (r.id == id) return &r;
  return nullptr;
}

namespace {

struct xml_tag {
  std::string name;
  std::map<std::string, std::string> attrs;
  bool closing = false, self_closing = false;
};

std::vector<xml_tag> scan_xml(const std::string& text) {
  std::vector<xml_tag> tags;
  std::size_t i = 0;
  while ((i = text.find('<', i)) != std::string::npos) {
    if (text.compare(i, 4, "<!--") == 0) {
      auto e = text.find("-->", i);
      if (e == std::string::npos) throw std::runtime_error("unterminated XML comment");
      i = e + 3;
      continue;
    }
    if (text.compare(i, 2, "<?") == 0) {
      auto e = text.find("?>", i);
      if (e == std::string::npos) throw std::runtime_error("unterminated XML declaration");
      i = e + 2;
      continue;
    }
    // Find the end of the tag, honouring quotes.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < text.size(); ++j) {
      char c = text[j];
      if (quote) {
        if (c == quote) quote = 0;
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      }
    }
    if (j >= text.size()) throw std::runtime_error("unterminated XML tag");
    std::string body = text.substr(i + 1, j - i - 1);
    i = j + 1;
    xml_tag tag;
    if (!body.empty() && body[0] == '/') {
      tag.closing = true;
      tag.name = trim(body.substr(1));
      tags.push_back(std::move(tag));
      continue;
    }
    if (!body.empty() && body.back() == '/') {
      tag.self_closing = true;
      body.pop_back();
    }
    std::size_t k = 0;
    while (k < body.size() && !std::isspace(static_cast<unsigned char>(body[k]))) ++k;
    tag.name = body.substr(0, k);
    // attributes
    while (k < body.size()) {
      while (k < body.size() && std::isspace(static_cast<unsigned char>(body[k]))) ++k;
      if (k >= body.size()) break;
      std::size_t eq = body.find('=', k);
      if (eq == std::string::npos) throw std::runtime_error("XML attribute without value in <" + tag.name + ">");
      std::string key = trim(body.substr(k, eq - k));
      std::size_t q = eq + 1;
      while (q < body.size() && std::isspace(static_cast<unsigned char>(body[q]))) ++q;
      if (q >= body.size() || (body[q] != '"' && body[q] != '\''))
        throw std::runtime_error("unquoted XML attribute " + key + " in <" + tag.name + ">");
      std::size_t close = body.find(body[q], q + 1);
      if (close == std::string::npos) throw std::runtime_error("unterminated XML attribute " + key);
      tag.attrs[key] = body.substr(q + 1, close - q - 1);
      k = close + 1;
    }
    tags.push_back(std::move(tag));
  }
  return tags;
}

void apply_template(mpd_representation& r, const std::map<std::string, std::string>& a) {
  if (a.count("initialization")) r.initialization = a.at("initialization");
  if (a.count("media")) r.media = a.at("media");
  if (a.count("timescale")) r.timescale = to_int(a.at("timescale"), "timescale");
  if (a.count("startNumber")) r.start_number = to_int(a.at("startNumber"), "startNumber");
}

}  // namespace

mpd_manifest parse_mpd(const fs::path& file) {
  mpd_manifest m;
  auto tags = scan_xml(read_file(file));
  std::vector<std::string> stack;
  bool seen_root = false;
  // Templates given at AdaptationSet level, inherited by representations without their own.
  std::vector<mpd_representation> set_templates;
  mpd_representation* timeline_target = nullptr;
  mpd_representation* rep = nullptr;
  mpd_adaptation_set* set = nullptr;

  for (const auto& tag : tags) {
    if (tag.closing) {
      if (stack.empty() || stack.back() != tag.name)
        throw std::runtime_error(file.string() + ": unbalanced </" + tag.name + ">");
      stack.pop_back();
      if (tag.name == "Representation") rep = nullptr;
      if (tag.name == "AdaptationSet") set = nullptr;
      continue;
    }
    if (tag.name == "MPD") {
      if (seen_root) throw std::runtime_error(file.string() + ": two <MPD> elements");
      seen_root = true;
      m.attrs = tag.attrs;
      if (tag.attrs.count("type")) m.type = tag.attrs.at("type");
      if (tag.attrs.count("mediaPresentationDuration")) {
        m.media_presentation_duration = tag.attrs.at("mediaPresentationDuration");
        m.duration_s = parse_iso_duration(m.media_presentation_duration);
      }
    } else if (tag.name == "AdaptationSet") {
      m.adaptation_sets.emplace_back();
      set_templates.emplace_back();
      set = &m.adaptation_sets.back();
      set->attrs = tag.attrs;
      if (tag.attrs.count("contentType"))
        set->content_type = tag.attrs.at("contentType");
      else if (tag.attrs.count("mimeType"))
        set->content_type = tag.attrs.at("mimeType").substr(0, tag.attrs.at("mimeType").find('/'));
    } else if (tag.name == "Representation") {
      if (!set) throw std::runtime_error(file.string() + ": Representation outside an AdaptationSet");
      set->representations.emplace_back();
      rep = &set->representations.back();
      rep->attrs = tag.attrs;
      auto get = [&](const char* k) { return tag.attrs.count(k) ? tag.attrs.at(k) : std::string(); };
      rep->id = get("id");
      rep->codecs = get("codecs");
      if (rep->codecs.empty() && set->attrs.count("codecs")) rep->codecs = set->attrs.at("codecs");
      rep->mime_type = get("mimeType");
      if (rep->mime_type.empty() && set->attrs.count("mimeType")) rep->mime_type = set->attrs.at("mimeType");
      if (!get("bandwidth").empty()) rep->bandwidth = to_int(get("bandwidth"), "bandwidth");
      if (!get("width").empty()) rep->width = static_cast<int>(to_int(get("width"), "width"));
      if (!get("height").empty()) rep->height = static_cast<int>(to_int(get("height"), "height"));
      if (set->content_type.empty() && !rep->mime_type.empty())
        set->content_type = rep->mime_type.substr(0, rep->mime_type.find('/'));
    } else if (tag.name == "SegmentTemplate") {
      if (rep) {
        apply_template(*rep, tag.attrs);
        timeline_target = rep;
      } else if (set) {
        apply_template(set_templates.back(), tag.attrs);
        timeline_target = &set_templates.back();
      }
    } else if (tag.name == "S") {
      if (!timeline_target) throw std::runtime_error(file.string() + ": <S> outside a SegmentTemplate");
      mpd_segment_run s;
      if (tag.attrs.count("t")) {
        s.t = to_int(tag.attrs.at("t"), "S@t");
        s.has_t = true;
      }
      if (!tag.attrs.count("d")) throw std::runtime_error(file.string() + ": <S> without d");
      s.d = to_int(tag.attrs.at("d"), "S@d");
      if (tag.attrs.count("r")) s.r = to_int(tag.attrs.at("r"), "S@r");
      timeline_target->timeline.push_back(s);
    }
    if (!tag.self_closing) stack.push_back(tag.name);
  }
  if (!stack.empty()) throw std::runtime_error(file.string() + ": unclosed <" + stack.back() + ">");
  if (!seen_root) throw std::runtime_error(file.string() + ": no <MPD> element");
  for (std::size_t i = 0; i < m.adaptation_sets.size(); ++i) {
    const auto& t = set_templates[i];
    for (auto& r : m.adaptation_sets[i].representations) {
      if (r.media.empty()) r.media = t.media;
      if (r.initialization.empty()) r.initialization = t.initialization;
      if (r.timeline.empty()) {
        r.timeline = t.timeline;
        r.timescale = t.timescale;
        r.start_number = t.start_number;
      }
    }
  }
  return m;
}

// ---------------------------------------------------------------- decoding

namespace {

struct memory_reader {
  std::string data;
  std::int64_t pos = 0;

  static int read(void* opaque, uint8_t* buf, int size) {
    auto* self = static_cast<memory_reader*>(opaque);
    std::int64_t left = static_cast<std::int64_t>(self->data.size()) - self->pos;
    if (left <= 0) return AVERROR_EOF;
    int n = static_cast<int>(std::min<std::int64_t>(left, size));
    std::memcpy(buf, self->data.data() + self->pos, static_cast<std::size_t>(n));
    self->pos += n;
    return n;
  }
  static int64_t seek(void* opaque, int64_t offset, int whence) {
    auto* self = static_cast<memory_reader*>(opaque);
    const auto size = static_cast<std::int64_t>(self->data.size());
    if (whence & AVSEEK_SIZE) return size;
    switch (whence & ~AVSEEK_FORCE) {
      case SEEK_SET: break;
      case SEEK_CUR: offset += self->pos; break;
      case SEEK_END: offset += size; break;
      default: return AVERROR(EINVAL);
    }
    if (offset < 0 || offset > size) return AVERROR(EINVAL);
    self->pos = offset;
    return offset;
  }
};

struct format_closer {
  void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct codec_closer {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct frame_closer {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct packet_closer {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct avio_closer {
  void operator()(AVIOContext* io) const {
    if (!io) return;
    av_freep(&io->buffer);
    avio_context_free(&io);
  }
};

struct packet_info {
  bool key = false;
  int segment = -1;
  double duration = 0;
};

/// Decodes the first stream of an opened input. `segment_ends` (the end offset of the init segment,
/// then of each media segment) attributes packets to segments; empty for plain files.
decoded_track decode_opened(AVFormatContext* fmt, const std::vector<std::int64_t>& segment_ends,
                            const std::string& what, std::int64_t dts_shift = 0, int stream = 0) {
  int ret = avformat_find_stream_info(fmt, nullptr);
  if (ret < 0) throw std::runtime_error(what + ": find_stream_info: " + av_error_text(ret));
  if (stream < 0 || static_cast<unsigned>(stream) >= fmt->nb_streams)
    throw std::runtime_error(what + ": no such stream");
  AVStream* st = fmt->streams[stream];
  const AVCodec* dec = avcodec_find_decoder(st->codecpar->codec_id);
  if (!dec) throw std::runtime_error(what + ": no decoder");
  std::unique_ptr<AVCodecContext, codec_closer> ctx(avcodec_alloc_context3(dec));
  avcodec_parameters_to_context(ctx.get(), st->codecpar);
  ctx->pkt_timebase = st->time_base;
  ctx->thread_count = 1;
  ret = avcodec_open2(ctx.get(), dec, nullptr);
  if (ret < 0) throw std::runtime_error(what + ": open decoder: " + av_error_text(ret));

  decoded_track t;
  t.codec = dec->name;
  t.codec_id = avcodec_get_name(st->codecpar->codec_id);
  t.type = av_get_media_type_string(st->codecpar->codec_type) ? av_get_media_type_string(st->codecpar->codec_type) : "";
  t.avg_frame_rate = st->avg_frame_rate.den ? av_q2d(st->avg_frame_rate) : 0;
  t.r_frame_rate = st->r_frame_rate.den ? av_q2d(st->r_frame_rate) : 0;
  {
    std::size_t size = 0;
    const uint8_t* sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, &size);
    if (sd && size >= 9 * sizeof(int32_t)) {
      const auto* matrix = reinterpret_cast<const int32_t*>(sd);
      static const int32_t identity[9] = {1 << 16, 0, 0, 0, 1 << 16, 0, 0, 0, 1 << 30};
      t.rotation_side_data = std::memcmp(matrix, identity, sizeof identity) != 0;
      t.rotation = av_display_rotation_get(matrix);
    }
  }

  const double tb = av_q2d(st->time_base);
  std::map<std::int64_t, packet_info> packets;  // by pts
  std::unique_ptr<AVPacket, packet_closer> pkt(av_packet_alloc());
  std::unique_ptr<AVFrame, frame_closer> frame(av_frame_alloc());
  std::vector<std::pair<std::int64_t, double>> raw_frames;  // pts, audio duration
  const std::size_t nseg = segment_ends.empty() ? 0 : segment_ends.size() - 1;
  t.segments.resize(nseg);
  std::vector<bool> seg_seen(nseg, false);
  std::vector<std::int64_t> seg_min_pts(nseg, INT64_MAX);

  auto receive = [&]() {
    for (;;) {
      int r = avcodec_receive_frame(ctx.get(), frame.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      if (r < 0) throw std::runtime_error(what + ": decode: " + av_error_text(r));
      std::int64_t pts = frame->best_effort_timestamp;
      if (pts == AV_NOPTS_VALUE) pts = frame->pts;
      double dur = 0;
      if (st->codecpar->codec_type == AVMEDIA_TYPE_VIDEO) {
        t.width = frame->width;
        t.height = frame->height;
        const char* pf = av_get_pix_fmt_name(static_cast<AVPixelFormat>(frame->format));
        t.pix_fmt = pf ? pf : "";
        if (frame->interlaced_frame) t.any_interlaced_frame = true;
      } else if (st->codecpar->codec_type == AVMEDIA_TYPE_AUDIO) {
        t.sample_rate = frame->sample_rate;
        t.channels = frame->ch_layout.nb_channels;
        t.samples += frame->nb_samples;
        dur = frame->sample_rate > 0 ? static_cast<double>(frame->nb_samples) / frame->sample_rate : 0;
      }
      raw_frames.emplace_back(pts, dur);
      av_frame_unref(frame.get());
    }
  };

  for (;;) {
    ret = av_read_frame(fmt, pkt.get());
    if (ret == AVERROR_EOF) break;
    if (ret < 0) throw std::runtime_error(what + ": read: " + av_error_text(ret));
    if (pkt->stream_index != stream) {
      av_packet_unref(pkt.get());
      continue;
    }
    packet_info info;
    info.key = (pkt->flags & AV_PKT_FLAG_KEY) != 0;
    info.duration = static_cast<double>(pkt->duration) * tb;
    if (nseg > 0 && pkt->pos >= 0) {
      auto it = std::upper_bound(segment_ends.begin(), segment_ends.end(), pkt->pos);
      int idx = static_cast<int>(it - segment_ends.begin()) - 1;  // -1 = inside init.mp4
      if (idx >= 0 && static_cast<std::size_t>(idx) < nseg) {
        info.segment = idx;
        auto& seg = t.segments[static_cast<std::size_t>(idx)];
        if (!seg_seen[static_cast<std::size_t>(idx)]) {
          seg_seen[static_cast<std::size_t>(idx)] = true;
          seg.starts_with_key = info.key;
        }
        seg.frames++;
        if (pkt->pts != AV_NOPTS_VALUE)
          seg_min_pts[static_cast<std::size_t>(idx)] = std::min(seg_min_pts[static_cast<std::size_t>(idx)], pkt->pts);
      }
    }
    if (pkt->pts != AV_NOPTS_VALUE) packets[pkt->pts] = info;
    ret = avcodec_send_packet(ctx.get(), pkt.get());
    av_packet_unref(pkt.get());
    if (ret < 0 && ret != AVERROR(EAGAIN)) throw std::runtime_error(what + ": send packet: " + av_error_text(ret));
    receive();
  }
  avcodec_send_packet(ctx.get(), nullptr);
  receive();

  std::sort(raw_frames.begin(), raw_frames.end());
  for (auto [pts, dur] : raw_frames) {
    decoded_frame f;
    f.pts = pts == AV_NOPTS_VALUE ? 0 : static_cast<double>(pts - dts_shift) * tb;
    f.duration = dur;
    auto it = packets.find(pts);
    if (it != packets.end()) {
      f.key = it->second.key;
      f.segment = it->second.segment;
      if (st->codecpar->codec_type != AVMEDIA_TYPE_AUDIO) f.duration = it->second.duration;
    }
    t.frames.push_back(f);
  }
  for (std::size_t i = 0; i < nseg; ++i) {
    t.segments[i].bytes = segment_ends[i + 1] - segment_ends[i];
    t.segments[i].first_pts = seg_min_pts[i] == INT64_MAX ? -1 : static_cast<double>(seg_min_pts[i] - dts_shift) * tb;
  }
  return t;
}

std::uint32_t be32(const std::string& b, std::size_t at) {
  auto u = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])); };
  return (u(0) << 24) | (u(1) << 16) | (u(2) << 8) | u(3);
}

// The largest negative composition offset in version-1 trun boxes, in track ticks. ISO/IEC
// 14496-12 defines presentation time as decode time + the (signed) offset; FFmpeg 5.1's mov
// demuxer instead adds this amount to every pts to keep pts >= dts. Subtracting it again gives the
// presentation times the file states (and that browsers' MSE, hls.js and Safari use).
std::int64_t negative_cts_shift(const std::string& b) {
  std::int64_t shift = 0;
  std::function<void(std::size_t, std::size_t)> walk = [&](std::size_t off, std::size_t end) {
    while (off + 8 <= end) {
      std::size_t size = be32(b, off);
      if (size < 8 || off + size > end) return;
      std::string type = b.substr(off + 4, 4);
      if (type == "moof" || type == "traf") walk(off + 8, off + size);
      if (type == "trun" && static_cast<unsigned char>(b[off + 8]) == 1) {
        std::uint32_t flags = be32(b, off + 8) & 0xffffff;
        std::uint32_t count = be32(b, off + 12);
        if (flags & 0x800) {
          std::size_t q = off + 16 + ((flags & 0x1) ? 4 : 0) + ((flags & 0x4) ? 4 : 0);
          std::size_t per =
              4u * (((flags & 0x100) ? 1u : 0u) + ((flags & 0x200) ? 1u : 0u) + ((flags & 0x400) ? 1u : 0u) + 1u);
          for (std::uint32_t i = 0; i < count && q + per * (i + 1) <= off + size; ++i) {
            auto cts = static_cast<std::int32_t>(be32(b, q + per * i + per - 4));
            shift = std::max<std::int64_t>(shift, -static_cast<std::int64_t>(cts));
          }
        }
      }
      off += size;
    }
  };
  walk(0, b.size());
  return shift;
}

}  // namespace

double decoded_track::first_pts() const { return frames.empty() ? 0 : frames.front().pts; }

double decoded_track::end_time() const {
  if (frames.empty()) return 0;
  return frames.back().pts + frames.back().duration;
}

std::vector<double> decoded_track::keyframe_times() const {
  std::vector<double> out;
  for (const auto& f : frames)
    if (f.key) out.push_back(f.pts);
  return out;
}

decoded_track decode_fragments(const fs::path& init, const std::vector<fs::path>& segments) {
  auto reader = std::make_unique<memory_reader>();
  reader->data = read_file(init);
  // seg_ends[i] .. seg_ends[i + 1] are the bytes of segment i; seg_ends[0] is the end of init.mp4.
  std::vector<std::int64_t> seg_ends{static_cast<std::int64_t>(reader->data.size())};
  for (const auto& s : segments) {
    reader->data += read_file(s);
    seg_ends.push_back(static_cast<std::int64_t>(reader->data.size()));
  }
  const std::size_t buf_size = 1 << 16;
  auto* buf = static_cast<uint8_t*>(av_malloc(buf_size));
  std::unique_ptr<AVIOContext, avio_closer> io(avio_alloc_context(buf, static_cast<int>(buf_size), 0, reader.get(),
                                                                  &memory_reader::read, nullptr, &memory_reader::seek));
  if (!io) throw std::runtime_error("avio_alloc_context failed");
  AVFormatContext* raw = avformat_alloc_context();
  raw->pb = io.get();
  raw->flags |= AVFMT_FLAG_CUSTOM_IO;
  const AVInputFormat* mov = av_find_input_format("mp4");
  int ret = avformat_open_input(&raw, nullptr, mov, nullptr);
  if (ret < 0) throw std::runtime_error(init.string() + " + segments: open: " + av_error_text(ret));
  std::unique_ptr<AVFormatContext, format_closer> fmt(raw);
  return decode_opened(fmt.get(), seg_ends, init.parent_path().string(), negative_cts_shift(reader->data));
}

decoded_track decode_rendition(const fs::path& dir) {
  auto pl = parse_media(dir / "index.m3u8");
  if (pl.map_uri.empty()) throw std::runtime_error(dir.string() + ": playlist has no EXT-X-MAP");
  std::vector<fs::path> segs;
  for (const auto& u : pl.uris) segs.push_back(dir / u);
  return decode_fragments(dir / pl.map_uri, segs);
}

decoded_track decode_file(const fs::path& file, int stream) {
  AVFormatContext* raw = nullptr;
  int ret = avformat_open_input(&raw, file.c_str(), nullptr, nullptr);
  if (ret < 0) throw std::runtime_error(file.string() + ": open: " + av_error_text(ret));
  std::unique_ptr<AVFormatContext, format_closer> fmt(raw);
  return decode_opened(fmt.get(), {}, file.string(), 0, stream);
}

std::vector<std::int64_t> segment_sizes(const fs::path& dir, const media_playlist& pl) {
  std::vector<std::int64_t> out;
  for (const auto& u : pl.uris) out.push_back(static_cast<std::int64_t>(fs::file_size(dir / u)));
  return out;
}

// ---------------------------------------------------------------- ISO BMFF boxes

namespace {

struct box {
  std::string type;
  std::size_t body = 0, end = 0;  ///< payload [body, end) within the buffer
};

std::uint64_t be64(const std::string& b, std::size_t at) {
  return (static_cast<std::uint64_t>(be32(b, at)) << 32) | be32(b, at + 4);
}

std::vector<box> children(const std::string& b, std::size_t from, std::size_t to, const std::string& where) {
  std::vector<box> out;
  std::size_t off = from;
  while (off < to) {
    if (off + 8 > to) throw std::runtime_error(where + ": truncated box header at " + std::to_string(off));
    std::uint64_t size = be32(b, off);
    std::size_t header = 8;
    if (size == 1) {
      if (off + 16 > to) throw std::runtime_error(where + ": truncated large box header");
      size = be64(b, off + 8);
      header = 16;
    } else if (size == 0) {
      size = to - off;  // extends to the end
    }
    if (size < header || off + size > to)
      throw std::runtime_error(where + ": box size out of range at " + std::to_string(off));
    out.push_back({b.substr(off + 4, 4), off + header, static_cast<std::size_t>(off + size)});
    off += static_cast<std::size_t>(size);
  }
  return out;
}

box child(const std::string& b, const box& parent, const std::string& type, const std::string& where) {
  for (const auto& k : children(b, parent.body, parent.end, where))
    if (k.type == type) return k;
  throw std::runtime_error(where + ": no " + type + " inside " + parent.type);
}

box find_path(const std::string& b, const std::vector<std::string>& path, const std::string& where) {
  box cur{"file", 0, b.size()};
  for (const auto& type : path) cur = child(b, cur, type, where);
  return cur;
}

void need(const box& x, std::size_t bytes, const std::string& where) {
  if (x.end - x.body < bytes) throw std::runtime_error(where + ": " + x.type + " too short");
}

}  // namespace

init_boxes read_init_boxes(const fs::path& init) {
  const std::string b = read_file(init);
  const std::string where = init.string();
  init_boxes out;
  box stsd = find_path(b, {"moov", "trak", "mdia", "minf", "stbl", "stsd"}, where);
  need(stsd, 8, where);  // version/flags, entry_count
  if (be32(b, stsd.body + 4) < 1) throw std::runtime_error(where + ": stsd has no entry");
  auto entries = children(b, stsd.body + 8, stsd.end, where);
  if (entries.empty()) throw std::runtime_error(where + ": stsd has no entry box");
  out.sample_entry = entries.front().type;
  box mdhd = find_path(b, {"moov", "trak", "mdia", "mdhd"}, where);
  need(mdhd, 24, where);
  const bool v1 = static_cast<unsigned char>(b[mdhd.body]) == 1;
  if (v1) need(mdhd, 32, where);
  out.timescale = be32(b, mdhd.body + (v1 ? 20 : 12));
  // A fragmented file's defaults; a plain MP4 (the progressive one) has none.
  for (const auto& top : children(b, 0, b.size(), where))
    if (top.type == "moov")
      for (const auto& m : children(b, top.body, top.end, where))
        if (m.type == "mvex") {
          box trex = child(b, m, "trex", where);
          need(trex, 24, where);
          out.default_duration = be32(b, trex.body + 12);
        }
  return out;
}

std::int64_t fragment_duration(const fs::path& segment, const init_boxes& init) {
  const std::string b = read_file(segment);
  const std::string where = segment.string();
  std::int64_t total = 0;
  int fragments = 0;
  for (const auto& moof : children(b, 0, b.size(), where)) {
    if (moof.type != "moof") continue;
    ++fragments;
    for (const auto& traf : children(b, moof.body, moof.end, where)) {
      if (traf.type != "traf") continue;
      const auto kids = children(b, traf.body, traf.end, where);
      std::int64_t default_duration = init.default_duration;
      for (const auto& k : kids) {
        if (k.type != "tfhd") continue;
        need(k, 8, where);
        const std::uint32_t flags = be32(b, k.body) & 0xffffff;
        std::size_t q = k.body + 8;  // after version/flags and track_ID
        if (flags & 0x01) q += 8;    // base_data_offset
        if (flags & 0x02) q += 4;    // sample_description_index
        if (flags & 0x08) {
          if (q + 4 > k.end) throw std::runtime_error(where + ": tfhd too short");
          default_duration = be32(b, q);
        }
      }
      for (const auto& k : kids) {
        if (k.type != "trun") continue;
        need(k, 8, where);
        const std::uint32_t flags = be32(b, k.body) & 0xffffff;
        const std::uint32_t count = be32(b, k.body + 4);
        std::size_t q = k.body + 8;
        if (flags & 0x01) q += 4;  // data_offset
        if (flags & 0x04) q += 4;  // first_sample_flags
        const std::size_t per = 4u * (((flags & 0x100) ? 1u : 0u) + ((flags & 0x200) ? 1u : 0u) +
                                      ((flags & 0x400) ? 1u : 0u) + ((flags & 0x800) ? 1u : 0u));
        if (q + per * count > k.end) throw std::runtime_error(where + ": trun shorter than its sample count");
        for (std::uint32_t i = 0; i < count; ++i) total += (flags & 0x100) ? be32(b, q + per * i) : default_duration;
      }
    }
  }
  if (fragments == 0) throw std::runtime_error(where + ": no moof");
  return total;
}

std::vector<std::string> box_paths(const fs::path& file, int depth) {
  const std::string b = read_file(file);
  std::vector<std::string> out;
  std::function<void(std::size_t, std::size_t, const std::string&, int)> walk = [&](std::size_t from, std::size_t to,
                                                                                    const std::string& prefix, int d) {
    for (const auto& x : children(b, from, to, file.string())) {
      out.push_back(prefix + x.type);
      bool container = x.type == "moov" || x.type == "trak" || x.type == "mdia" || x.type == "minf" ||
                       x.type == "stbl" || x.type == "moof" || x.type == "traf" || x.type == "mvex";
      if (d > 1 && container) walk(x.body, x.end, prefix + x.type + "/", d - 1);
    }
  };
  walk(0, b.size(), "", depth);
  return out;
}

// ---------------------------------------------------------------- WebVTT

namespace {
double parse_vtt_time(const std::string& s) {
  // [hh:]mm:ss.ttt
  std::vector<std::string> parts;
  std::string cur;
  for (char c : s) {
    if (c == ':') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  parts.push_back(cur);
  if (parts.size() < 2 || parts.size() > 3) throw std::runtime_error("bad WebVTT timestamp '" + s + "'");
  if (parts.back().find('.') == std::string::npos) throw std::runtime_error("bad WebVTT timestamp '" + s + "'");
  double t = 0;
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) t = t * 60 + static_cast<double>(to_int(parts[i], "WebVTT time"));
  return t * 60 + to_double(parts.back(), "WebVTT time");
}
}  // namespace

std::vector<vtt_cue> parse_vtt(const fs::path& file) {
  std::string text = read_file(file);
  if (text.compare(0, 3, "\xEF\xBB\xBF") == 0) text.erase(0, 3);
  auto lines = lines_of(text);
  if (lines.empty() || lines[0].rfind("WEBVTT", 0) != 0) throw std::runtime_error(file.string() + ": no WEBVTT header");
  std::vector<vtt_cue> cues;
  for (std::size_t n = 1; n < lines.size(); ++n) {
    const std::string& line = lines[n];
    auto arrow = line.find("-->");
    if (arrow == std::string::npos) continue;  // blank lines, cue identifiers, NOTE blocks
    vtt_cue cue;
    cue.start = parse_vtt_time(trim(line.substr(0, arrow)));
    std::string rest = trim(line.substr(arrow + 3));
    auto space = rest.find(' ');  // cue settings
    cue.end = parse_vtt_time(rest.substr(0, space));
    std::string payload;
    while (n + 1 < lines.size() && !trim(lines[n + 1]).empty()) {
      if (!payload.empty()) payload += "\n";
      payload += trim(lines[++n]);
    }
    cue.payload = payload;
    auto hash = payload.find('#');
    cue.file = payload.substr(0, hash);
    if (hash != std::string::npos) {
      auto frag = payload.substr(hash + 1);
      if (frag.rfind("xywh=", 0) == 0) {
        int v[4] = {-1, -1, -1, -1};
        std::istringstream in(frag.substr(5));
        std::string item;
        for (int i = 0; i < 4 && std::getline(in, item, ','); ++i) v[i] = static_cast<int>(to_int(trim(item), "xywh"));
        cue.x = v[0];
        cue.y = v[1];
        cue.w = v[2];
        cue.h = v[3];
      }
    }
    cues.push_back(std::move(cue));
  }
  return cues;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
