#include "media/segmenter.hpp"

#include <spool/package_layout.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <utility>

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

double track_info::duration_s() const {
  if (segments.empty()) return 0;
  const auto& last = segments.back();
  return static_cast<double>(last.start + last.duration - segments.front().start) / timescale;
}

std::int64_t track_info::bytes() const {
  std::int64_t b = init_bytes;
  for (const auto& s : segments) b += s.bytes;
  return b;
}

namespace {

// Bits per second of `bytes` over `ticks` at `timescale`, rounded up; one formula for the peak and
// the average, so a single window gives both the same number. Long double: no product overflows.
std::int64_t rate_of(std::int64_t bytes, std::int64_t ticks, int timescale) {
  if (ticks <= 0) return 0;
  long double r = std::ceil(static_cast<long double>(bytes) * 8 * timescale / ticks);
  return r >= 9.2e18L ? INT64_MAX : static_cast<std::int64_t>(r);
}

}  // namespace

std::int64_t track_info::avg_bitrate() const {
  std::int64_t bytes = 0, ticks = 0;
  for (const auto& s : segments) {
    bytes += s.bytes;
    ticks += s.duration;
  }
  return rate_of(bytes, ticks, timescale);
}

std::int64_t track_info::target_duration_s() const {
  std::int64_t longest = 0;
  for (const auto& s : segments) longest = std::max(longest, s.duration);
  return timescale > 0 ? longest / timescale + (longest % timescale != 0 ? 1 : 0) : 0;
}

std::int64_t track_info::peak_bitrate() const {
  auto rate = [&](std::int64_t bytes, std::int64_t ticks) { return rate_of(bytes, ticks, timescale); };
  const std::int64_t target = target_duration_s() * timescale;
  std::int64_t peak = -1;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    std::int64_t ticks = 0, bytes = 0;
    for (std::size_t j = i; j < segments.size(); ++j) {
      ticks += segments[j].duration;
      bytes += segments[j].bytes;
      if (2 * ticks > 3 * target) break;
      if (2 * ticks >= target && ticks > 0) peak = std::max(peak, rate(bytes, ticks));
    }
  }
  if (peak >= 0) return peak;
  std::int64_t ticks = 0, bytes = 0;
  for (const auto& s : segments) {
    ticks += s.duration;
    bytes += s.bytes;
  }
  return ticks > 0 ? rate(bytes, ticks) : 0;
}

int cmaf_writer::write_cb(void* opaque, std::uint8_t* buf, int size) {
  auto* self = static_cast<cmaf_writer*>(opaque);
  // A segment is held in memory until it is complete: its boxes are patched before it is written.
  try {
    self->buf_.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
  } catch (...) {
    if (!self->pending_) self->pending_ = std::current_exception();
    return AVERROR(ENOMEM);
  }
  return size;
}

void cmaf_writer::rethrow_pending() {
  if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
}

cmaf_writer::cmaf_writer(track_output out, const AVCodecContext* enc, double segment_s, track_info& info)
    : out_(std::move(out)), info_(info), enc_tb_(enc->time_base) {
  try {
    open(enc, segment_s);
  } catch (...) {
    release();  // a constructor that throws gets no destructor call
    throw;
  }
}

void cmaf_writer::open(const AVCodecContext* enc, double segment_s) {
  info_.timescale = enc->codec_type == AVMEDIA_TYPE_AUDIO ? enc->sample_rate : 90000;
  seg_len_ = static_cast<std::int64_t>(std::llround(segment_s * info_.timescale));
  info_.codecs = codecs_string(enc);

  av::check(avformat_alloc_output_context2(&ctx_, nullptr, "mp4", nullptr), "cannot create the mp4 muxer");
  AVStream* st = avformat_new_stream(ctx_, nullptr);
  if (!st) throw std::bad_alloc();
  av::check(avcodec_parameters_from_context(st->codecpar, enc), "cannot set the track's parameters");
  st->codecpar->codec_tag = sample_entry_tag(enc->codec_id);
  st->time_base = AVRational{1, info_.timescale};
  if (enc->codec_type == AVMEDIA_TYPE_VIDEO) st->avg_frame_rate = enc->framerate;

  constexpr int buffer_size = 1 << 16;
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(buffer_size));
  if (!buffer) throw std::bad_alloc();
  pb_ = avio_alloc_context(buffer, buffer_size, 1, this, nullptr, &write_cb, nullptr);
  if (!pb_) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  ctx_->pb = pb_;
  ctx_->flags |= AVFMT_FLAG_CUSTOM_IO;

  AVDictionary* opts = nullptr;
  // One fragment per segment, cut when we say. The moov waits for the first fragment (delay_moov),
  // then init_size() splits that first flush into init.mp4 and segment 1.
  av_dict_set(&opts, "movflags", "frag_custom+delay_moov+default_base_moof+cmaf+skip_trailer+negative_cts_offsets", 0);
  int r = avformat_write_header(ctx_, &opts);
  if (r < 0 || pending_) av_dict_free(&opts);
  rethrow_pending();
  check_own(r, "cannot start the track");
  require_consumed(opts, "the mp4 muxer");
}

