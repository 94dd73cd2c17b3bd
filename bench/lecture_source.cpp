#include "lecture_source.hpp"

#include "av_util.hpp"

extern "C" {
#include <libavfilter/buffersink.h>
#include <libavutil/channel_layout.h>
#include <libavutil/opt.h>
}

#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <system_error>
#include <vector>

namespace spool_bench {
namespace {

namespace fs = std::filesystem;

std::string find_font(const std::vector<const char*>& candidates) {
  for (const char* c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c;
  }
  return {};
}

/// Slides are drawn once each (the slide chain runs at one frame per slide) and then repeated by
/// the fps filter, so text and boxes cost nothing per output frame; only the inset and the
/// pointer are composited per frame.
class slide_writer {
 public:
  slide_writer(const lecture_spec& s, std::string regular, std::string bold, std::string mono)
      : s_(s), regular_(std::move(regular)), bold_(std::move(bold)), mono_(std::move(mono)) {}

  int x(double v) const { return static_cast<int>(std::lround(v * s_.width / 1920.0)); }
  int y(double v) const { return static_cast<int>(std::lround(v * s_.height / 1080.0)); }

  void box(const std::string& when, double bx, double by, double bw, double bh, const char* color) {
    out_ += fmt::format(",drawbox=enable='{}':x={}:y={}:w={}:h={}:color={}:t=fill", when, x(bx), y(by),
                        std::max(1, x(bw)), std::max(1, y(bh)), color);
  }
  void text(const std::string& when, const std::string& font, const std::string& txt, double tx, double ty, double size,
            const char* color) {
    if (font.empty()) return;
    out_ += fmt::format(
        ",drawtext=enable='{}':fontfile='{}':text='{}':x={}:y={}:fontsize={}:fontcolor={}"
        ":line_spacing={}",
        when, font, txt, x(tx), y(ty), std::max(6, y(size)), color, std::max(1, y(size * 0.45)));
  }

