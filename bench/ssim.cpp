#include "ssim.hpp"

#include "av_util.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/dict.h>
#include <libavutil/pixdesc.h>
}

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>

namespace spool_bench {
namespace {

namespace fs = std::filesystem;

/// Decodes the best video stream of a file, frame by frame.
class video_reader {
 public:
  std::string open(const std::string& path) {
    AVFormatContext* f = nullptr;
    int err = avformat_open_input(&f, path.c_str(), nullptr, nullptr);
    if (err < 0) return "cannot open " + path + ": " + av_error(err);
    fmt_.reset(f);
    if ((err = avformat_find_stream_info(f, nullptr)) < 0) return "cannot read " + path + ": " + av_error(err);
    const AVCodec* codec = nullptr;
    stream_ = av_find_best_stream(f, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (stream_ < 0 || !codec) return path + " has no decodable video stream";
    dec_.reset(avcodec_alloc_context3(codec));
    if (!dec_) return "out of memory";
    avcodec_parameters_to_context(dec_.get(), f->streams[stream_]->codecpar);
    dec_->thread_count = 0;  // auto
    if ((err = avcodec_open2(dec_.get(), codec, nullptr)) < 0) return "cannot open the decoder for " + path;
    pkt_ = make_packet();
    if (!pkt_) return "out of memory";
    return {};
  }

  AVRational frame_rate() const { return fmt_->streams[stream_]->avg_frame_rate; }

  /// 1: a frame; 0: the end; < 0: an FFmpeg error.
  int next(AVFrame* frame) {
    for (;;) {
      int err = avcodec_receive_frame(dec_.get(), frame);
      if (err == 0) return 1;
      if (err == AVERROR_EOF) return 0;
      if (err != AVERROR(EAGAIN)) return err;
      if (flushing_) return 0;
      err = av_read_frame(fmt_.get(), pkt_.get());
      if (err == AVERROR_EOF) {
        flushing_ = true;
        avcodec_send_packet(dec_.get(), nullptr);
        continue;
      }
      if (err < 0) return err;
      if (pkt_->stream_index == stream_) err = avcodec_send_packet(dec_.get(), pkt_.get());
      av_packet_unref(pkt_.get());
      if (err < 0 && err != AVERROR(EAGAIN) && err != AVERROR_INVALIDDATA) return err;
    }
  }

 private:
  input_ptr fmt_;
  codec_ptr dec_;
  packet_ptr pkt_;
  int stream_ = -1;
  bool flushing_ = false;
};

struct job_state {
  ssim_score score;
  std::string concat_path;
  video_reader reader;
  graph_ptr graph;
  AVFilterContext* ref_src = nullptr;
  AVFilterContext* dist_src = nullptr;
  AVFilterContext* sink = nullptr;
  bool dist_done = false;  ///< no more frames of the rendition; the graph's inputs are closed
  double sum_all = 0, sum_y = 0;
  double min_all = std::numeric_limits<double>::max();