namespace {

std::uint32_t rd32(const char* p) {
  auto* b = reinterpret_cast<const std::uint8_t*>(p);
  return (std::uint32_t(b[0]) << 24) | (std::uint32_t(b[1]) << 16) | (std::uint32_t(b[2]) << 8) | b[3];
}
void wr32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((v >> (24 - 8 * i)) & 0xff);
}

// Calls f(type, offset, size) for each box directly inside [off, end).
template <class F>
void for_each_box(std::string& b, std::size_t off, std::size_t end, F&& f) {
  while (off + 8 <= end) {
    std::uint64_t size = rd32(b.data() + off);
    if (size == 1 && off + 16 <= end)
      size = (std::uint64_t(rd32(b.data() + off + 8)) << 32) | rd32(b.data() + off + 12);
    if (size < 8 || off + size > end) av::fail(errc::internal, "the muxer wrote a malformed box");
    f(std::string_view(b.data() + off + 4, 4), off, static_cast<std::size_t>(size));
    off += size;
  }
}

}  // namespace

// movenc starts every track's decode time at zero; with negative_cts_offsets it already removes the
// encoder's reorder delay from the composition offsets (trun version 1). Each fragment's tfdt is moved
// so that presentation time (tfdt + offset, ISO/IEC 14496-12) is the encoder's own pts: a track that
// starts later than zero keeps its place against the others.
void cmaf_writer::patch_fragments(std::string& b) {
  for_each_box(b, 0, b.size(), [&](std::string_view type, std::size_t off, std::size_t size) {
    if (type != "moof") return;
    for_each_box(b, off + 8, off + size, [&](std::string_view t2, std::size_t o2, std::size_t s2) {
      if (t2 != "traf") return;
      for_each_box(b, o2 + 8, o2 + s2, [&](std::string_view t3, std::size_t o3, std::size_t) {
        char* p = b.data() + o3 + 8;
        if (t3 == "tfdt") {
          bool v1 = p[0] == 1;
          std::int64_t written = v1 ? static_cast<std::int64_t>((std::uint64_t(rd32(p + 4)) << 32) | rd32(p + 8))
                                    : static_cast<std::int64_t>(rd32(p + 4));
          if (tfdt_shift_ == AV_NOPTS_VALUE) tfdt_shift_ = first_dts_ + delay_ + pres_offset_ - written;
          std::int64_t real = std::max<std::int64_t>(0, written + tfdt_shift_);
          if (v1) {
            wr32(p + 4, static_cast<std::uint32_t>(static_cast<std::uint64_t>(real) >> 32));
            wr32(p + 8, static_cast<std::uint32_t>(real));
          } else {
            wr32(p + 4, static_cast<std::uint32_t>(real));
          }
        }
      });
    });
  });
}

// The first flush holds ftyp + moov + the first fragment: the boxes before the first moof/styp
// become init.mp4, the rest the first segment.
std::size_t cmaf_writer::init_size() {
  std::size_t init = std::string::npos;
  for_each_box(buf_, 0, buf_.size(), [&](std::string_view type, std::size_t o, std::size_t) {
    if (init == std::string::npos && (type == "moof" || type == "styp" || type == "sidx")) init = o;
  });
  if (init == std::string::npos) av::fail(errc::internal, "the muxer wrote no fragment");
  return init;
}

cmaf_writer::~cmaf_writer() { release(); }

void cmaf_writer::release() noexcept {
  if (ctx_) avformat_free_context(std::exchange(ctx_, nullptr));
  if (pb_) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
}

void cmaf_writer::open_segment() { in_segment_ = true; }

// Flushes the current fragment into buf_.
void cmaf_writer::flush_fragment() {
  int r = av_write_frame(ctx_, nullptr);
  avio_flush(pb_);
  rethrow_pending();
  check_own(r, "cannot write a segment");
}

void cmaf_writer::close_segment(std::int64_t end) {
  flush_fragment();
  std::size_t seg_from = 0;
  if (info_.segments.empty()) {
    // The first flush of a delayed moov writes only ftyp + moov; the second the fragment itself.
    flush_fragment();
    seg_from = init_size();
    out_.put(package_layout::init, std::string_view(buf_.data(), seg_from));
    info_.init_bytes = static_cast<std::int64_t>(seg_from);
  }
  buf_.erase(0, seg_from);  // in place: a segment can be megabytes, and the buffer is reused
  patch_fragments(buf_);
  out_.put(package_layout::segment_file(static_cast<std::size_t>(out_.first_number) + info_.segments.size() + 1), buf_);
  const auto bytes = static_cast<std::int64_t>(buf_.size());
  buf_.clear();
  info_.segments.push_back({seg_start_ + pres_offset_, end - seg_start_, bytes});
  in_segment_ = false;
  if (out_.segment_done) out_.segment_done(info_);
}

