#include "media/pipeline.hpp"

#include "media/thumbnails.hpp"

#include <spool/package_layout.hpp>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavfilter/buffersrc.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

namespace fs = std::filesystem;

namespace spool::media {
namespace {

using clock = std::chrono::steady_clock;

// Lowers the calling thread's CPU priority (Linux nice values are per thread; threads the encoder
// starts afterwards inherit it).
void lower_priority(int nice_delta) {
  if (nice_delta <= 0) return;
  auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  int cur = ::getpriority(PRIO_PROCESS, tid);
  if (errno == 0) ::setpriority(PRIO_PROCESS, tid, std::min(19, cur + nice_delta));
}

std::size_t frame_bytes(const AVFrame* f) {
  std::size_t n = 0;
  for (auto* b : f->buf)
    if (b) n += b->size;
  return n;
}

// Shared failure state: the first error wins and stops every thread.
class run_state {
 public:
  std::atomic<bool> abort{false};

  void set_error(const error_code& ec, std::string detail) {
    {
      std::lock_guard lock(mutex_);
      if (!ec_) {
        ec_ = ec;
        detail_ = std::move(detail);
      }
    }
    stop();
  }
  void stop() {
    abort = true;
    std::lock_guard lock(mutex_);
    for (auto* w : wakers_) w->notify_all();
  }
  void add_waker(std::condition_variable* cv) {
    std::lock_guard lock(mutex_);
    wakers_.push_back(cv);
  }
  bool failed(error_code& ec, std::string& detail) {
    std::lock_guard lock(mutex_);
    ec = ec_;
    detail = detail_;
    return static_cast<bool>(ec_);
  }
  std::mutex& mutex() { return mutex_; }

 private:
  std::mutex mutex_;
  error_code ec_;
  std::string detail_;
  std::vector<std::condition_variable*> wakers_;
};

// Bounded in frames and bytes: the decoder waits when an encoder falls behind, so memory does not
// grow with the input's length.
class frame_queue {
 public:
  frame_queue(run_state& run, std::size_t max_frames, std::size_t max_bytes)
      : run_(run), max_frames_(max_frames), max_bytes_(max_bytes) {
    run_.add_waker(&cv_);
  }
  bool push(av::frame_ptr f) {
    std::size_t n = frame_bytes(f.get());
    std::unique_lock lock(mutex_);
    // Timed waits: an abort raised between a check and the wait is still seen promptly.
    while (!(run_.abort || q_.empty() || (q_.size() < max_frames_ && bytes_ + n <= max_bytes_)))
      cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (run_.abort) return false;
    bytes_ += n;
    q_.push_back(std::move(f));
    cv_.notify_all();
    return true;
  }
  /// False at the end of the stream or on abort.
  bool pop(av::frame_ptr& out) {
    std::unique_lock lock(mutex_);
    while (!(run_.abort || !q_.empty() || closed_)) cv_.wait_for(lock, std::chrono::milliseconds(50));
    if (run_.abort || q_.empty()) return false;
    out = std::move(q_.front());
    q_.pop_front();
    bytes_ -= frame_bytes(out.get());
    cv_.notify_all();
    return true;
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    cv_.notify_all();
  }

 private:
  run_state& run_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<av::frame_ptr> q_;
  std::size_t max_frames_, max_bytes_, bytes_ = 0;
  bool closed_ = false;
};

// Counts the media threads still running; the watching thread waits on it.
struct completion {
  std::mutex mutex;
  std::condition_variable cv;
  int running = 0;
  void done() {
    std::lock_guard lock(mutex);
    --running;
    cv.notify_all();
  }
};

struct geometry {
  int width = 0, height = 0;  ///< output, after rotation
};

AVRational output_rate(AVRational src, double max_fps) {
  double fps = av::q2d(src);
  if (!(fps > 0) || fps > 1000) return AVRational{25, 1};
  // A slideshow's average, or a container's claim of one frame an hour: a few frames per keyframe
  // interval keep the grid, and a static picture costs x264 next to nothing.
  if (fps < 10) return std::min(AVRational{10, 1}, av_d2q(std::max(max_fps, 1.0), 1001000), [](AVRational a, AVRational b) {
           return av_cmp_q(a, b) < 0;
         });
  // Snap near-standard rates so a VFR source's average does not become a strange CFR rate. Within
  // 2%: millisecond timestamps (Matroska, FLV) put a 30 fps average at 30.3.
  static const AVRational standard[] = {{24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1},
                                        {50, 1},       {60000, 1001}, {60, 1}, {15, 1}, {12, 1}, {10, 1}};
  double best = 0.02;
  for (auto r : standard) {
    double off = std::abs(fps - av::q2d(r)) / av::q2d(r);
    if (off < best) {
      best = off;
      src = r;
    }
  }
  fps = av::q2d(src);
  if (fps <= max_fps + 0.01) {
    if (src.den > 1001) src = av_d2q(fps, 1001000);
    return src;
  }
  if (fps / 2 <= max_fps + 0.01) return av_mul_q(src, AVRational{1, 2});
  return av_d2q(max_fps, 1001000);
}

using av::even;

// The container's average rate, unless the timestamps say frames come much faster than it claims
// (a Matroska DefaultDuration of an hour on a 30 fps stream).
AVRational source_rate(const AVStream* st) {
  AVRational avg = st->avg_frame_rate, real = st->r_frame_rate;
  bool avg_ok = avg.num > 0 && avg.den > 0 && av::q2d(avg) >= 10;
  bool real_ok = real.num > 0 && real.den > 0 && av::q2d(real) >= 10 && av::q2d(real) <= 1000;
  if (!avg_ok && real_ok) return real;
  return avg.num > 0 && avg.den > 0 ? avg : real;
}

struct video_source {
  AVRational time_base{1, 1};
  std::int64_t origin = 0;  ///< subtracted from every timestamp, in time_base
  int rotation = 0;
  bool interlaced = false;
  AVRational out_rate{30, 1};
  double duration_s = 0;
  AVRational container_sar{0, 1};  ///< the container's sample aspect ratio, which wins over the bitstream's
};

// Timestamps, relative to the origin, in the stream's time base, that a frame may reach: the duration
// limit, and the end the container declares. A container can claim hours for one frame; a frame is
// shown at most until the declared end (or, with none declared, for a second), never past the limit.
struct frame_bounds {
  std::int64_t limit = INT64_MAX;          ///< max_duration_s
  std::int64_t declared_end = AV_NOPTS_VALUE;
  std::int64_t frame_step = 1;