  std::string build() {
    // Expressions are quoted, so their commas need no escape; "\\:" inside text expansions is
    // unescaped by the option parser, as drawtext's documentation shows.
    const auto on = [](int k) { return fmt::format("eq(mod(n,6),{})", k); };
    const std::string not_title = "gt(mod(n,6),0)";

    const int slide_ms = static_cast<int>(std::lround(s_.slide_s * 1000));
    out_ = fmt::format("color=c=0xF4F1EA:s={}x{}:r=1000/{}:d={:.3f},format=yuv420p", s_.width, s_.height, slide_ms,
                       s_.duration_s);

    // 0: title slide.
    box(on(0), 0, 380, 1920, 320, "0x1F3A5F");
    text(on(0), bold_, "Signals and Systems", 140, 430, 96, "white");
    text(on(0), regular_, "Lecture %{eif\\:n/6+7\\:d} - Sampling and aliasing", 140, 570, 48, "0xDDE6F0");
    // Title bar and page number on every other slide.
    box(not_title, 0, 0, 1920, 140, "0x1F3A5F");
    text(not_title, bold_, "Part %{eif\\:n+1\\:d} - Sampling", 70, 40, 60, "white");
    text("1", regular_, "%{eif\\:n+1\\:d}", 60, 1020, 30, "0x777777");
    // 1: bullets.
    text(on(1), regular_,
         "- A continuous signal is sampled every T seconds\n"
         "- The sampling rate fs is 1 over T\n"
         "- Frequencies above fs over 2 fold back\n"
         "- An anti-aliasing filter removes them first\n"
         "- Example %{eif\\:n+1\\:d} shows a 7 kHz tone at 8 kHz",
         120, 230, 50, "0x222222");
    // 2: bar chart with axes and caption.
    box(on(2), 200, 300, 8, 560, "0x333333");
    box(on(2), 200, 852, 1100, 8, "0x333333");
    const char* bar_colors[] = {"0x3B7DD8", "0xD8603B", "0x4BA35A", "0xC9A227", "0x8E5BB5", "0x3BB4C1"};
    const double bar_heights[] = {420, 260, 510, 180, 340, 460};
    for (int i = 0; i < 6; ++i) box(on(2), 260 + i * 170, 852 - bar_heights[i], 110, bar_heights[i], bar_colors[i]);
    text(on(2), regular_, "Aliasing error per rate", 1340, 320, 44, "0x222222");
    const char* bar_labels[] = {"8k", "11k", "16k", "22k", "32k", "48k"};
    for (int i = 0; i < 6; ++i) text(on(2), regular_, bar_labels[i], 275 + i * 170, 880, 36, "0x444444");
    // 3: two columns.
    box(on(3), 100, 220, 820, 600, "0xD9E4F0");
    box(on(3), 1000, 220, 820, 600, "0xF0E0D9");
    text(on(3), bold_, "Time domain", 140, 250, 52, "0x1F3A5F");
    text(on(3), regular_, "x of n equals x of n T\nimpulse train\nzero order hold", 140, 350, 42, "0x222222");
    text(on(3), bold_, "Frequency domain", 1040, 250, 52, "0x5F2A1F");
    text(on(3), regular_, "spectrum repeats every fs\nimages overlap if\nthe band is too wide", 1040, 350, 42,
         "0x222222");
    // 4: sampled sine as stems.
    box(on(4), 120, 560, 1500, 4, "0x333333");
    for (int i = 0; i < 30; ++i) {
      const double v = 260 * std::sin(i * 0.42);
      const double top = v > 0 ? 560 - v : 560;
      box(on(4), 150 + i * 48, top, 6, std::max(4.0, std::abs(v)), "0x3B7DD8");
      box(on(4), 141 + i * 48, 560 - v - 12, 24, 24, "0xD8603B");
    }
    text(on(4), regular_, "Samples of sin of 0.42 n", 140, 900, 44, "0x222222");
    // 5: code listing on a dark panel.
    box(on(5), 120, 210, 1300, 640, "0x1E1E1E");
    text(on(5), mono_,
         "def resample(x, up, down)\n"
         "    h = lowpass(min(1 / up, 1 / down))\n"
         "    y = upsample(x, up)\n"
         "    y = convolve(y, h)\n"
         "    return decimate(y, down)\n"
         "\n"
         "# run %{eif\\:n+1\\:d}",
         160, 250, 40, "0xD4D4D4");

    out_ += fmt::format(",fps={}[slides];", s_.fps);
    // The speaker camera: a moving test pattern with a little sensor noise.
    out_ += fmt::format("testsrc2=s={}x{}:r={}:d={:.3f},format=yuv420p,noise=alls=6:allf=t[cam];", x(384) / 2 * 2,
                        y(216) / 2 * 2, s_.fps, s_.duration_s);
    // A laser pointer that wanders over the slide half of the time.
    out_ += fmt::format("color=c=0xE02020:s={}x{}:r={}:d={:.3f}[ptr];", std::max(2, x(18) / 2 * 2),
                        std::max(2, y(18) / 2 * 2), s_.fps, s_.duration_s);
    out_ += fmt::format(
        "[slides][cam]overlay=x='W-w-{}+{}*sin(t*0.6)':y='H-h-{}+{}*sin(t*0.9)':shortest=1[sc];"
        "[sc][ptr]overlay=enable='lt(mod(t,{:.3f}),{:.3f})':x='{}+{}*(0.5+0.5*sin(t*0.8))':"
        "y='{}+{}*(0.5+0.5*sin(t*1.3))':shortest=1,format=yuv420p[v]",
        x(48), x(24), y(48), y(12), s_.slide_s, s_.slide_s / 2, x(300), x(1000), y(250), y(500));

    if (s_.audio) {
      // Speech-like: a voiced tone with harmonics, syllable and phrase envelopes, and a pause at
      // each slide change. Computed in mono, then spread to stereo.
      out_ += fmt::format(
          ";aevalsrc=exprs='(0.32*sin(2*PI*t*(135+12*sin(2*PI*0.7*t)))+0.16*sin(4*PI*t*135)"
          "+0.08*sin(6*PI*t*135)+0.04*sin(2*PI*t*1250))*(0.55+0.45*sin(2*PI*3.3*t))"
          "*(0.7+0.3*sin(2*PI*0.23*t))*gt(mod(t,{:.3f}),0.4)*gt(sin(2*PI*1.1*t),-0.6)'"
          ":s=48000:d={:.3f}:n=1024,aformat=sample_fmts=fltp:sample_rates=48000:channel_layouts=stereo[a]",
          s_.slide_s, s_.duration_s);
    }
    return out_;
  }

 private:
  const lecture_spec& s_;
  std::string regular_, bold_, mono_;
  std::string out_;
};

struct output_deleter {
  void operator()(AVFormatContext* f) const noexcept {
    if (f->pb && !(f->oformat->flags & AVFMT_NOFILE)) avio_closep(&f->pb);
    avformat_free_context(f);
  }
};

class writer {
 public:
  std::string run(const std::string& path, const lecture_spec& spec) {
    if (auto e = open_graph(spec); !e.empty()) return e;
    if (auto e = open_output(path, spec); !e.empty()) return e;
    return pump(spec);
  }

