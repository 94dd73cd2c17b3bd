#include "media/thumbnails.hpp"

#include <spool/package_layout.hpp>

#include <fmt/format.h>

#include "media/package_out.hpp"
#include "media/segmenter.hpp"

extern "C" {
#include <libavutil/imgutils.h>
}

#include <algorithm>
#include <cmath>
#include <cstring>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

constexpr std::size_t max_tiles = 400;
// FFmpeg's JPEG encoder refuses wider or taller pictures (the format itself stops at 65535).
constexpr std::int64_t jpeg_max_side = 65500;
// Tiles shrunk below this on either side are no use as previews: the storyboard is left out instead.
constexpr int min_tile_side = 16;
// A tile is at most twice as tall as it is wide; a taller picture gets a narrower tile.
constexpr double tallest_tile = 2.0;

// The nearest even size at or below `v`, at least 2 (4:2:0 pictures need even sizes).
int even_down(double v) { return std::max(2, static_cast<int>(v / 2) * 2); }

av::frame_ptr clone(const AVFrame* f) {
  av::frame_ptr c(av_frame_clone(f));
  if (!c) throw std::bad_alloc();
  return c;
}

// Rotates an 8-bit 4:2:0 picture clockwise by 90, 180 or 270 degrees.
av::frame_ptr rotate(const AVFrame* src, int rotation) {
  if (rotation == 0) return clone(src);
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
        if (rotation == 90) {
          dx = sh - 1 - y;
          dy = x;
        } else if (rotation == 270) {
          dx = y;
          dy = sw - 1 - x;
        } else {
          dx = sw - 1 - x;
          dy = sh - 1 - y;
        }
        dst->data[p][dy * dst->linesize[p] + dx] = src->data[p][y * src->linesize[p] + x];
      }
  }
  return dst;
}

std::string vtt_time(double t) {
  auto ms = static_cast<long long>(std::llround(t * 1000));
  return fmt::format("{:02d}:{:02d}:{:02d}.{:03d}", ms / 3600000, ms / 60000 % 60, ms / 1000 % 60, ms % 1000);
}

void write_jpeg(const AVFrame* f, io::package_sink& sink, std::string_view name) {
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
  const std::string what = "cannot encode " + std::string(name);
  check_own(avcodec_open2(enc.get(), codec, nullptr), what);
  auto frame = clone(f);
  frame->quality = enc->global_quality;
  frame->pts = 0;
  check_own(avcodec_send_frame(enc.get(), frame.get()), what);
  check_own(avcodec_send_frame(enc.get(), nullptr), what);
  auto pkt = av::make_packet();
  std::string jpeg;
  for (;;) {
    int r = avcodec_receive_packet(enc.get(), pkt.get());
    if (r == AVERROR_EOF) break;
    check_own(r, what);  // after the flush, even EAGAIN would mean a lost picture
    jpeg.append(reinterpret_cast<const char*>(pkt->data), static_cast<std::size_t>(pkt->size));
    av_packet_unref(pkt.get());
  }
  if (jpeg.empty()) av::fail(errc::internal, what + ": the encoder returned nothing");
  put(sink, name, jpeg);
}

}  // namespace

thumbnailer::thumbnailer(const thumbnail_settings& s, int rotation, int display_w, int display_h, double duration_s,
                         std::int64_t max_pixels)
    : settings_(s), rotation_(rotation) {
  display_w = std::max(display_w, 1);
  display_h = std::max(display_h, 1);
  max_pixels = std::max<std::int64_t>(max_pixels, 4);
  // The poster: the picture within 1280x720, and within the pixel limit.
  double scale = std::min({1.0, 1280.0 / display_w, 720.0 / display_h});
  double area = display_w * scale * display_h * scale;
  if (area > static_cast<double>(max_pixels)) scale *= std::sqrt(static_cast<double>(max_pixels) / area);
  poster_w_ = even_down(display_w * scale);
  poster_h_ = even_down(display_h * scale);
  poster_t_ = duration_s > 0 ? std::min(duration_s * 0.1, 10.0) : 0;
  if (s.storyboard) plan_storyboard(display_w, display_h, duration_s, max_pixels);
}