  std::int64_t bounded_duration(std::int64_t pts, std::int64_t duration) const {
    std::int64_t longest = declared_end != AV_NOPTS_VALUE && declared_end > pts ? declared_end - pts : 0;
    longest = std::max({longest, frame_step, std::int64_t{1}});
    if (declared_end == AV_NOPTS_VALUE) longest = std::max(frame_step, one_second);
    return std::clamp<std::int64_t>(duration, 1, std::min(longest, limit));
  }
  std::int64_t one_second = 1;
};

// ---------------------------------------------------------------------------------------------
// One rung: its own filter chain (deinterlace, fps, scale, rotate, format) and encoder, on its own
// thread.
class rung_worker {
 public:
  rung_worker(run_state& run, completion& done, const transcode_options& opt, const video_source& src, rung r,
              geometry g, track_output out, int threads)
      : run_(run), done_(done), opt_(opt), src_(src), rung_(std::move(r)), geo_(g), out_(std::move(out)), threads_(threads),
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
      lower_priority(opt_.encode_nice);
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
    std::string args = fmt::format("video_size={}x{}:pix_fmt={}:time_base={}/{}:pixel_aspect={}/{}", f->width, f->height,
                                   f->format, src_.time_base.num, src_.time_base.den, sar.num, sar.den);
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
    if (src_.rotation == 90) chain += "transpose=clock,";
    else if (src_.rotation == 270) chain += "transpose=cclock,";
    else if (src_.rotation == 180) chain += "hflip,vflip,";
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
    AVRational sar = src_.container_sar.num > 0 ? src_.container_sar
                     : f->sample_aspect_ratio.num > 0 ? f->sample_aspect_ratio : AVRational{1, 1};
    double in = static_cast<double>(f->width) * av::q2d(sar) / std::max(1, f->height);
    double target = static_cast<double>(tw) / th;
    if (!(in > 0) || std::abs(in / target - 1) <= 0.01) return fmt::format("scale=w={}:h={}:flags=bicubic,", tw, th);
    int sw = tw, sh = th;
    if (in > target) sh = std::min(th, even(tw / in));
    else sw = std::min(tw, even(th * in));
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
      enc_->rc_buffer_size = static_cast<int>((rung_.bufsize_kbps > 0 ? rung_.bufsize_kbps : 2 * rung_.maxrate_kbps) * 1000);
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

// ---------------------------------------------------------------------------------------------
// Audio: decoded, resampled and AAC-encoded once; one track shared by every variant.
class audio_branch {
 public:
  audio_branch(const audio_settings& s, AVStream* st, std::int64_t origin, track_output out, double max_duration_s)
      : settings_(s), st_(st), origin_(origin), out_(std::move(out)),
        max_samples_(static_cast<std::int64_t>(std::min(max_duration_s, 1e9) * s.sample_rate)) {
    track_.name = package_layout::audio_dir;
    track_.video = false;
  }

  /// What the decoder could not read and what was concealed or dropped for it.
  struct counters {
    std::int64_t packets = 0;
    std::int64_t decoded_frames = 0;
    std::int64_t bad_packets = 0;       ///< concealed with silence of their duration
    std::int64_t overlaps_dropped = 0;  ///< frames that started well before the audio written so far
    std::int64_t gaps_filled = 0;       ///< forward jumps filled with silence
    std::int64_t gap_samples = 0;
    std::int64_t tail_samples = 0;      ///< undecodable end concealed with silence
  };
  const counters& stats() const { return stats_; }

  void open() {
    const AVCodec* dcodec = avcodec_find_decoder(st_->codecpar->codec_id);
    if (!dcodec) av::fail(errc::codec_unsupported, std::string("no decoder for audio codec ") + avcodec_get_name(st_->codecpar->codec_id));
    dec_.reset(avcodec_alloc_context3(dcodec));
    if (!dec_) throw std::bad_alloc();
    av::check(avcodec_parameters_to_context(dec_.get(), st_->codecpar), "cannot set up the audio decoder");
    dec_->pkt_timebase = st_->time_base;
    int r = avcodec_open2(dec_.get(), dcodec, nullptr);
    if (r < 0) av::fail_av(r, "cannot open the audio decoder", errc::codec_unsupported);

    const AVCodec* ecodec = avcodec_find_encoder(AV_CODEC_ID_AAC);
    if (!ecodec) av::fail(errc::encoder_unavailable, "no AAC encoder in this FFmpeg");
    enc_.reset(avcodec_alloc_context3(ecodec));
    if (!enc_) throw std::bad_alloc();
    enc_->sample_rate = settings_.sample_rate;
    av_channel_layout_default(&enc_->ch_layout, settings_.channels);
    enc_->sample_fmt = AV_SAMPLE_FMT_FLTP;
    enc_->bit_rate = settings_.bitrate_kbps * 1000;
    enc_->time_base = AVRational{1, settings_.sample_rate};
    enc_->profile = FF_PROFILE_AAC_LOW;
    enc_->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    av::check(avcodec_open2(enc_.get(), ecodec, nullptr), "cannot open the AAC encoder", errc::encoder_unavailable);
    track_.sample_rate = settings_.sample_rate;
    track_.channels = settings_.channels;
    fifo_.reset(av_audio_fifo_alloc(AV_SAMPLE_FMT_FLTP, settings_.channels, 4096));
    if (!fifo_) throw std::bad_alloc();
    writer_ = std::make_unique<cmaf_writer>(out_, enc_.get(), segment_s_, track_);
    frame_ = av::make_frame();
    pkt_ = av::make_packet();
  }