 private:
  std::string open_graph(const lecture_spec& spec) {
    graph_.reset(avfilter_graph_alloc());
    if (!graph_) return "out of memory";
    const std::string desc = lecture_graph(spec);
    AVFilterInOut* ins = nullptr;
    AVFilterInOut* outs = nullptr;
    int err = avfilter_graph_parse_ptr(graph_.get(), desc.c_str(), &ins, &outs, nullptr);
    inout_ptr ins_owner(ins), outs_owner(outs);
    if (err < 0) return "cannot build the lecture filter graph: " + av_error(err);
    for (AVFilterInOut* o = outs; o; o = o->next) {
      const bool video = std::string(o->name ? o->name : "") == "v";
      AVFilterContext* sink = nullptr;
      err = avfilter_graph_create_filter(&sink, avfilter_get_by_name(video ? "buffersink" : "abuffersink"),
                                         video ? "vsink" : "asink", nullptr, nullptr, graph_.get());
      if (err < 0) return "cannot create a buffer sink: " + av_error(err);
      if ((err = avfilter_link(o->filter_ctx, static_cast<unsigned>(o->pad_idx), sink, 0)) < 0)
        return "cannot link a buffer sink: " + av_error(err);
      (video ? vsink_ : asink_) = sink;
    }
    if (ins) return "the lecture filter graph has unconnected inputs";
    if (!vsink_ || (spec.audio && !asink_)) return "the lecture filter graph lacks an output";
    if ((err = avfilter_graph_config(graph_.get(), nullptr)) < 0)
      return "cannot configure the lecture filter graph: " + av_error(err);
    return {};
  }

  std::string open_output(const std::string& path, const lecture_spec& spec) {
    AVFormatContext* oc = nullptr;
    int err = avformat_alloc_output_context2(&oc, nullptr, "mp4", path.c_str());
    if (err < 0 || !oc) return "cannot create the MP4 muxer: " + av_error(err);
    out_.reset(oc);

    const AVCodec* vc = avcodec_find_encoder_by_name("libx264");
    if (!vc) return "this FFmpeg has no libx264 encoder";
    venc_.reset(avcodec_alloc_context3(vc));
    auto* v = venc_.get();
    v->width = spec.width;
    v->height = spec.height;
    v->pix_fmt = AV_PIX_FMT_YUV420P;
    v->time_base = AVRational{1, spec.fps};
    v->framerate = AVRational{spec.fps, 1};
    v->sample_aspect_ratio = AVRational{1, 1};
    v->gop_size = spec.fps * 5;  // like a camera or screen-recorder upload: not the ladder's 2 s grid
    v->color_range = AVCOL_RANGE_MPEG;
    v->colorspace = AVCOL_SPC_BT709;
    v->color_primaries = AVCOL_PRI_BT709;
    v->color_trc = AVCOL_TRC_BT709;
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) v->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* vopts = nullptr;
    av_dict_set(&vopts, "preset", spec.preset.c_str(), 0);
    av_dict_set(&vopts, "profile", "high", 0);
    av_dict_set_int(&vopts, "crf", spec.crf, 0);
    err = avcodec_open2(v, vc, &vopts);
    av_dict_free(&vopts);
    if (err < 0) return "cannot open libx264: " + av_error(err);
    vst_ = avformat_new_stream(oc, nullptr);
    if (!vst_) return "out of memory";
    avcodec_parameters_from_context(vst_->codecpar, v);
    vst_->time_base = v->time_base;
    vst_->avg_frame_rate = v->framerate;

    if (spec.audio) {
      const AVCodec* ac = avcodec_find_encoder_by_name("aac");
      if (!ac) return "this FFmpeg has no aac encoder";
      aenc_.reset(avcodec_alloc_context3(ac));
      auto* a = aenc_.get();
      a->sample_rate = 48000;
      a->sample_fmt = AV_SAMPLE_FMT_FLTP;
      av_channel_layout_default(&a->ch_layout, 2);
      a->bit_rate = 160000;
      a->time_base = AVRational{1, 48000};
      if (oc->oformat->flags & AVFMT_GLOBALHEADER) a->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
      if ((err = avcodec_open2(a, ac, nullptr)) < 0) return "cannot open the AAC encoder: " + av_error(err);
      ast_ = avformat_new_stream(oc, nullptr);
      if (!ast_) return "out of memory";
      avcodec_parameters_from_context(ast_->codecpar, a);
      ast_->time_base = a->time_base;
      av_buffersink_set_frame_size(asink_, static_cast<unsigned>(a->frame_size));
    }

    if ((err = avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE)) < 0)
      return "cannot open " + path + " for writing: " + av_error(err);
    AVDictionary* mopts = nullptr;
    av_dict_set(&mopts, "movflags", "+faststart", 0);
    err = avformat_write_header(oc, &mopts);
    av_dict_free(&mopts);
    if (err < 0) return "cannot write the MP4 header: " + av_error(err);
    return {};
  }