// Sizes the tiles so that the whole sheet, at the number of tiles the duration calls for, stays
// within the pixel limit and JPEG's sides; when the input turns out longer, thin_tiles() keeps that
// number.
void thumbnailer::plan_storyboard(int display_w, int display_h, double duration_s, std::int64_t max_pixels) {
  interval_ = settings_.interval_s;
  if (duration_s > 0) interval_ = std::max(interval_, std::ceil(duration_s / max_tiles));
  max_tiles_ = duration_s > 0 ? std::min(max_tiles, static_cast<std::size_t>(duration_s / interval_) + 1) : max_tiles;
  const auto cols =
      static_cast<std::int64_t>(std::min<std::size_t>(static_cast<std::size_t>(settings_.columns), max_tiles_));
  const auto rows = (static_cast<std::int64_t>(max_tiles_) + cols - 1) / cols;
  const double dar = static_cast<double>(display_w) / display_h;
  double w = settings_.tile_width, h = w / dar;
  if (h > tallest_tile * w) {
    h = tallest_tile * w;
    w = h * dar;
  }
  // At most max_tiles_ (a few hundred) tiles: both counts are exact as doubles.
  const auto cols_d = static_cast<double>(cols), rows_d = static_cast<double>(rows);
  const double f =
      std::min({1.0, std::sqrt(static_cast<double>(max_pixels) / (cols_d * rows_d * w * h)),
                static_cast<double>(jpeg_max_side) / (cols_d * w), static_cast<double>(jpeg_max_side) / (rows_d * h)});
  tile_w_ = even_down(w * f);
  tile_h_ = even_down(h * f);
  const std::int64_t sheet_w = cols * tile_w_, sheet_h = rows * tile_h_;
  if (sheet_w > jpeg_max_side || sheet_h > jpeg_max_side || sheet_w * sheet_h > max_pixels ||
      (f < 1 && std::min(tile_w_, tile_h_) < min_tile_side)) {
    warnings_.push_back(
        {"storyboard_left_out",
         fmt::format(
             "storyboard left out: {} tiles of a {}x{} picture within {} pixels would be under {} pixels a side",
             max_tiles_, display_w, display_h, max_pixels, min_tile_side),
         1});
    return;
  }
  storyboard_ = true;
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
  int r = sws_scale(sws_.get(), f->data, f->linesize, 0, f->height, scaled->data, scaled->linesize);
  if (r <= 0) av::fail(errc::internal, "cannot scale a thumbnail: " + av::err2str(r));
  return rotate(scaled.get(), rotation_);
}

void thumbnailer::offer(const AVFrame* f, double t) {
  if (settings_.poster && !have_poster_at_time_ && (!poster_ || t >= poster_t_)) {
    poster_ = convert(f, poster_w_, poster_h_);
    have_poster_at_time_ = t >= poster_t_;
  }
  if (storyboard_ && t >= next_tile_) {
    if (tiles_.size() >= max_tiles_) thin_tiles();
    if (t >= next_tile_) {
      tiles_.emplace_back(std::max(0.0, t), convert(f, tile_w_, tile_h_));
      next_tile_ = (std::floor(t / interval_) + 1) * interval_;
    }
  }
}

// The input runs longer than its probed duration: every other tile goes and the interval doubles,
// so the sheet still covers the whole input at the size it was planned for.
void thumbnailer::thin_tiles() {
  std::size_t kept = 0;
  for (std::size_t i = 0; i < tiles_.size(); i += 2) tiles_[kept++] = std::move(tiles_[i]);
  tiles_.resize(kept);
  interval_ *= 2;
  next_tile_ = (std::floor(tiles_.back().first / interval_) + 1) * interval_;
}

std::vector<std::string> thumbnailer::write(io::package_sink& sink, double duration_s) {
  std::vector<std::string> files;
  if (settings_.poster && poster_) {
    write_jpeg(poster_.get(), sink, package_layout::poster);
    files.emplace_back(package_layout::poster);
  }
  if (storyboard_ && !tiles_.empty()) {
    int cols = std::min<int>(settings_.columns, static_cast<int>(tiles_.size()));
    int rows = static_cast<int>((tiles_.size() + static_cast<std::size_t>(cols) - 1) / static_cast<std::size_t>(cols));
    auto sheet = av::make_frame();
    sheet->format = AV_PIX_FMT_YUVJ420P;
    sheet->width = cols * tile_w_;
    sheet->height = rows * tile_h_;
    av::check(av_frame_get_buffer(sheet.get(), 0), "cannot allocate the storyboard");
    for (int p = 0; p < 3; ++p)
      std::memset(sheet->data[p], p ? 128 : 16,
                  static_cast<std::size_t>(sheet->linesize[p]) *
                      static_cast<std::size_t>(p ? sheet->height / 2 : sheet->height));
    std::string vtt = "WEBVTT\n\n";
    for (std::size_t i = 0; i < tiles_.size(); ++i) {
      const AVFrame* t = tiles_[i].second.get();
      int x = static_cast<int>(i % static_cast<std::size_t>(cols)) * tile_w_;
      int y = static_cast<int>(i / static_cast<std::size_t>(cols)) * tile_h_;
      for (int p = 0; p < 3; ++p) {
        int div = p ? 2 : 1;
        for (int row = 0; row < t->height / div; ++row)
          std::memcpy(sheet->data[p] + std::ptrdiff_t{y / div + row} * sheet->linesize[p] + x / div,
                      t->data[p] + std::ptrdiff_t{row} * t->linesize[p], static_cast<std::size_t>(t->width / div));
      }
      double start = i == 0 ? 0 : tiles_[i].first;
      double end = i + 1 < tiles_.size() ? tiles_[i + 1].first : std::max(duration_s, start + 0.001);
      vtt += fmt::format("{} --> {}\n{}#xywh={},{},{},{}\n\n", vtt_time(start), vtt_time(end),
                         package_layout::storyboard, x, y, tile_w_, tile_h_);
    }
    write_jpeg(sheet.get(), sink, package_layout::storyboard);
    put(sink, package_layout::storyboard_index, vtt);
    files.emplace_back(package_layout::storyboard);
    files.emplace_back(package_layout::storyboard_index);
  }
  return files;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