  void set_segment(double s) { segment_s_ = s; }
  int stream_index() const { return st_->index; }
  track_info& track() { return track_; }
  /// Read by the progress reporter while the decode thread encodes.
  double out_time() const { return out_time_.load(std::memory_order_relaxed); }

  /// Decodes a packet (nullptr flushes the decoder).
  void decode(const AVPacket* pkt) {
    if (pkt) {
      ++stats_.packets;
      note_packet_end(pkt);
    }
    int r = avcodec_send_packet(dec_.get(), pkt);
    if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode audio");
    // A corrupt packet is a glitch, not a failed lecture: it becomes silence of its own length, so
    // what follows stays in sync, and it is counted in the result's warnings.
    bool bad = r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF;
    for (;;) {
      r = avcodec_receive_frame(dec_.get(), frame_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode audio");
      if (r < 0) {
        bad = true;
        continue;
      }
      ++stats_.decoded_frames;
      if (frame_->sample_rate > 0)
        last_frame_samples_ = av_rescale(frame_->nb_samples, settings_.sample_rate, frame_->sample_rate);
      resample(frame_.get());
      av_frame_unref(frame_.get());
    }
    if (bad && pkt) {
      ++stats_.bad_packets;
      if (started_) push_silence(concealed_length(pkt));
    }
  }

  void finish() {
    decode(nullptr);
    if (swr_) {  // what the resampler still holds
      push_converted(nullptr, 0);
    }
    // Packets damaged past the point where a parser could still split them leave the track short of
    // where the source's packets end: that tail is concealed too.
    std::int64_t have = written_ + av_audio_fifo_size(fifo_.get());
    if (started_ && packets_end_ - have > settings_.sample_rate / 10) {
      stats_.tail_samples = packets_end_ - have;
      push_silence(packets_end_ - have);
    }
    encode_fifo(true);
    av::check(avcodec_send_frame(enc_.get(), nullptr), "cannot flush the AAC encoder");
    receive();
    writer_->finish();
  }

 private:
  void resample(AVFrame* f) {
    if (!swr_ || f->sample_rate != in_rate_ || f->format != in_fmt_ ||
        av_channel_layout_compare(&f->ch_layout, &in_layout_) != 0) {
      if (swr_) push_converted(nullptr, 0);
      SwrContext* s = nullptr;
      AVChannelLayout in_layout = f->ch_layout;
      if (in_layout.order == AV_CHANNEL_ORDER_UNSPEC) av_channel_layout_default(&in_layout, f->ch_layout.nb_channels);
      av::check(swr_alloc_set_opts2(&s, &enc_->ch_layout, AV_SAMPLE_FMT_FLTP, settings_.sample_rate, &in_layout,
                                    static_cast<AVSampleFormat>(f->format), f->sample_rate, 0, nullptr),
                "cannot set up the resampler");
      swr_.reset(s);
      av::check(swr_init(swr_.get()), "cannot set up the resampler", errc::feature_unsupported);
      in_rate_ = f->sample_rate;
      in_fmt_ = f->format;
      av_channel_layout_uninit(&in_layout_);
      av_channel_layout_copy(&in_layout_, &f->ch_layout);
    }
    std::int64_t ts = f->best_effort_timestamp;
    if (ts != AV_NOPTS_VALUE) {
      // Checked before any arithmetic that could overflow: a crafted timestamp can be anywhere in int64.
      const std::int64_t ts_limit = av_rescale_q(max_samples_, AVRational{1, settings_.sample_rate}, st_->time_base);
      std::int64_t rel = 0;
      bool overflow = __builtin_sub_overflow(ts, origin_, &rel);
      if ((overflow && ts > origin_) || rel > ts_limit) fail_too_long();
      if (overflow || rel < -ts_limit) {
        ++stats_.overlaps_dropped;  // further before the picture than any input may last
        return;
      }
      std::int64_t at = av_rescale_q(rel, st_->time_base, AVRational{1, settings_.sample_rate});
      if (!started_) {
        started_ = true;
        // Audio that starts after the picture is placed where it belongs; before it, trimmed.
        next_pts_ = std::max<std::int64_t>(0, at);
        written_ = next_pts_;
        to_drop_ = at < 0 ? -at : 0;
      } else {
        std::int64_t expected = written_ + av_audio_fifo_size(fifo_.get()) +
                                swr_get_delay(swr_.get(), settings_.sample_rate);
        std::int64_t drift = at - expected;
        std::int64_t limit = settings_.sample_rate / 10;
        if (drift > limit) {
          // A gap in the source: silence keeps later audio in sync with the picture.
          ++stats_.gaps_filled;
          stats_.gap_samples += drift;
          push_silence(drift);
        } else if (drift < -limit) {
          ++stats_.overlaps_dropped;
          return;  // overlapping audio: dropped rather than pushing everything late
        }
      }
    } else if (!started_) {
      started_ = true;
    }
    push_converted(f->extended_data, f->nb_samples);
  }

  // One encoder frame of silence at a time, however long the gap: memory stays that of a frame,
  // and the duration limit stops a gap that runs past it on the way.
  void push_silence(std::int64_t n) {
    if (n <= 0) return;
    if (n > max_samples_) fail_too_long();
    int chunk = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    if (!silence_) {
      silence_ = av::make_frame();
      silence_->nb_samples = chunk;
      silence_->format = AV_SAMPLE_FMT_FLTP;
      av_channel_layout_copy(&silence_->ch_layout, &enc_->ch_layout);
      av::check(av_frame_get_buffer(silence_.get(), 0), "cannot allocate silence");
      av_samples_set_silence(silence_->extended_data, 0, chunk, settings_.channels, AV_SAMPLE_FMT_FLTP);
    }
    while (n > 0) {
      int k = static_cast<int>(std::min<std::int64_t>(n, chunk));
      av::check(av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(silence_->extended_data), k),
                "cannot buffer audio");
      n -= k;
      encode_fifo(false);
    }
  }

