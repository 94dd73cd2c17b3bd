// What chunked encoding costs in size and quality: one synthetic lecture transcoded whole and in
// chunks (each chunk encoded on its own, then stitched), side by side. Rate control restarts at every
// chunk boundary, so the figures that matter are the bytes and the SSIM (Y, against the source scaled
// to each rung) near the boundaries, next to the unchunked ladder's at the same frames. Not timed.
//
//   spool-bench-chunks [--duration S] [--chunk S] [--width W --height H] [--preset P] [--window S] [--keep DIR]
#include <spool/media/chunks.hpp>
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "args.hpp"
#include "lecture_source.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/log.h>
#include <libswscale/swscale.h>
}

namespace fs = std::filesystem;
namespace media = spool::media;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "spool-bench-chunks: %s\n", what.c_str());
  std::exit(1);
}

// Decodes the first video stream of a file into 8-bit luma planes of a given size (bicubic).
class luma_reader {
 public:
  luma_reader(const fs::path& file, int width, int height) : w_(width), h_(height) {
    if (avformat_open_input(&fmt_, file.c_str(), nullptr, nullptr) < 0 || avformat_find_stream_info(fmt_, nullptr) < 0)
      die("cannot open " + file.string());
    stream_ = av_find_best_stream(fmt_, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
    if (stream_ < 0) die("no video in " + file.string());
    const AVCodec* codec = avcodec_find_decoder(fmt_->streams[stream_]->codecpar->codec_id);
    dec_ = avcodec_alloc_context3(codec);
    avcodec_parameters_to_context(dec_, fmt_->streams[stream_]->codecpar);
    if (avcodec_open2(dec_, codec, nullptr) < 0) die("cannot decode " + file.string());
    pkt_ = av_packet_alloc();
    frame_ = av_frame_alloc();
  }
  ~luma_reader() {
    sws_freeContext(sws_);
    av_frame_free(&frame_);
    av_packet_free(&pkt_);
    avcodec_free_context(&dec_);
    avformat_close_input(&fmt_);
  }
  luma_reader(const luma_reader&) = delete;
  luma_reader& operator=(const luma_reader&) = delete;

  /// The next frame's luma, w x h; false at the end.
  bool next(std::vector<std::uint8_t>& y) {
    for (;;) {
      int r = avcodec_receive_frame(dec_, frame_);
      if (r == 0) break;
      if (r == AVERROR_EOF) return false;
      if (draining_) return false;
      if (av_read_frame(fmt_, pkt_) < 0) {
        avcodec_send_packet(dec_, nullptr);
        draining_ = true;
        continue;
      }
      if (pkt_->stream_index == stream_) avcodec_send_packet(dec_, pkt_);
      av_packet_unref(pkt_);
    }
    sws_ = sws_getCachedContext(sws_, frame_->width, frame_->height, static_cast<AVPixelFormat>(frame_->format), w_, h_,
                                AV_PIX_FMT_GRAY8, SWS_BICUBIC, nullptr, nullptr, nullptr);
    y.resize(static_cast<std::size_t>(w_) * static_cast<std::size_t>(h_));
    std::uint8_t* dst[4] = {y.data(), nullptr, nullptr, nullptr};
    int stride[4] = {w_, 0, 0, 0};
    sws_scale(sws_, frame_->data, frame_->linesize, 0, frame_->height, dst, stride);
    av_frame_unref(frame_);
    return true;
  }

 private:
  int w_, h_;
  AVFormatContext* fmt_ = nullptr;
  AVCodecContext* dec_ = nullptr;
  AVPacket* pkt_ = nullptr;
  AVFrame* frame_ = nullptr;
  SwsContext* sws_ = nullptr;
  int stream_ = -1;
  bool draining_ = false;
};

// SSIM of two luma planes: 8x8 windows every 4 pixels, the usual constants for 8-bit samples.
double ssim_y(const std::vector<std::uint8_t>& a, const std::vector<std::uint8_t>& b, int w, int h) {
  constexpr double c1 = (0.01 * 255) * (0.01 * 255), c2 = (0.03 * 255) * (0.03 * 255);
  double sum = 0;
  std::int64_t windows = 0;
  for (int y0 = 0; y0 + 8 <= h; y0 += 4)
    for (int x0 = 0; x0 + 8 <= w; x0 += 4) {
      double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (int y = y0; y < y0 + 8; ++y)
        for (int x = x0; x < x0 + 8; ++x) {
          const auto at = static_cast<std::size_t>(y * w + x);
          const double pa = a[at], pb = b[at];
          sa += pa;
          sb += pb;
          saa += pa * pa;
          sbb += pb * pb;
          sab += pa * pb;
        }
      const double n = 64, ma = sa / n, mb = sb / n;
      const double va = saa / n - ma * ma, vb = sbb / n - mb * mb, cov = sab / n - ma * mb;
      sum += ((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      ++windows;
    }
  return windows ? sum / static_cast<double>(windows) : 1.0;
}

struct rung_files {
  std::vector<fs::path> segments;
  std::int64_t bytes = 0;
  int width = 0, height = 0;
};

// A rendition's segments in playlist order, concatenated after init.mp4 into one file to decode.
rung_files concat_rendition(const fs::path& dir, const fs::path& out) {
  rung_files r;
  std::ifstream pl(dir / "index.m3u8");
  std::ofstream o(out, std::ios::binary);
  const std::string init = slurp(dir / "init.mp4");
  o << init;
  r.bytes = static_cast<std::int64_t>(init.size());
  for (std::string line; std::getline(pl, line);) {
    if (line.empty() || line[0] == '#') continue;
    const std::string seg = slurp(dir / line);
    o << seg;
    r.bytes += static_cast<std::int64_t>(seg.size());
    r.segments.push_back(dir / line);
  }
  return r;
}

struct chunk_run {
  std::vector<fs::path> dirs;
  fs::path whole;
};

void transcode_part(const fs::path& input, const fs::path& out, const spool::plan& p,
                    std::optional<media::chunk_span> span) {
  media::transcode_options o;
  o.plan = p;
  o.chunk = span;
  media::transcode_result r;
  if (auto ec = spool::transcode(input.string(), out.string(), o, r))
    die(fmt::format("transcoding into {}: {}: {}", out.string(), ec.message(), r.error_detail));
}

}  // namespace

int main(int argc, char** argv) {
  double duration = 120, chunk_s = 30, window_s = 1;
  int width = 1280, height = 720;
  std::string preset = "veryfast";
  fs::path keep;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) die(a + " needs a value");
      return argv[++i];
    };
    bool ok = true;
    if (a == "--duration")
      ok = spool_bench::parse_number(value(), duration);
    else if (a == "--chunk")
      ok = spool_bench::parse_number(value(), chunk_s);
    else if (a == "--window")
      ok = spool_bench::parse_number(value(), window_s);
    else if (a == "--width")
      ok = spool_bench::parse_number(value(), width);
    else if (a == "--height")
      ok = spool_bench::parse_number(value(), height);
    else if (a == "--preset")
      preset = value();
    else if (a == "--keep")
      keep = value();
    else
      die("unknown option " + a);
    if (!ok) die("a bad value for " + a);
  }
  av_log_set_level(AV_LOG_ERROR);
  const fs::path work =
      keep.empty() ? fs::temp_directory_path() / fmt::format("spool-bench-chunks-{}", ::getpid()) : keep;
  fs::remove_all(work);
  fs::create_directories(work);

  spool_bench::lecture_spec spec;
  spec.duration_s = duration;
  spec.width = width;
  spec.height = height;
  const fs::path source = work / "lecture.mp4";
  if (auto e = spool_bench::make_lecture(source.string(), spec); !e.empty()) die(e);

  spool::plan plan;  // the hls-ladder preset
  plan.video.preset = preset;
  plan.thumbnails.poster = plan.thumbnails.storyboard = false;
  transcode_part(source, work / "full", plan, std::nullopt);

  auto probed = spool::probe(source.string(), spool::input_policy{});
  if (!probed) die(probed.error().what());
  auto spans = media::plan_chunks(probed->duration_s, plan.packaging.segment_s, chunk_s);
  if (!spans) die(spans.error().what());
  chunk_run run;
  media::stitch_input parts;
  for (const auto& s : *spans) {
    run.dirs.push_back(work / fmt::format("chunk-{:04d}", s.index));
    transcode_part(source, run.dirs.back(), plan, s);
    parts.chunk_json.push_back(slurp(run.dirs.back() / "chunk.json"));
  }
  run.whole = work / "whole";
  transcode_part(source, run.whole, plan, media::whole_input_span());
  parts.whole_input_json = slurp(run.whole / "chunk.json");
  auto read = [&](int i, std::string_view name) -> spool::result<std::string> {
    const fs::path f = (i < 0 ? run.whole : run.dirs.at(static_cast<std::size_t>(i))) / name;
    if (!fs::exists(f)) return spool::error(spool::errc::io_error, f.string() + " is missing");
    return slurp(f);
  };
  auto loc = spool::storage::resolve((work / "stitched").string());
  if (!loc) die(loc.error().what());
  auto sink = loc->backend->open_package(loc->path, {});
  if (!sink) die(sink.error().what());
  media::transcode_result stitched;
  if (auto e = media::stitch(plan, parts, read, **sink, stitched)) die(e.what());
  if (auto e = (*sink)->commit()) die(e.what());

  // Boundaries in frames (the output runs at the source's 30 fps: frame i is source frame i).
  std::vector<double> boundaries;
  for (std::size_t i = 1; i < spans->size(); ++i) boundaries.push_back((*spans)[i].start_s);
  const double fps = spec.fps;
  fmt::print("lecture {:.0f} s {}x{} at {} fps, preset {}, {} chunks of about {:.0f} s; boundaries at", duration, width,
             height, spec.fps, preset, spans->size(), chunk_s);
  for (double b : boundaries) fmt::print(" {:.0f}", b);
  fmt::print(" s; SSIM (Y) window +-{:.1f} s around each\n", window_s);
  fmt::print("{:<8} {:>12} {:>12} {:>8} {:>10} {:>10} {:>10} {:>10} {:>10}\n", "rung", "bytes whole", "bytes chunk",
             "ratio", "ssim whole", "ssim chunk", "seam whole", "seam chunk", "seam min");
  std::int64_t total_whole = 0, total_chunked = 0;
  for (const auto& r : stitched.renditions) {
    if (r.kind != "video") continue;
    const auto a = concat_rendition(work / "full" / r.name, work / (r.name + "-full.mp4"));
    const auto b = concat_rendition(work / "stitched" / r.name, work / (r.name + "-stitched.mp4"));
    total_whole += a.bytes;
    total_chunked += b.bytes;
    luma_reader src(source, r.width, r.height), ra(work / (r.name + "-full.mp4"), r.width, r.height),
        rb(work / (r.name + "-stitched.mp4"), r.width, r.height);
    std::vector<std::uint8_t> ys, ya, yb;
    double all_a = 0, all_b = 0, seam_a = 0, seam_b = 0, seam_min = 1;
    std::int64_t n = 0, seam_n = 0;
    while (src.next(ys) && ra.next(ya) && rb.next(yb)) {
      const double t = static_cast<double>(n) / fps;
      const double sa = ssim_y(ys, ya, r.width, r.height), sb = ssim_y(ys, yb, r.width, r.height);
      all_a += sa;
      all_b += sb;
      ++n;
      if (std::any_of(boundaries.begin(), boundaries.end(), [&](double x) { return std::abs(t - x) <= window_s; })) {
        seam_a += sa;
        seam_b += sb;
        seam_min = std::min(seam_min, sb);
        ++seam_n;
      }
    }
    if (n == 0 || seam_n == 0) die("no frames compared in " + r.name);
    const auto div = [](double s, std::int64_t k) { return s / static_cast<double>(k); };
    fmt::print("{:<8} {:>12} {:>12} {:>8.4f} {:>10.5f} {:>10.5f} {:>10.5f} {:>10.5f} {:>10.5f}\n", r.name, a.bytes,
               b.bytes, static_cast<double>(b.bytes) / static_cast<double>(a.bytes), div(all_a, n), div(all_b, n),
               div(seam_a, seam_n), div(seam_b, seam_n), seam_min);
  }
  fmt::print("video bytes: chunked / whole = {:.4f}\n",
             static_cast<double>(total_chunked) / static_cast<double>(total_whole));
  if (keep.empty()) fs::remove_all(work);
  return 0;
}
