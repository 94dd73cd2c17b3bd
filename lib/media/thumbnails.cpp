#include "media/thumbnails.hpp"

#include "media/output_dir.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

extern "C" {
#include <libavutil/imgutils.h>
}

namespace spool::media {
namespace {

using av::even;

constexpr std::size_t max_tiles = 400;

// Rotates an 8-bit 4:2:0 picture clockwise by 90, 180 or 270 degrees.
av::frame_ptr rotate(const AVFrame* src, int rotation) {
  if (rotation == 0) return av::frame_ptr(av_frame_clone(src));
  auto dst = av::make_frame();
  bool swap = rotation == 90 || rotation == 270;
  dst->format = src->format;
  dst->width = swap ? src->height : src->width;
  dst->height = swap ? src->width : src->height;
  av::check(av_frame_get_buffer(dst.get(), 0), "cannot allocate a thumbnail");
  for (int p = 0; p < 3; ++p) {
    int sw = p ? src->width / 2 : src->width, sh = p ? src->height / 2 : src->height;
    for (int y = 0; y < sh; ++y)
      for (int x = 0; x < sw; ++x) {
        int dx, dy;
        if (rotation == 90) { dx = sh - 1 - y; dy = x; }
        else if (rotation == 270) { dx = y; dy = sw - 1 - x; }
        else { dx = sw - 1 - x; dy = sh - 1 - y; }
        dst->data[p][dy * dst->linesize[p] + dx] = src->data[p][y * src->linesize[p] + x];
      }
  }
  return dst;
}

std::string vtt_time(double t) {
  auto ms = static_cast<long long>(std::llround(t * 1000));
  return fmt::format("{:02d}:{:02d}:{:02d}.{:03d}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

void write_jpeg(const AVFrame* f, const std::filesystem::path& p) {
  const AVCodec* codec = avcodec_find_encoder(AV_CODEC_ID_MJPEG);
  if (!codec) av::fail(errc::encoder_unavailable, "no JPEG encoder in this FFmpeg");
  av::codec_ptr enc(avcodec_alloc_context3(codec));
  if (!enc) throw std::bad_alloc();
  enc->width = f->width;
  enc->height = f->height;
  enc->pix_fmt = AV_PIX_FMT_YUVJ420P;
  enc->time_base = AVRational{1, 25};
  enc->flags |= AV_CODEC_FLAG_QSCALE;
  enc->global_quality = FF_QP2LAMBDA * 4;
  av::check(avcodec_open2(enc.get(), codec, nullptr), "cannot open the JPEG encoder");
  auto frame = av::frame_ptr(av_frame_clone(f));
  frame->quality = enc->global_quality;
  frame->pts = 0;
  av::check(avcodec_send_frame(enc.get(), frame.get()), "cannot encode a JPEG");
  av::check(avcodec_send_frame(enc.get(), nullptr), "cannot encode a JPEG");
  auto pkt = av::make_packet();
  out_file out(p);
  while (avcodec_receive_packet(enc.get(), pkt.get()) == 0) {
    out.write(pkt->data, static_cast<std::size_t>(pkt->size));
    av_packet_unref(pkt.get());
  }
  out.close();
}

}  // namespace

thumbnailer::thumbnailer(const thumbnail_settings& s, int rotation, int display_w, int display_h, double duration_s)
    : settings_(s), rotation_(rotation) {
  double dar = display_h > 0 ? static_cast<double>(display_w) / display_h : 16.0 / 9;
  tile_w_ = s.tile_width;
  tile_h_ = even(tile_w_ / dar);
  double scale = std::min(1.0, std::min(1280.0 / std::max(display_w, 1), 720.0 / std::max(display_h, 1)));
  poster_w_ = even(display_w * scale);
  poster_h_ = even(display_h * scale);
  interval_ = s.interval_s;
  if (duration_s > 0) interval_ = std::max(interval_, std::ceil(duration_s / max_tiles));
  poster_t_ = duration_s > 0 ? std::min(duration_s * 0.1, 10.0) : 0;
}

av::frame_ptr thumbnailer::convert(const AVFrame* f, int w, int h) {
  // Scaled before rotation: a rotated target's width is the source's height.
  bool swap = rotation_ == 90 || rotation_ == 270;
  int sw = swap ? h : w, sh = swap ? w : h;
  sws_.reset(sws_getCachedContext(sws_.release(), f->width, f->height, static_cast<AVPixelFormat>(f->format), sw, sh,
                                  AV_PIX_FMT_YUVJ420P, SWS_BICUBIC, nullptr, nullptr, nullptr));
  if (!sws_) av::fail(errc::feature_unsupported, "cannot convert frames for thumbnails");
  auto scaled = av::make_frame();
  scaled->format = AV_PIX_FMT_YUVJ420P;
  scaled->width = sw;
  scaled->height = sh;
  av::check(av_frame_get_buffer(scaled.get(), 0), "cannot allocate a thumbnail");
  sws_scale(sws_.get(), f->data, f->linesize, 0, f->height, scaled->data, scaled->linesize);
  return rotate(scaled.get(), rotation_);
}

void thumbnailer::offer(const AVFrame* f, double t) {
  if (settings_.poster && !have_poster_at_time_ && (!poster_ || t >= poster_t_)) {
    poster_ = convert(f, poster_w_, poster_h_);
    have_poster_at_time_ = t >= poster_t_;
  }
  if (settings_.storyboard && t >= next_tile_ && tiles_.size() < max_tiles) {
    tiles_.emplace_back(std::max(0.0, t), convert(f, tile_w_, tile_h_));
    next_tile_ = (std::floor(t / interval_) + 1) * interval_;
  }
}

std::vector<std::string> thumbnailer::write(const std::filesystem::path& dir, double duration_s) {
  std::vector<std::string> files;
  if (settings_.poster && poster_) {
    write_jpeg(poster_.get(), dir / "poster.jpg");
    files.emplace_back("poster.jpg");
  }
  if (settings_.storyboard && !tiles_.empty()) {
    int cols = std::min<int>(settings_.columns, static_cast<int>(tiles_.size()));
    int rows = static_cast<int>((tiles_.size() + static_cast<std::size_t>(cols) - 1) / static_cast<std::size_t>(cols));
    auto sheet = av::make_frame();
    sheet->format = AV_PIX_FMT_YUVJ420P;
    sheet->width = cols * tile_w_;
    sheet->height = rows * tile_h_;
    av::check(av_frame_get_buffer(sheet.get(), 0), "cannot allocate the storyboard");
    for (int p = 0; p < 3; ++p)
      std::memset(sheet->data[p], p ? 128 : 16, static_cast<std::size_t>(sheet->linesize[p]) * (p ? sheet->height / 2 : sheet->height));
    std::string vtt = "WEBVTT\n\n";
    for (std::size_t i = 0; i < tiles_.size(); ++i) {
      const AVFrame* t = tiles_[i].second.get();
      int x = static_cast<int>(i % static_cast<std::size_t>(cols)) * tile_w_;
      int y = static_cast<int>(i / static_cast<std::size_t>(cols)) * tile_h_;
      for (int p = 0; p < 3; ++p) {
        int div = p ? 2 : 1;
        for (int row = 0; row < t->height / div; ++row)
          std::memcpy(sheet->data[p] + (y / div + row) * sheet->linesize[p] + x / div, t->data[p] + row * t->linesize[p],
                      static_cast<std::size_t>(t->width / div));
      }
      double start = i == 0 ? 0 : tiles_[i].first;
      double end = i + 1 < tiles_.size() ? tiles_[i + 1].first : std::max(duration_s, start + 0.001);
      vtt += fmt::format("{} --> {}\nstoryboard.jpg#xywh={},{},{},{}\n\n", vtt_time(start), vtt_time(end), x, y, tile_w_,
                         tile_h_);
    }
    write_jpeg(sheet.get(), dir / "storyboard.jpg");
    write_file(dir / "storyboard.vtt", vtt);
    files.emplace_back("storyboard.jpg");
    files.emplace_back("storyboard.vtt");
  }
  return files;
}

}  // namespace spool::media