  // How much audio a packet that failed to decode stood for: its own duration; else its size at the
  // stream's bit rate (a parser that lost sync hands over everything up to the next frame it finds
  // as one packet); else the length of the last frame that decoded.
  std::int64_t concealed_length(const AVPacket* pkt) const {
    const int rate = settings_.sample_rate;
    if (pkt->duration > 0) return av_rescale_q(pkt->duration, st_->time_base, AVRational{1, rate});
    std::int64_t bit_rate = st_->codecpar->bit_rate;
    if (bit_rate > 0 && pkt->size > 0)
      return std::max(last_frame_samples_, av_rescale(static_cast<std::int64_t>(pkt->size) * 8, rate, bit_rate));
    return last_frame_samples_;
  }

  // Where the source's packets say the audio ends, at the output rate; timestamps outside the
  // duration limit are left to resample(), which refuses them.
  void note_packet_end(const AVPacket* pkt) {
    if (pkt->pts == AV_NOPTS_VALUE) return;
    std::int64_t rel = 0, end = 0;
    if (__builtin_sub_overflow(pkt->pts, origin_, &rel) ||
        __builtin_add_overflow(rel, std::max<std::int64_t>(pkt->duration, 0), &end))
      return;
    const std::int64_t ts_limit = av_rescale_q(max_samples_, AVRational{1, settings_.sample_rate}, st_->time_base);
    if (end <= 0 || end > ts_limit) return;
    packets_end_ = std::max(packets_end_, av_rescale_q(end, st_->time_base, AVRational{1, settings_.sample_rate}));
  }

  [[noreturn]] void fail_too_long() const {
    av::fail(errc::too_long, fmt::format("the audio runs past the duration limit of {:.0f} s",
                                         static_cast<double>(max_samples_) / settings_.sample_rate));
  }

  void push_converted(std::uint8_t** data, int n) {
    int cap = swr_get_out_samples(swr_.get(), n);
    if (cap <= 0) return;
    auto out = av::make_frame();
    out->nb_samples = cap;
    out->format = AV_SAMPLE_FMT_FLTP;
    av_channel_layout_copy(&out->ch_layout, &enc_->ch_layout);
    av::check(av_frame_get_buffer(out.get(), 0), "cannot allocate audio");
    int got = swr_convert(swr_.get(), out->extended_data, cap, const_cast<const std::uint8_t**>(data), n);
    av::check(got, "cannot resample audio");
    if (got > 0)
      av::check(av_audio_fifo_write(fifo_.get(), reinterpret_cast<void**>(out->extended_data), got), "cannot buffer audio");
    if (to_drop_ > 0) {
      int drop = static_cast<int>(std::min<std::int64_t>(to_drop_, av_audio_fifo_size(fifo_.get())));
      av_audio_fifo_drain(fifo_.get(), drop);
      to_drop_ -= drop;
    }
    encode_fifo(false);
  }

  void encode_fifo(bool final) {
    int fs = enc_->frame_size > 0 ? enc_->frame_size : 1024;
    while (av_audio_fifo_size(fifo_.get()) >= fs || (final && av_audio_fifo_size(fifo_.get()) > 0)) {
      int n = std::min(fs, av_audio_fifo_size(fifo_.get()));
      auto f = av::make_frame();
      f->nb_samples = n;
      f->format = AV_SAMPLE_FMT_FLTP;
      f->sample_rate = settings_.sample_rate;
      av_channel_layout_copy(&f->ch_layout, &enc_->ch_layout);
      av::check(av_frame_get_buffer(f.get(), 0), "cannot allocate audio");
      av_audio_fifo_read(fifo_.get(), reinterpret_cast<void**>(f->extended_data), n);
      if (next_pts_ + n > max_samples_) fail_too_long();
      f->pts = next_pts_;
      next_pts_ += n;
      written_ += n;
      out_time_.store(static_cast<double>(next_pts_) / settings_.sample_rate, std::memory_order_relaxed);
      check_own(avcodec_send_frame(enc_.get(), f.get()), "cannot encode audio");
      receive();
    }
  }

  void receive() {
    for (;;) {
      int r = avcodec_receive_packet(enc_.get(), pkt_.get());
      if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
      check_own(r, "cannot encode audio");
      writer_->write(pkt_.get());
      av_packet_unref(pkt_.get());
    }
  }