void cmaf_writer::write(AVPacket* pkt) {
  AVRational tb{1, info_.timescale};
  av_packet_rescale_ts(pkt, enc_tb_, tb);
  pkt->stream_index = 0;
  std::int64_t pts = pkt->pts != AV_NOPTS_VALUE ? pkt->pts : pkt->dts;
  bool video = info_.video;
  if (seg_start_ == AV_NOPTS_VALUE) {
    seg_start_ = pts;
    next_cut_ = (pts / seg_len_ + 1) * seg_len_;
    const auto first = static_cast<std::int64_t>(std::llround(out_.first_segment_s * info_.timescale));
    if (first > 0 && pts < first && first < next_cut_) next_cut_ = first;
    first_dts_ = pkt->dts != AV_NOPTS_VALUE ? pkt->dts : pts;
    delay_ = pts - first_dts_;
    // A track cannot start before zero: AAC's priming packet (pts -1024) moves the track later.
    pres_offset_ = pts < 0 ? -pts : 0;
    if (out_.chunk) {
      // A chunk opens on a grid line, its first frame within half a frame of it (either side).
      const std::int64_t half = info_.frame_rate.num > 0 ? av_rescale_q(1, av_inv_q(info_.frame_rate), tb) / 2 + 1 : 0;
      next_cut_ = ((pts + half) / seg_len_ + 1) * seg_len_;
    }
  }
  // The keyframe forced for a grid line lies within half a frame of it, before or after: half a frame
  // of slack (rounded up, plus a tick for the rounding of timestamps to the timescale) so that one
  // at 5.98 s still opens the segment at 6 s.
  std::int64_t slack =
      video && info_.frame_rate.num > 0 ? (av_rescale_q(1, av_inv_q(info_.frame_rate), tb) + 1) / 2 + 1 : 0;
  if (pkt->duration <= 0 && video && info_.frame_rate.num > 0)
    pkt->duration = av_rescale_q(1, av_inv_q(info_.frame_rate), tb);
  bool cut_here = pts >= next_cut_ - slack && (!video || (pkt->flags & AV_PKT_FLAG_KEY));
  if (cut_here && in_segment_) {
    close_segment(pts);
    seg_start_ = pts;
    // The next line of the segment grid past this cut (the first cut may have been off the grid).
    next_cut_ = ((pts + slack) / seg_len_ + 1) * seg_len_;
  }
  if (!in_segment_) open_segment();
  std::int64_t end = pts + std::max<std::int64_t>(pkt->duration, 0);
  if (max_end_ == AV_NOPTS_VALUE || end > max_end_) max_end_ = end;
  seg_start_ = std::min(seg_start_, pts);
  if (video) ++info_.frames;
  int r = av_write_frame(ctx_, pkt);
  rethrow_pending();
  check_own(r, "cannot write a packet");
}

void cmaf_writer::finish() {
  if (finished_) return;
  finished_ = true;
  if (in_segment_) close_segment(max_end_);
  int r = av_write_trailer(ctx_);
  rethrow_pending();
  check_own(r, "cannot finish the track");
}

namespace {

// Emulation-prevention bytes removed from a NAL unit payload.
std::vector<std::uint8_t> unescape(const std::uint8_t* p, std::size_t n) {
  std::vector<std::uint8_t> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (i + 2 < n && p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 3) {
      out.push_back(0);
      out.push_back(0);
      i += 2;
      continue;
    }
    out.push_back(p[i]);
  }
  return out;
}

// Finds the first Annex B NAL unit whose type matches; returns its payload after the header.
std::vector<std::uint8_t> find_nal(const std::uint8_t* d, std::size_t n, bool hevc, int type) {
  for (std::size_t i = 0; i + 3 < n; ++i) {
    if (d[i] == 0 && d[i + 1] == 0 && d[i + 2] == 1) {
      std::size_t s = i + 3;
      if (s >= n) break;
      int t = hevc ? (d[s] >> 1) & 0x3f : d[s] & 0x1f;
      if (t == type) {
        std::size_t e = s;
        while (e + 2 < n && !(d[e] == 0 && d[e + 1] == 0 && (d[e + 2] == 1 || d[e + 2] == 0))) ++e;
        if (e + 2 >= n) e = n;
        std::size_t hdr = hevc ? 2 : 1;
        if (s + hdr < e) return unescape(d + s + hdr, e - s - hdr);
      }
    }
  }
  return {};
}

