#include "media/segmenter.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>

namespace fs = std::filesystem;

namespace spool::media {

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

std::int64_t track_info::avg_bitrate() const {
  double d = duration_s();
  std::int64_t b = 0;
  for (const auto& s : segments) b += s.bytes;
  return d > 0 ? static_cast<std::int64_t>(std::ceil(static_cast<double>(b) * 8 / d)) : 0;
}

std::int64_t track_info::peak_bitrate() const {
  std::int64_t peak = 0;
  for (const auto& s : segments)
    if (s.duration > 0)
      peak = std::max(peak, static_cast<std::int64_t>(std::ceil(static_cast<double>(s.bytes) * 8 * timescale / s.duration)));
  return peak;
}

int cmaf_writer::write_cb(void* opaque, std::uint8_t* buf, int size) {
  auto* self = static_cast<cmaf_writer*>(opaque);
  if (self->capturing_) {
    self->first_.append(reinterpret_cast<const char*>(buf), static_cast<std::size_t>(size));
    return size;
  }
  try {
    self->file_.write(buf, static_cast<std::size_t>(size));
  } catch (const av::failure& f) {
    self->io_errno_ = f.ec == errc::no_space ? ENOSPC : EIO;
    return AVERROR(self->io_errno_);
  }
  return size;
}

void cmaf_writer::flush_io() {
  avio_flush(pb_);
  if (io_errno_) fail_errno(io_errno_, "cannot write " + dir_.string());
}

cmaf_writer::cmaf_writer(fs::path dir, const AVCodecContext* enc, double segment_s, track_info& info)
    : dir_(std::move(dir)), info_(info), enc_tb_(enc->time_base) {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) fail_errno(ec.value(), "cannot create " + dir_.string());
  info_.timescale = enc->codec_type == AVMEDIA_TYPE_AUDIO ? enc->sample_rate : 90000;
  seg_len_ = static_cast<std::int64_t>(std::llround(segment_s * info_.timescale));
  info_.codecs = codecs_string(enc);

  av::check(avformat_alloc_output_context2(&ctx_, nullptr, "mp4", nullptr), "cannot create the mp4 muxer");
  AVStream* st = avformat_new_stream(ctx_, nullptr);
  if (!st) throw std::bad_alloc();
  av::check(avcodec_parameters_from_context(st->codecpar, enc), "cannot set the track's parameters");
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
  // One fragment per segment, cut when we say. The moov waits for the first fragment so it can
  // carry the edit list for encoder delay (B-frames, AAC priming); split_first() then separates it.
  av_dict_set(&opts, "movflags", "frag_custom+delay_moov+default_base_moof+cmaf+skip_trailer", 0);
  capturing_ = true;
  int r = avformat_write_header(ctx_, &opts);
  av_dict_free(&opts);
  av::check(r, "cannot start the track");
}

// The first flush holds ftyp + moov + the first fragment: the boxes before the first moof/styp
// become init.mp4, the rest the first segment.
void cmaf_writer::split_first(std::int64_t end) {
  std::size_t off = 0;
  while (off + 8 <= first_.size()) {
    auto* b = reinterpret_cast<const std::uint8_t*>(first_.data() + off);
    std::uint64_t size = (std::uint64_t(b[0]) << 24) | (std::uint64_t(b[1]) << 16) | (std::uint64_t(b[2]) << 8) | b[3];
    std::string_view type(first_.data() + off + 4, 4);
    if (type == "moof" || type == "styp" || type == "sidx") break;
    if (size == 1 && off + 16 <= first_.size()) {
      size = 0;
      for (int i = 8; i < 16; ++i) size = (size << 8) | b[i];
    }
    if (size < 8 || off + size > first_.size()) av::fail(errc::internal, "the muxer wrote a malformed init segment");
    off += size;
  }
  file_.open(dir_ / "init.mp4");
  file_.write(first_.data(), off);
  info_.init_bytes = file_.close();
  file_.open(dir_ / "seg_00001.m4s");
  file_.write(first_.data() + off, first_.size() - off);
  std::int64_t bytes = file_.close();
  info_.segments.push_back({seg_start_, end - seg_start_, bytes});
  first_.clear();
  first_.shrink_to_fit();
}

cmaf_writer::~cmaf_writer() {
  if (ctx_) avformat_free_context(ctx_);
  if (pb_) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
}

void cmaf_writer::open_segment() {
  if (!capturing_) file_.open(dir_ / fmt::format("seg_{:05d}.m4s", info_.segments.size() + 1));
  in_segment_ = true;
}

void cmaf_writer::close_segment(std::int64_t end) {
  av::check(av_write_frame(ctx_, nullptr), "cannot write a segment", errc::io_error);
  flush_io();
  if (capturing_) {
    // The first flush of a delayed moov writes only ftyp + moov; the second the fragment itself.
    av::check(av_write_frame(ctx_, nullptr), "cannot write a segment", errc::io_error);
    flush_io();
    capturing_ = false;
    split_first(end);
    in_segment_ = false;
    return;
  }
  std::int64_t bytes = file_.close();
  info_.segments.push_back({seg_start_, end - seg_start_, bytes});
  in_segment_ = false;
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
  }
  // Half a frame of slack so a keyframe at 5.99999 s still opens the segment at 6 s.
  std::int64_t slack = video && info_.frame_rate.num > 0
                           ? av_rescale_q(1, av_inv_q(info_.frame_rate), tb) / 2
                           : 0;
  if (pkt->duration <= 0 && video && info_.frame_rate.num > 0)
    pkt->duration = av_rescale_q(1, av_inv_q(info_.frame_rate), tb);
  bool cut_here = pts >= next_cut_ - slack && (!video || (pkt->flags & AV_PKT_FLAG_KEY));
  if (cut_here && in_segment_) {
    close_segment(pts);
    seg_start_ = pts;
    while (next_cut_ - slack <= pts) next_cut_ += seg_len_;
  }
  if (!in_segment_) open_segment();
  std::int64_t end = pts + std::max<std::int64_t>(pkt->duration, 0);
  if (max_end_ == AV_NOPTS_VALUE || end > max_end_) max_end_ = end;
  seg_start_ = std::min(seg_start_, pts);
  if (video) ++info_.frames;
  int r = av_write_frame(ctx_, pkt);
  if (io_errno_) fail_errno(io_errno_, "cannot write " + dir_.string());
  av::check(r, "cannot write a packet", errc::io_error);
}

void cmaf_writer::finish() {
  if (finished_) return;
  finished_ = true;
  if (in_segment_) close_segment(max_end_);
  av::check(av_write_trailer(ctx_), "cannot finish the track", errc::io_error);
  if (io_errno_) fail_errno(io_errno_, "cannot write " + dir_.string());
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
    std::uint32_t compat = (std::uint32_t(ptl[1]) << 24) | (std::uint32_t(ptl[2]) << 16) | (std::uint32_t(ptl[3]) << 8) | ptl[4];
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

std::string codecs_string(const AVCodecContext* enc) {
  switch (enc->codec_id) {
    case AV_CODEC_ID_H264: return h264_codecs(enc);
    case AV_CODEC_ID_HEVC: return hevc_codecs(enc);
    case AV_CODEC_ID_AV1: return av1_codecs(enc);
    case AV_CODEC_ID_AAC: return fmt::format("mp4a.40.{}", enc->profile >= 0 ? enc->profile + 1 : 2);
    default: return avcodec_get_name(enc->codec_id);
  }
}

}  // namespace spool::media
