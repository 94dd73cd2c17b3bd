#pragma once
// Internal: one rung of the ladder: its own filter chain (deinterlace, fps, scale or fit, rotate,
// format) and encoder, on its own thread, fed by a bounded frame queue.
#include <spool/media/transcode.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <string>
#include <thread>

#include "media/chunk.hpp"
#include "media/ladder.hpp"
#include "media/package_out.hpp"
#include "media/segmenter.hpp"
#include "media/threads.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/opt.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

// One rung: its own filter chain (deinterlace, fps, scale, rotate, format) and encoder, on its own
// thread.
class rung_worker {
 public:
  rung_worker(run_state& run, completion& done, const transcode_options& opt, const video_source& src, rung r,
              geometry g, track_output out, int threads)
      : run_(run),
        done_(done),
        opt_(opt),
        src_(src),
        rung_(std::move(r)),
        geo_(g),
        out_(std::move(out)),
        threads_(threads),
        queue_(run, static_cast<std::size_t>(std::max(2, opt.queue_frames)), std::size_t{256} << 20) {
    track_.name = rung_.name;
    track_.video = true;
    track_.width = g.width;
    track_.height = g.height;
    track_.frame_rate = src.out_rate;
  }

  void start() {
    thread_ = std::thread([this] {
      run();
      done_.done();
    });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  frame_queue& queue() { return queue_; }
  track_info& track() { return track_; }
  double out_time() const { return out_time_.load(std::memory_order_relaxed); }
  std::int64_t frames() const { return frames_.load(std::memory_order_relaxed); }
  const std::string& name() const { return rung_.name; }

 private:
  void run() {
    try {
      lower_priority(opt_.encode_nice, opt_.encode_idle);
      av::frame_ptr f;
      while (queue_.pop(f)) {
        filter(f.get());
        f.reset();
      }
      if (run_.abort) return;
      if (graph_) {
        close_graph(end_pts_);
        drain_filter();
      }
      if (enc_) {
        encode(nullptr);
        writer_->finish();
      }
    } catch (const av::failure& e) {
      run_.set_error(e.code(), "rendition " + rung_.name + ": " + e.message());
    } catch (const std::bad_alloc&) {
      run_.set_error(errc::out_of_memory, "rendition " + rung_.name + ": out of memory");
    } catch (const std::exception& e) {
      run_.set_error(errc::internal, "rendition " + rung_.name + ": " + e.what());
    }
  }

  void build_graph(const AVFrame* f) {
    if (graph_) {
      // The decoder changed size or format mid-stream (concatenated recordings, a resized screen
      // capture): the old chain ends where the new frame starts, then a new chain takes over.
      close_graph(f->pts);
      drain_filter();
    }
    graph_.reset(avfilter_graph_alloc());
    if (!graph_) throw std::bad_alloc();
    graph_->nb_threads = 1;
    AVRational sar = f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio : AVRational{1, 1};
    std::string args = fmt::format("video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}", f->width,
                                   f->height, f->format, src_.time_base.num, src_.time_base.den, sar.num, sar.den);
    av::check(avfilter_graph_create_filter(&src_ctx_, avfilter_get_by_name("buffer"), "in", args.c_str(), nullptr,
                                           graph_.get()),
              "cannot create the filter source");
    av::check(avfilter_graph_create_filter(&sink_ctx_, avfilter_get_by_name("buffersink"), "out", nullptr, nullptr,
                                           graph_.get()),
              "cannot create the filter sink");
    bool swap = src_.rotation == 90 || src_.rotation == 270;
    std::string chain;
    if (src_.interlaced || f->interlaced_frame) chain += "bwdif=mode=send_frame:parity=auto:deint=interlaced,";
    chain += fmt::format("fps=fps={}/{},", src_.out_rate.num, src_.out_rate.den);
    chain += fit_chain(f, swap);
    if (src_.rotation == 90)
      chain += "transpose=clock,";
    else if (src_.rotation == 270)
      chain += "transpose=cclock,";
    else if (src_.rotation == 180)
      chain += "hflip,vflip,";
    chain += "format=pix_fmts=yuv420p,setsar=1";

    AVFilterInOut* outputs = avfilter_inout_alloc();
    AVFilterInOut* inputs = avfilter_inout_alloc();
    outputs->name = av_strdup("in");
    outputs->filter_ctx = src_ctx_;
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink_ctx_;
    int r = avfilter_graph_parse_ptr(graph_.get(), chain.c_str(), &inputs, &outputs, nullptr);
    avfilter_inout_free(&inputs);
    avfilter_inout_free(&outputs);
    av::check(r, "cannot build the filter chain");
    av::check(avfilter_graph_config(graph_.get(), nullptr), "cannot configure the filter chain");
    in_w_ = f->width;
    in_h_ = f->height;
    in_fmt_ = f->format;
  }

  // The rung's picture is planned from the source's display aspect; a segment of another aspect (a
  // 4:3 recording followed by a 16:9 one) is fitted inside it with black bars, never stretched.
  std::string fit_chain(const AVFrame* f, bool swap) const {
    int tw = swap ? geo_.height : geo_.width, th = swap ? geo_.width : geo_.height;
    AVRational sar = src_.container_sar.num > 0       ? src_.container_sar
                     : f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio
                                                      : AVRational{1, 1};
    double in = static_cast<double>(f->width) * av::q2d(sar) / std::max(1, f->height);
    double target = static_cast<double>(tw) / th;
    if (!(in > 0) || std::abs(in / target - 1) <= 0.01) return fmt::format("scale=w={}:h={}:flags=bicubic,", tw, th);
    int sw = tw, sh = th;
    if (in > target)
      sh = std::min(th, av::even(tw / in));
    else
      sw = std::min(tw, av::even(th * in));
    int x = (tw - sw) / 4 * 2, y = (th - sh) / 4 * 2;
    return fmt::format("scale=w={}:h={}:flags=bicubic,pad=w={}:h={}:x={}:y={}:color=black,", sw, sh, tw, th, x, y);
  }

  // Ends the chain at `end`: the fps stage keeps (and repeats) the last frame until then instead of
  // dropping it.
  void close_graph(std::int64_t end) {
    av::check(av_buffersrc_close(src_ctx_, end, AV_BUFFERSRC_FLAG_PUSH), "cannot flush the filters");
  }

  void filter(AVFrame* f) {
    if (!graph_ || f->width != in_w_ || f->height != in_h_ || f->format != in_fmt_) build_graph(f);
    // The decode thread bounded the duration already; the end only ever moves forward.
    end_pts_ = std::max(end_pts_, f->pts + std::max<std::int64_t>(f->pkt_duration, 1));
    av::check(av_buffersrc_add_frame_flags(src_ctx_, f, AV_BUFFERSRC_FLAG_KEEP_REF), "cannot filter a frame");
    drain_filter();
  }

  void drain_filter() {
    auto out = av::make_frame();
    for (;;) {
      if (run_.abort) return;
      int r = av_buffersink_get_frame(sink_ctx_, out.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) return;
      av::check(r, "cannot filter a frame");
      // A chain rebuilt mid-stream may emit an output slot the previous chain already filled.
      if (last_out_pts_ != AV_NOPTS_VALUE && out->pts <= last_out_pts_) {
        av_frame_unref(out.get());
        continue;
      }
      last_out_pts_ = out->pts;
      // A chunk encodes its own frames only; the ones before it just primed the fps stage.
      if (opt_.chunk &&
          !chunk_admits(*opt_.chunk, static_cast<double>(out->pts) * av::q2d(av_buffersink_get_time_base(sink_ctx_)),
                        src_.out_rate)) {
        av_frame_unref(out.get());
        continue;
      }
      if (!enc_) open_encoder(out.get());
      encode(out.get());
      av_frame_unref(out.get());
    }
  }

  void open_encoder(const AVFrame* first) {
    const AVCodec* codec = avcodec_find_encoder_by_name(opt_.plan.video.codec.c_str());
    if (!codec) av::fail(errc::encoder_unavailable, "encoder " + opt_.plan.video.codec + " is not available");
    enc_.reset(avcodec_alloc_context3(codec));
    if (!enc_) throw std::bad_alloc();
    AVRational tb = av_buffersink_get_time_base(sink_ctx_);
    enc_->width = first->width;
    enc_->height = first->height;
    enc_->pix_fmt = static_cast<AVPixelFormat>(first->format);
    enc_->sample_aspect_ratio = AVRational{1, 1};
    enc_->time_base = tb;
    enc_->framerate = src_.out_rate;
    enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    enc_->thread_count = threads_;
    // encode() forces a keyframe on every grid line. The encoder's own interval lies well beyond the
    // grid so it never adds one of its own: when gop_s × fps is not a whole number of frames, an
    // interval rounded down would put an extra keyframe one frame before a forced one.
    const int grid =
        std::max(1, static_cast<int>(std::ceil(opt_.plan.packaging.gop_s * av::q2d(src_.out_rate) - 1e-6)));
    const int keyint = 2 * grid + 1;
    enc_->gop_size = keyint;
    enc_->keyint_min = grid;
    if (rung_.maxrate_kbps > 0) {
      enc_->rc_max_rate = rung_.maxrate_kbps * 1000;
      enc_->rc_buffer_size =
          static_cast<int>((rung_.bufsize_kbps > 0 ? rung_.bufsize_kbps : 2 * rung_.maxrate_kbps) * 1000);
    }
    enc_->color_range = AVCOL_RANGE_MPEG;
    AVDictionary* opts = nullptr;
    const std::string& name = opt_.plan.video.codec;
    std::string crf = std::to_string(rung_.crf);
    if (name == "libx264") {
      av_dict_set(&opts, "preset", opt_.plan.video.preset.c_str(), 0);
      av_dict_set(&opts, "profile", opt_.plan.video.profile.c_str(), 0);
      av_dict_set(&opts, "crf", crf.c_str(), 0);
      av_dict_set(&opts, "forced-idr", "1", 0);
      // Keyframes only where we force them: no scene-cut keyframes, closed GOPs.
      av_dict_set(&opts, "x264-params", "scenecut=0:open-gop=0", 0);
    } else if (name == "libx265") {
      av_dict_set(&opts, "preset", opt_.plan.video.preset.c_str(), 0);
      av_dict_set(&opts, "crf", crf.c_str(), 0);
      av_dict_set(&opts, "forced-idr", "1", 0);
      av_dict_set(&opts, "x265-params",
                  fmt::format("scenecut=0:open-gop=0:keyint={}:min-keyint={}:log-level=error", keyint, grid).c_str(),
                  0);
    } else if (name == "libsvtav1") {
      av_dict_set(&opts, "crf", crf.c_str(), 0);
      av_dict_set(&opts, "preset", "10", 0);
      // SVT-AV1 honours a forced keyframe (pict_type I) only when asked to; and libsvtav1 refuses an
      // svtav1-params key it does not know only with AV_EF_EXPLODE (else it logs and goes on).
      av_dict_set(&opts, "svtav1-params", "scd=0:enable-force-key-frames=1", 0);
      enc_->err_recognition |= AV_EF_EXPLODE;
    }
    int r = avcodec_open2(enc_.get(), codec, &opts);
    if (r < 0) {
      av_dict_free(&opts);
      av::fail_av(r, "cannot open encoder " + name, errc::feature_unsupported);
    }
    require_consumed(opts, "encoder " + name);
    half_frame_ = 0.5 / av::q2d(src_.out_rate);
    writer_ = std::make_unique<cmaf_writer>(out_, enc_.get(), opt_.plan.packaging.segment_s, track_);
    pkt_ = av::make_packet();
  }

  void encode(AVFrame* f) {
    if (f) {
      double t = static_cast<double>(f->pts) * av::q2d(enc_->time_base);
      // The keyframe grid is absolute (multiples of gop_s), hence identical in every rung. A grid line
      // goes to the first frame within half a frame of it; one falling exactly between two frames goes
      // to the earlier, whichever way the rounding goes (hence the nanosecond).
      const double reach = t + half_frame_ + 1e-9;
      if (reach >= next_key_) {
        f->pict_type = AV_PICTURE_TYPE_I;
        next_key_ = (std::floor(reach / opt_.plan.packaging.gop_s) + 1) * opt_.plan.packaging.gop_s;
      } else {
        f->pict_type = AV_PICTURE_TYPE_NONE;
      }
      out_time_.store(t, std::memory_order_relaxed);
      frames_.fetch_add(1, std::memory_order_relaxed);
    }
    check_own(avcodec_send_frame(enc_.get(), f), "cannot encode a frame");
    for (;;) {
      int r = avcodec_receive_packet(enc_.get(), pkt_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      check_own(r, "cannot encode a frame");
      writer_->write(pkt_.get());
      av_packet_unref(pkt_.get());
    }
  }

  run_state& run_;
  completion& done_;
  const transcode_options& opt_;
  const video_source& src_;
  rung rung_;
  geometry geo_;
  track_output out_;
  int threads_;
  frame_queue queue_;
  std::thread thread_;
  track_info track_;
  av::graph_ptr graph_;
  AVFilterContext* src_ctx_ = nullptr;
  AVFilterContext* sink_ctx_ = nullptr;
  int in_w_ = 0, in_h_ = 0, in_fmt_ = -1;
  std::int64_t end_pts_ = 0;
  std::int64_t last_out_pts_ = AV_NOPTS_VALUE;
  av::codec_ptr enc_;
  av::packet_ptr pkt_;
  std::unique_ptr<cmaf_writer> writer_;
  double next_key_ = 0, half_frame_ = 0;
  std::atomic<double> out_time_{0};
  std::atomic<std::int64_t> frames_{0};
};

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