  audio_settings settings_;
  AVStream* st_;
  std::int64_t origin_;
  track_output out_;
  double segment_s_ = 6;
  track_info track_;
  av::codec_ptr dec_, enc_;
  av::swr_ptr swr_;
  av::fifo_ptr fifo_;
  std::unique_ptr<cmaf_writer> writer_;
  av::frame_ptr frame_;
  av::packet_ptr pkt_;
  int in_rate_ = 0, in_fmt_ = -1;
  AVChannelLayout in_layout_{};
  bool started_ = false;
  std::int64_t next_pts_ = 0, written_ = 0;
  std::atomic<double> out_time_{0};
  std::int64_t to_drop_ = 0;  ///< samples before the first picture, still to trim
  std::int64_t max_samples_;
  std::int64_t last_frame_samples_ = 0;  ///< at the output rate
  std::int64_t packets_end_ = 0;         ///< at the output rate, relative to the origin
  av::frame_ptr silence_;
  counters stats_;
};

struct rung_plan {
  rung r;
  geometry g;
};

// The ladder for this source: never upscale; the rung height is the short side, so a portrait
// 1080x1920 video's "1080p" rung is 1080 wide.
std::vector<rung_plan> plan_rungs(const std::vector<rung>& rungs, int display_w, int display_h) {
  std::vector<rung_plan> out;
  bool portrait = display_h > display_w;
  int short_side = std::min(display_w, display_h);
  double dar = static_cast<double>(display_w) / display_h;
  auto dims = [&](int s) {
    geometry g;
    if (portrait) {
      g.width = even(s);
      g.height = even(s / dar);
    } else {
      g.height = even(s);
      g.width = even(s * dar);
    }
    return g;
  };
  for (const auto& r : rungs)
    if (r.height <= short_side) out.push_back({r, dims(r.height)});
  if (out.empty() && !rungs.empty()) {
    // A source smaller than every rung still gets one rendition, at its own size.
    auto smallest = *std::min_element(rungs.begin(), rungs.end(), [](const rung& a, const rung& b) { return a.height < b.height; });
    rung r = smallest;
    r.height = even(short_side);
    r.name = fmt::format("{}p", r.height);
    out.push_back({r, dims(r.height)});
  }
  return out;
}

int encoder_threads(const transcode_options& opt, const geometry& g, std::int64_t total_px) {
  if (opt.encoder_threads > 0) return opt.encoder_threads;
  int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  double share = total_px > 0 ? static_cast<double>(g.width) * g.height / static_cast<double>(total_px) : 1.0;
  return std::clamp(static_cast<int>(std::lround(share * cores * 2)), 1, std::max(1, cores * 2));
}

// The latest end the container declares for the stream (its own duration or the file's), relative to
// the origin, in the stream's time base; AV_NOPTS_VALUE when it declares none.
std::int64_t declared_end(const AVFormatContext* ctx, const AVStream* st, std::int64_t origin) {
  std::int64_t end = AV_NOPTS_VALUE;
  if (st->duration > 0 && st->duration != AV_NOPTS_VALUE) {
    std::int64_t start = st->start_time != AV_NOPTS_VALUE ? st->start_time : origin;
    std::int64_t e = 0;
    if (!__builtin_add_overflow(start, st->duration, &e) && !__builtin_sub_overflow(e, origin, &e)) end = e;
  }
  if (ctx->duration > 0 && ctx->duration != AV_NOPTS_VALUE) {
    std::int64_t start_us = ctx->start_time != AV_NOPTS_VALUE ? ctx->start_time : 0;
    std::int64_t e = 0;
    if (!__builtin_add_overflow(start_us, ctx->duration, &e)) {
      e = av_rescale_q(e, AV_TIME_BASE_Q, st->time_base);
      if (!__builtin_sub_overflow(e, origin, &e)) end = end == AV_NOPTS_VALUE ? e : std::max(end, e);
    }
  }
  return end;
}

// Where a track's files go: the package, and a local copy when a progressive MP4 is made from it.
track_output output_for(io::package_sink& sink, const std::string& name, const fs::path& workspace, bool copy) {
  track_output o;
  o.sink = &sink;
  o.dir = name;
  if (copy && !workspace.empty()) o.local_copy = workspace / name;
  return o;
}

}  // namespace

void run_pipeline(opened_input& in, const probe_result& probe, const transcode_options& opt, io::package_sink& sink,
                  const fs::path& workspace,
                  input_guard& guard, pipeline_output& out, clock::time_point started) {
  AVFormatContext* ctx = in.get();
  const plan& p = opt.plan;
  int vi = p.video.rungs.empty() ? -1 : probe.video_index;
  int ai = p.audio.enabled ? probe.audio_index : -1;
  if (probe.video_index < 0 && probe.audio_index < 0) av::fail(errc::input_no_streams, "the input has neither video nor audio");
  if (probe.video_index < 0 && !opt.policy.allow_audio_only)
    av::fail(errc::audio_only_refused, "the input has no video stream");
  if (vi < 0 && ai < 0) av::fail(errc::input_no_streams, "nothing in the input matches the plan (no video rungs or audio)");
  if (p.audio.enabled && ai < 0) {
    // An audio stream whose format probing could not read (its frames damaged beyond a parser's
    // reach) is audio the source has and the package would silently lack.
    for (unsigned i = 0; i < ctx->nb_streams; ++i) {
      const AVCodecParameters* par = ctx->streams[i]->codecpar;
      if (par->codec_type == AVMEDIA_TYPE_AUDIO && (par->sample_rate <= 0 || par->ch_layout.nb_channels <= 0))
        av::fail(errc::input_undecodable,
                 fmt::format("the input's audio stream ({}) cannot be read; a job may ask for video only "
                             "(audio.enabled = false)",
                             avcodec_get_name(par->codec_id)));
    }
  }

  for (int i : {vi, ai}) {
    if (i < 0 || decoder_allowed(ctx->streams[i]->codecpar->codec_id, opt.policy)) continue;
    bool video = i == vi;
    av::fail(errc::codec_not_allowed,
             fmt::format("the input's {} codec '{}' is not on the decoder allow-list{}", video ? "video" : "audio",
                         avcodec_get_name(ctx->streams[i]->codecpar->codec_id),
                         video ? "" : " (a job may ask for video only: audio.enabled = false)"));
  }
  for (unsigned i = 0; i < ctx->nb_streams; ++i)
    if (static_cast<int>(i) != vi && static_cast<int>(i) != ai) ctx->streams[i]->discard = AVDISCARD_ALL;

  // Time zero is the first picture (an AAC track's priming often starts a few ms earlier, and must
  // not push the picture onto a later frame slot); without video, the container's start.
  std::int64_t origin_us = ctx->start_time != AV_NOPTS_VALUE ? ctx->start_time : 0;
  if (vi >= 0 && ctx->streams[vi]->start_time != AV_NOPTS_VALUE)
    origin_us = av_rescale_q(ctx->streams[vi]->start_time, ctx->streams[vi]->time_base, AV_TIME_BASE_Q);
  double duration_s = probe.duration_s;
  run_state run;
  completion done;
  video_source src;
  av::codec_ptr vdec;
  std::vector<std::unique_ptr<rung_worker>> workers;
  std::unique_ptr<audio_branch> audio;
  std::unique_ptr<thumbnailer> thumbs;

  if (vi >= 0) {
    AVStream* st = ctx->streams[vi];
    const AVCodec* codec = avcodec_find_decoder(st->codecpar->codec_id);
    if (!codec) av::fail(errc::codec_unsupported, std::string("no decoder for video codec ") + avcodec_get_name(st->codecpar->codec_id));
    if (!avcodec_find_encoder_by_name(p.video.codec.c_str()))
      av::fail(errc::encoder_unavailable, "encoder " + p.video.codec + " is not available in this FFmpeg");
    vdec.reset(avcodec_alloc_context3(codec));
    if (!vdec) throw std::bad_alloc();
    av::check(avcodec_parameters_to_context(vdec.get(), st->codecpar), "cannot set up the video decoder");
    vdec->pkt_timebase = st->time_base;
    vdec->thread_count = 1;
    vdec->max_pixels = opt.policy.max_pixels;
    const stream_info& si = probe.streams[static_cast<std::size_t>(vi)];
    src.time_base = st->time_base;
    src.origin = av_rescale_q(origin_us, AV_TIME_BASE_Q, st->time_base);
    src.rotation = si.rotation;
    src.interlaced = si.interlaced;
    src.out_rate = output_rate(source_rate(st), p.video.max_fps);
    src.duration_s = duration_s;
    src.container_sar = st->sample_aspect_ratio;
    if (si.display_width <= 0 || si.display_height <= 0) av::fail(errc::input_undecodable, "the video stream has no size");
    auto rungs = plan_rungs(p.video.rungs, si.display_width, si.display_height);
    // The progressive MP4's rung: the named one, or the first produced when a small source dropped it.
    std::string progressive;
    if (!p.packaging.progressive.empty() && !rungs.empty()) {
      progressive = rungs.front().r.name;
      for (const auto& rp : rungs)
        if (rp.r.name == p.packaging.progressive) progressive = rp.r.name;
    }
    std::int64_t total_px = 0;
    for (const auto& rp : rungs) {
      std::int64_t px = static_cast<std::int64_t>(rp.g.width) * rp.g.height;
      if (px > opt.policy.max_pixels)
        av::fail(errc::too_many_pixels, fmt::format("rendition {} would be {}x{}, over the limit of {} pixels",
                                                    rp.r.name, rp.g.width, rp.g.height, opt.policy.max_pixels));
      total_px += px;
    }
    for (auto& rp : rungs)
      workers.push_back(std::make_unique<rung_worker>(run, done, opt, src, rp.r, rp.g,
                                                      output_for(sink, rp.r.name, workspace, rp.r.name == progressive),
                                                      encoder_threads(opt, rp.g, total_px)));
    if (p.thumbnails.poster || p.thumbnails.storyboard)
      thumbs = std::make_unique<thumbnailer>(p.thumbnails, si.rotation, si.display_width, si.display_height, duration_s,
                                             opt.policy.max_pixels);
  }
  if (ai >= 0) {
    std::int64_t aorigin = av_rescale_q(origin_us, AV_TIME_BASE_Q, ctx->streams[ai]->time_base);
    audio = std::make_unique<audio_branch>(p.audio, ctx->streams[ai], aorigin,
                                           output_for(sink, std::string(package_layout::audio_dir), workspace, true),
                                           opt.policy.max_duration_s);
    audio->set_segment(p.packaging.segment_s);
  }

  // The decode thread: demux, decode video once and fan it out; audio is cheap and stays here.
  std::atomic<double> read_time{0};
  std::int64_t video_errors = 0, video_packets = 0;  // written by the decode thread, read after it ends
  run.add_waker(&done.cv);
  done.running = 1 + static_cast<int>(workers.size());
  auto decode_all = [&] {
    try {
      lower_priority(opt.encode_nice);
      if (vdec) {
        int r = avcodec_open2(vdec.get(), vdec->codec, nullptr);
        if (r < 0) av::fail_av(r, "cannot open the video decoder", errc::codec_unsupported);
      }
      if (audio) audio->open();
      auto pkt = av::make_packet();
      auto frame = av::make_frame();
      std::int64_t last_pts = AV_NOPTS_VALUE;
      frame_bounds bounds;
      if (vdec) {
        AVStream* st = ctx->streams[vi];
        // One output frame period: the container's own rate is a claim like any other.
        bounds.frame_step = std::max<std::int64_t>(1, av_rescale_q(1, av_inv_q(src.out_rate), src.time_base));
        bounds.one_second = std::max<std::int64_t>(1, av_rescale_q(1, AVRational{1, 1}, src.time_base));
        bounds.limit = av_rescale_q(static_cast<std::int64_t>(std::min(opt.policy.max_duration_s, 1e9) * 1000),
                                    AVRational{1, 1000}, src.time_base);
        bounds.declared_end = declared_end(ctx, st, src.origin);
      }
      std::int64_t decoded = 0, errors = 0, packets = 0;
      auto fan_out = [&](AVFrame* f) {
        // Timestamps made sane: missing ones continue from the last, none goes backwards, and none
        // (nor any frame's end) runs past the duration limit, whatever the container claims.
        std::int64_t ts = f->best_effort_timestamp;
        if (ts == AV_NOPTS_VALUE) ts = last_pts == AV_NOPTS_VALUE ? src.origin : last_pts + bounds.frame_step;
        if (last_pts != AV_NOPTS_VALUE && ts <= last_pts) ts = last_pts + 1;
        std::int64_t rel = 0;
        if (__builtin_sub_overflow(ts, src.origin, &rel) || rel > bounds.limit)
          av::fail(errc::too_long, fmt::format("the video runs past the duration limit of {:.0f} s", opt.policy.max_duration_s));
        last_pts = ts;
        f->pts = rel;
        f->pkt_duration = bounds.bounded_duration(rel, f->pkt_duration > 0 ? f->pkt_duration : bounds.frame_step);
        if (rel + f->pkt_duration > bounds.limit)
          av::fail(errc::too_long, fmt::format("the video runs past the duration limit of {:.0f} s", opt.policy.max_duration_s));
        double t = static_cast<double>(f->pts) * av::q2d(src.time_base);
        read_time.store(t, std::memory_order_relaxed);
        if (thumbs) thumbs->offer(f, t);
        for (auto& w : workers) {
          av::frame_ptr ref(av_frame_clone(f));
          if (!ref) throw std::bad_alloc();
          if (!w->queue().push(std::move(ref))) return;
        }
        ++decoded;
      };
      auto decode_video = [&](const AVPacket* pk) {
        if (pk) ++packets;
        int r = avcodec_send_packet(vdec.get(), pk);
        if (r < 0 && r != AVERROR(EAGAIN) && r != AVERROR_EOF) {
          // A damaged packet costs a frame, not the lecture (counted in the warnings); running out
          // of memory is different.
          if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode video");
          ++errors;
        }
        for (;;) {
          r = avcodec_receive_frame(vdec.get(), frame.get());
          if (r == AVERROR(EAGAIN) || r == AVERROR_EOF) break;
          if (r == AVERROR(ENOMEM)) av::check(r, "cannot decode video");
          if (r < 0) {
            ++errors;
            if (errors > 1000 && decoded == 0) av::fail(errc::input_undecodable, "no video frame could be decoded");
            continue;
          }
          fan_out(frame.get());
          av_frame_unref(frame.get());
          if (run.abort) return;
        }
      };
      for (;;) {
        if (run.abort) return;
        guard.check();
        int r = av_read_frame(ctx, pkt.get());
        if (r == AVERROR_EOF) break;
        // Formats without a header (MPEG-TS, FLV) add streams while reading: the limit holds here too,
        // and a demuxer refused a stream over the ceiling fails as if out of memory.
        if (static_cast<int>(ctx->nb_streams) > opt.policy.max_streams)
          av::fail(errc::too_many_streams, fmt::format("the input has more than {} streams", opt.policy.max_streams));
        if (r < 0) {
          // A damaged tail ends the input; everything readable before it is kept.
          if (r == AVERROR_INVALIDDATA) break;
          in.fail_read(r, "cannot read the input");
        }
        if (vdec && pkt->stream_index == vi) decode_video(pkt.get());
        else if (audio && pkt->stream_index == ai) audio->decode(pkt.get());
        av_packet_unref(pkt.get());
      }
      if (vdec) {
        decode_video(nullptr);
        if (decoded == 0 && !run.abort) av::fail(errc::input_undecodable, "no video frame could be decoded");
        video_errors = errors;
        video_packets = packets;
      }
      for (auto& w : workers) w->queue().close();
      if (audio && !run.abort) audio->finish();
    } catch (const av::failure& e) {
      run.set_error(e.code(), e.message());
    } catch (const std::bad_alloc&) {
      run.set_error(errc::out_of_memory, "out of memory while decoding");
    } catch (const std::exception& e) {
      run.set_error(errc::internal, e.what());
    }
  };
  // A thread that cannot be started fails the run like any other error (the system is out of
  // threads or memory: a resource error), and every thread that did start is still joined.
  std::thread decoder;
  try {
    decoder = std::thread([&] {
      decode_all();
      // Whatever happened, the encoders are told the stream ended and the watcher that we did.
      for (auto& w : workers) w->queue().close();
      done.done();
    });
  } catch (const std::system_error& e) {
    av::fail(errc::out_of_memory, std::string("cannot start the decode thread: ") + e.what());
  }
  for (std::size_t i = 0; i < workers.size(); ++i) {
    try {
      workers[i]->start();
    } catch (const std::system_error& e) {
      run.set_error(errc::out_of_memory, std::string("cannot start an encode thread: ") + e.what());
      for (std::size_t k = i; k < workers.size(); ++k) done.done();  // never started, never to finish
      break;
    }
  }

  // This thread watches: cancellation, the deadline and progress reports.
  auto last_report = clock::time_point{};
  auto report = [&](bool final) {
    if (!opt.on_progress) return;
    progress pr;
    double elapsed = std::chrono::duration<double>(clock::now() - started).count();
    pr.elapsed_s = elapsed;
    double slowest = -1;
    auto add = [&](const std::string& name, double t, std::int64_t frames) {
      rendition_progress rp;
      rp.name = name;
      rp.out_time_s = t;
      rp.fraction = final ? 1.0 : duration_s > 0 ? std::clamp(t / duration_s, 0.0, 1.0) : 0.0;
      rp.fps = elapsed > 0 ? static_cast<double>(frames) / elapsed : 0;
      rp.speed = elapsed > 0 ? t / elapsed : 0;
      if (slowest < 0 || t < slowest) slowest = t;
      pr.renditions.push_back(std::move(rp));
    };
    for (auto& w : workers) add(w->name(), w->out_time(), w->frames());
    if (audio) add("audio", audio->out_time(), 0);
    if (slowest < 0) slowest = read_time.load();
    pr.out_time_s = slowest;
    pr.fraction = final ? 1.0 : duration_s > 0 ? std::clamp(slowest / duration_s, 0.0, 1.0) : 0.0;
    pr.speed = elapsed > 0 ? slowest / elapsed : 0;
    pr.eta_s = final ? 0 : pr.speed > 0 && duration_s > 0 ? std::max(0.0, (duration_s - slowest) / pr.speed) : -1;
    try {
      opt.on_progress(pr);
    } catch (...) {
      // A throwing callback must not take the transcode down with it.
    }
  };
  auto safe_report = [&](bool final) {
    try {
      report(final);
    } catch (...) {
      // Progress is best effort; an allocation failing here must not end the process while the
      // media threads run.
    }
  };
  {
    std::unique_lock lock(done.mutex);
    while (done.running > 0) {
      done.cv.wait_for(lock, std::chrono::milliseconds(20));
      if (run.abort) continue;  // threads are stopping; wait for them
      if (guard.cancel && guard.cancel->load()) {
        lock.unlock();
        run.set_error(errc::cancelled, "cancelled");
        lock.lock();
      } else if (clock::now() > guard.deadline) {
        lock.unlock();
        run.set_error(errc::deadline_exceeded, "the job's deadline passed");
        lock.lock();
      } else if (clock::now() - last_report >= opt.progress_interval) {
        lock.unlock();
        safe_report(false);
        lock.lock();
        last_report = clock::now();
      }
    }
  }
  decoder.join();
  for (auto& w : workers) w->join();
  error_code ec;
  std::string detail;
  if (run.failed(ec, detail)) av::fail(ec, detail);
  if (guard.cancel && guard.cancel->load()) av::fail(errc::cancelled, "cancelled");

  for (auto& w : workers) {
    if (w->track().segments.empty()) av::fail(errc::input_undecodable, "rendition " + w->name() + " received no frames");
    out.video.push_back(std::move(w->track()));
  }
  if (video_errors > 0)
    out.warnings.push_back({"video_packets_undecodable",
                            fmt::format("{} of {} video packets could not be decoded; the frames before them are "
                                        "shown longer", video_errors, video_packets),
                            video_errors});
  if (audio) {
    // The source has audio and the job asked for it: it is in the package, or the job fails. A
    // lecture published without its sound is data lost without a word.
    const auto& a = audio->stats();
    if (a.packets == 0) {
      // A track with nothing in it (a recording made with the microphone off): no sound to lose.
      out.warnings.push_back({"audio_stream_empty", "the input's audio stream holds no audio", 1});
    } else if (a.decoded_frames == 0)
      av::fail(errc::input_undecodable,
               fmt::format("the audio stream ({}) cannot be decoded{}; a job may ask for video only (audio.enabled = false)",
                           avcodec_get_name(ctx->streams[ai]->codecpar->codec_id),
                           a.bad_packets > 0 ? fmt::format(": all {} packets were damaged", a.bad_packets) : ""));
    if (a.bad_packets > 0)
      out.warnings.push_back({"audio_packets_concealed",
                              fmt::format("{} damaged audio packets were replaced with silence of the same length",
                                          a.bad_packets),
                              a.bad_packets});
    if (a.tail_samples > 0)
      out.warnings.push_back({"audio_tail_concealed",
                              fmt::format("the last {:.3f} s of audio could not be decoded and were replaced with silence",
                                          static_cast<double>(a.tail_samples) / p.audio.sample_rate),
                              1});
    if (a.gaps_filled > 0)
      out.warnings.push_back({"audio_gaps_filled",
                              fmt::format("{} gaps in the audio ({:.3f} s in all) were filled with silence",
                                          a.gaps_filled, static_cast<double>(a.gap_samples) / p.audio.sample_rate),
                              a.gaps_filled});
    if (a.overlaps_dropped > 0)
      out.warnings.push_back({"audio_overlaps_dropped",
                              fmt::format("{} audio frames overlapping earlier audio were dropped", a.overlaps_dropped),
                              a.overlaps_dropped});
    if (!audio->track().segments.empty()) out.audio = std::move(audio->track());
    else if (workers.empty()) av::fail(errc::input_undecodable, "no audio could be decoded");
    else if (a.packets > 0)
      out.warnings.push_back({"audio_outside_video", "the audio ends before the first picture: the package has no sound",
                              1});
    double video_end = 0;
    for (const auto& v : out.video) video_end = std::max(video_end, v.duration_s());
    if (out.audio && video_end - out.audio->duration_s() > 0.5)
      out.warnings.push_back({"audio_ends_early",
                              fmt::format("the audio ends {:.3f} s before the video", video_end - out.audio->duration_s()),
                              1});
  }
  // The package lasts as long as its picture; audio alone only without video.
  double d = 0;
  for (const auto& v : out.video) d = std::max(d, v.duration_s());
  if (out.video.empty() && out.audio) d = out.audio->duration_s();
  out.duration_s = d;
  guard.check();
  if (thumbs) {
    out.files = thumbs->write(sink, d);
    out.warnings.insert(out.warnings.end(), thumbs->warnings().begin(), thumbs->warnings().end());
  }
  guard.check();
  safe_report(true);
}

}  // namespace spool::media