  void fail(std::string why) {
    if (score.error.empty()) score.error = std::move(why);
    graph.reset();
    dist_done = true;
  }
  bool active() const { return score.error.empty() && !dist_done; }
};

std::string concat_files(const std::vector<std::string>& files, const std::string& out) {
  std::ofstream o(out, std::ios::binary | std::ios::trunc);
  if (!o) return "cannot write " + out;
  for (const auto& f : files) {
    std::ifstream i(f, std::ios::binary);
    if (!i) return "cannot read " + f;
    o << i.rdbuf();
  }
  o.close();
  if (!o) return "cannot write " + out;
  return {};
}

std::string build_graph(job_state& s, const AVFrame* ref, const AVFrame* dist, AVRational tb) {
  s.graph.reset(avfilter_graph_alloc());
  if (!s.graph) return "out of memory";
  const auto src_args = [&](const AVFrame* f) {
    const AVRational sar = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio : AVRational{1, 1};
    return fmt::format("video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}", f->width, f->height, f->format,
                       tb.num, tb.den, sar.num, sar.den);
  };
  int err = avfilter_graph_create_filter(&s.ref_src, avfilter_get_by_name("buffer"), "ref", src_args(ref).c_str(),
                                         nullptr, s.graph.get());
  if (err >= 0)
    err = avfilter_graph_create_filter(&s.dist_src, avfilter_get_by_name("buffer"), "dist", src_args(dist).c_str(),
                                       nullptr, s.graph.get());
  if (err >= 0)
    err = avfilter_graph_create_filter(&s.sink, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr,
                                       s.graph.get());
  if (err < 0) return "cannot create the SSIM graph: " + av_error(err);

  inout_ptr outputs(avfilter_inout_alloc());
  inout_ptr inputs(avfilter_inout_alloc());
  AVFilterInOut* dist_out = avfilter_inout_alloc();
  if (!outputs || !inputs || !dist_out) {
    avfilter_inout_free(&dist_out);
    return "out of memory";
  }
  outputs->name = av_strdup("ref");
  outputs->filter_ctx = s.ref_src;
  outputs->next = dist_out;
  dist_out->name = av_strdup("dist");
  dist_out->filter_ctx = s.dist_src;
  inputs->name = av_strdup("out");
  inputs->filter_ctx = s.sink;

  // The reference is the source scaled to the rendition's size with bicubic, as the ladders do.
  const std::string desc =
      fmt::format("[ref]scale={}:{}:flags=bicubic,format=yuv420p[r];[dist]format=yuv420p[d];[d][r]ssim=shortest=1[out]",
                  dist->width, dist->height);
  AVFilterInOut* in = inputs.release();
  AVFilterInOut* out = outputs.release();
  err = avfilter_graph_parse_ptr(s.graph.get(), desc.c_str(), &in, &out, nullptr);
  avfilter_inout_free(&in);
  avfilter_inout_free(&out);
  if (err < 0) return "cannot build the SSIM graph: " + av_error(err);
  if ((err = avfilter_graph_config(s.graph.get(), nullptr)) < 0)
    return "cannot configure the SSIM graph: " + av_error(err);
  s.score.width = dist->width;
  s.score.height = dist->height;
  return {};
}

void drain(job_state& s, AVFrame* out) {
  if (!s.graph) return;
  for (;;) {
    const int err = av_buffersink_get_frame(s.sink, out);
    if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return;
    if (err < 0) {
      s.fail("the SSIM graph failed: " + av_error(err));
      return;
    }
    const AVDictionaryEntry* all = av_dict_get(out->metadata, "lavfi.ssim.All", nullptr, 0);
    const AVDictionaryEntry* y = av_dict_get(out->metadata, "lavfi.ssim.Y", nullptr, 0);
    if (all) {
      const double v = std::strtod(all->value, nullptr);
      s.sum_all += v;
      s.min_all = std::min(s.min_all, v);
      s.sum_y += y ? std::strtod(y->value, nullptr) : 0;
      ++s.score.frames;
    }
    av_frame_unref(out);
  }
}

void close_inputs(job_state& s, AVFrame* out) {
  if (s.graph) {
    // A null frame marks the end (at the last frame's end); it can only fail on a closed source.
    if (av_buffersrc_add_frame(s.ref_src, nullptr) < 0 || av_buffersrc_add_frame(s.dist_src, nullptr) < 0) {
      s.fail("cannot close the SSIM graph's inputs");
      return;
    }
    drain(s, out);
  }
  s.dist_done = true;
}

}  // namespace

std::vector<ssim_score> compute_ssim(const std::string& source, const std::vector<ssim_job>& jobs,
                                     const std::string& scratch_dir, std::int64_t& source_frames, std::string& error) {
  source_frames = 0;
  std::vector<std::unique_ptr<job_state>> states;
  std::error_code ec;
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    auto s = std::make_unique<job_state>();
    s->score.label = jobs[i].label;
    if (jobs[i].files.empty()) {
      s->fail("no media files");
    } else {
      s->concat_path = (fs::path(scratch_dir) / fmt::format("ssim-{}.mp4", i)).string();
      std::string why = concat_files(jobs[i].files, s->concat_path);
      if (why.empty()) why = s->reader.open(s->concat_path);
      if (!why.empty()) s->fail(why);
    }
    states.push_back(std::move(s));
  }

  video_reader src;
  std::vector<ssim_score> scores;
  if (auto e = src.open(source); !e.empty()) {
    error = e;
  } else {
    AVRational fr = src.frame_rate();
    if (fr.num <= 0 || fr.den <= 0) fr = AVRational{30, 1};
    const AVRational tb{fr.den, fr.num};
    auto ref = make_frame(), dist = make_frame(), out = make_frame();
    int got = 0;
    while ((got = src.next(ref.get())) == 1) {
      ref->pts = source_frames;
      for (auto& sp : states) {
        job_state& s = *sp;
        if (!s.active()) continue;
        const int r = s.reader.next(dist.get());
        if (r < 0) {
          s.fail("cannot decode the rendition: " + av_error(r));
          continue;
        }
        if (r == 0) {
          close_inputs(s, out.get());
          continue;
        }
        ++s.score.rendition_frames;
        dist->pts = source_frames;
        if (!s.graph) {
          if (auto why = build_graph(s, ref.get(), dist.get(), tb); !why.empty()) {
            s.fail(why);
            av_frame_unref(dist.get());
            continue;
          }
        }
        int err = av_buffersrc_add_frame_flags(s.ref_src, ref.get(), AV_BUFFERSRC_FLAG_KEEP_REF);
        if (err >= 0) err = av_buffersrc_add_frame_flags(s.dist_src, dist.get(), 0);
        av_frame_unref(dist.get());
        if (err < 0) {
          s.fail("cannot feed the SSIM graph: " + av_error(err));
          continue;
        }
        drain(s, out.get());
      }
      av_frame_unref(ref.get());
      ++source_frames;
    }
    if (got < 0) error = "cannot decode the source: " + av_error(got);
    for (auto& sp : states) {
      job_state& s = *sp;
      if (!s.active()) continue;
      // The source ended first: count the rendition's extra frames, then finish.
      while (s.reader.next(dist.get()) == 1) {
        ++s.score.rendition_frames;
        av_frame_unref(dist.get());
      }
      close_inputs(s, out.get());
    }
  }

  for (auto& sp : states) {
    job_state& s = *sp;
    if (s.score.error.empty() && s.score.frames > 0) {
      s.score.all = s.sum_all / static_cast<double>(s.score.frames);
      s.score.y = s.sum_y / static_cast<double>(s.score.frames);
      s.score.min_all = s.min_all;
    } else if (s.score.error.empty()) {
      s.score.error = error.empty() ? "no frames compared" : error;
    }
    s.graph.reset();
    if (!s.concat_path.empty()) fs::remove(s.concat_path, ec);
    scores.push_back(s.score);
  }
  return scores;
}

}  // namespace spool_bench