std::string h264_codecs(const AVCodecContext* enc) {
  const std::uint8_t* d = enc->extradata;
  std::size_t n = static_cast<std::size_t>(enc->extradata_size);
  if (d && n >= 4 && d[0] == 1) return fmt::format("avc1.{:02X}{:02X}{:02X}", d[1], d[2], d[3]);
  auto sps = d ? find_nal(d, n, false, 7) : std::vector<std::uint8_t>{};
  if (sps.size() >= 3) return fmt::format("avc1.{:02X}{:02X}{:02X}", sps[0], sps[1], sps[2]);
  return "avc1.640028";
}

std::string hevc_codecs(const AVCodecContext* enc) {
  auto sps = enc->extradata ? find_nal(enc->extradata, static_cast<std::size_t>(enc->extradata_size), true, 33)
                            : std::vector<std::uint8_t>{};
  // sps: [vps id/max sub layers/nesting: 1 byte][profile_tier_level: 12 bytes ...]
  if (sps.size() >= 13) {
    const std::uint8_t* ptl = sps.data() + 1;
    int space = ptl[0] >> 6, tier = (ptl[0] >> 5) & 1, profile = ptl[0] & 0x1f;
    std::uint32_t compat =
        (std::uint32_t(ptl[1]) << 24) | (std::uint32_t(ptl[2]) << 16) | (std::uint32_t(ptl[3]) << 8) | ptl[4];
    std::uint32_t rev = 0;
    for (int i = 0; i < 32; ++i)
      if (compat & (1u << i)) rev |= 1u << (31 - i);
    int level = ptl[11];
    std::string s = fmt::format("hvc1.{}{}.{:X}.{}{}", space ? std::string(1, char('A' + space - 1)) : "", profile, rev,
                                tier ? 'H' : 'L', level);
    // Trailing zero bytes of the constraint flags are omitted.
    int last = 0;
    for (int i = 0; i < 6; ++i)
      if (ptl[5 + i]) last = i + 1;
    for (int i = 0; i < last; ++i) s += fmt::format(".{:X}", ptl[5 + i]);
    return s;
  }
  return "hvc1.1.6.L120.90";
}

std::string av1_codecs(const AVCodecContext* enc) {
  // av1C: marker/version, seq_profile(3) seq_level_idx_0(5), tier(1) high_bitdepth(1) twelve_bit(1) ...
  const std::uint8_t* d = enc->extradata;
  if (d && enc->extradata_size >= 4 && (d[0] & 0x80)) {
    int profile = d[1] >> 5, level = d[1] & 0x1f, tier = d[2] >> 7, hbd = (d[2] >> 6) & 1, twelve = (d[2] >> 5) & 1;
    return fmt::format("av01.{}.{:02d}{}.{:02d}", profile, level, tier ? 'H' : 'M', twelve ? 12 : hbd ? 10 : 8);
  }
  // Without an av1C record, the level is estimated from the picture size (main tier, 8-bit).
  std::int64_t px = static_cast<std::int64_t>(enc->width) * enc->height;
  int level = px <= 147456 ? 0 : px <= 278784 ? 1 : px <= 665856 ? 4 : px <= 1065024 ? 5 : px <= 2359296 ? 8 : 12;
  return fmt::format("av01.0.{:02d}M.08", level);
}

}  // namespace

std::uint32_t sample_entry_tag(AVCodecID id) { return id == AV_CODEC_ID_HEVC ? MKTAG('h', 'v', 'c', '1') : 0; }

void check_own(int averror, const std::string& what) {
  if (averror >= 0) return;
  av::fail(averror == AVERROR(ENOMEM) ? errc::out_of_memory : errc::internal, what + ": " + av::err2str(averror));
}

void require_consumed(AVDictionary*& opts, const std::string& what) {
  std::string left;
  for (const AVDictionaryEntry* e = nullptr; (e = av_dict_get(opts, "", e, AV_DICT_IGNORE_SUFFIX));)
    left += std::string(left.empty() ? "" : ", ") + e->key + "=" + e->value;
  av_dict_free(&opts);
  if (!left.empty()) av::fail(errc::internal, what + " did not take the option(s) " + left);
}

std::string codecs_string(const AVCodecContext* enc) {
  switch (enc->codec_id) {
    case AV_CODEC_ID_H264: return h264_codecs(enc);
    case AV_CODEC_ID_HEVC: return hevc_codecs(enc);
    case AV_CODEC_ID_AV1: return av1_codecs(enc);
    case AV_CODEC_ID_AAC: return fmt::format("mp4a.40.{}", enc->profile >= 0 ? enc->profile + 1 : 2);
    default: return avcodec_get_name(enc->codec_id);
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