  std::string encode(AVCodecContext* enc, AVStream* st, AVFrame* frame) {
    int err = avcodec_send_frame(enc, frame);
    if (err < 0) return "encoding failed: " + av_error(err);
    for (;;) {
      err = avcodec_receive_packet(enc, pkt_.get());
      if (err == AVERROR(EAGAIN) || err == AVERROR_EOF) return {};
      if (err < 0) return "encoding failed: " + av_error(err);
      av_packet_rescale_ts(pkt_.get(), enc->time_base, st->time_base);
      pkt_->stream_index = st->index;
      if ((err = av_interleaved_write_frame(out_.get(), pkt_.get())) < 0)
        return "cannot write the MP4: " + av_error(err);
    }
  }

  std::string pump(const lecture_spec& spec) {
    pkt_ = make_packet();
    auto frame = make_frame();
    if (!pkt_ || !frame) return "out of memory";
    bool vdone = false, adone = !spec.audio;
    std::int64_t vframes = 0, asamples = 0;
    while (!vdone || !adone) {
      const bool take_video =
          !vdone && (adone || static_cast<double>(vframes) / spec.fps <= static_cast<double>(asamples) / 48000.0);
      AVFilterContext* sink = take_video ? vsink_ : asink_;
      const int err = av_buffersink_get_frame(sink, frame.get());
      if (err == AVERROR_EOF) {
        if (take_video) {
          vdone = true;
          if (auto e = encode(venc_.get(), vst_, nullptr); !e.empty()) return e;
        } else {
          adone = true;
          if (auto e = encode(aenc_.get(), ast_, nullptr); !e.empty()) return e;
        }
        continue;
      }
      if (err < 0) return "the lecture filter graph failed: " + av_error(err);
      std::string e;
      if (take_video) {
        frame->pts = vframes++;
        frame->pict_type = AV_PICTURE_TYPE_NONE;
        frame->color_range = AVCOL_RANGE_MPEG;
        frame->colorspace = AVCOL_SPC_BT709;
        frame->color_primaries = AVCOL_PRI_BT709;
        frame->color_trc = AVCOL_TRC_BT709;
        e = encode(venc_.get(), vst_, frame.get());
      } else {
        frame->pts = asamples;
        asamples += frame->nb_samples;
        e = encode(aenc_.get(), ast_, frame.get());
      }
      av_frame_unref(frame.get());
      if (!e.empty()) return e;
    }
    if (vframes == 0) return "the lecture filter graph produced no video";
    const int err = av_write_trailer(out_.get());
    if (err < 0) return "cannot finish the MP4: " + av_error(err);
    return {};
  }

  graph_ptr graph_;
  AVFilterContext* vsink_ = nullptr;
  AVFilterContext* asink_ = nullptr;
  std::unique_ptr<AVFormatContext, output_deleter> out_;
  codec_ptr venc_, aenc_;
  AVStream* vst_ = nullptr;
  AVStream* ast_ = nullptr;
  packet_ptr pkt_;
};

}  // namespace

std::string check(const lecture_spec& s) {
  if (!(s.duration_s > 0) || s.duration_s > 24 * 3600) return "duration must be > 0 and at most 24 h";
  if (s.width < 64 || s.height < 64 || s.width > 7680 || s.height > 4320) return "size must be 64x64 to 7680x4320";
  if (s.width % 2 || s.height % 2) return "width and height must be even";
  if (s.fps < 1 || s.fps > 120) return "fps must be 1 to 120";
  if (!(s.slide_s >= 0.5)) return "slides must last at least 0.5 s";
  if (s.crf < 0 || s.crf > 51) return "crf must be 0 to 51";
  return {};
}

std::string lecture_graph(const lecture_spec& spec) {
  std::string regular, bold, mono;
  if (avfilter_get_by_name("drawtext")) {
    regular = find_font({"/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                         "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"});
    bold = find_font({"/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
                      "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf"});
    mono = find_font({"/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
                      "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf"});
    if (bold.empty()) bold = regular;
    if (mono.empty()) mono = regular;
  }
  return slide_writer(spec, regular, bold, mono).build();
}

std::string make_lecture(const std::string& path, const lecture_spec& spec) {
  if (auto e = check(spec); !e.empty()) return e;
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  const fs::path tmp = target.string() + ".partial";
  std::string err;
  {
    writer w;
    err = w.run(tmp.string(), spec);
  }
  if (err.empty()) {
    fs::rename(tmp, target, ec);
    if (ec) err = "cannot rename " + tmp.string() + " to " + path + ": " + ec.message();
  }
  if (!err.empty()) fs::remove(tmp, ec);
  return err;
}

}  // namespace spool_bench
