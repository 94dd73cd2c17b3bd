#include "lavfi_input.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavfilter/buffersink.h>
#include <libavformat/avformat.h>
#include <libavutil/channel_layout.h>
#include <libavutil/display.h>
#include <libavutil/mathematics.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
}

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test {
namespace {

std::string av_error_text(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

void check(int ret, const std::string& what) {
  if (ret < 0) throw std::runtime_error("make_input: " + what + ": " + av_error_text(ret));
}

struct graph_deleter {
  void operator()(AVFilterGraph* g) const { avfilter_graph_free(&g); }
};
struct codec_deleter {
  void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct frame_deleter {
  void operator()(AVFrame* f) const { av_frame_free(&f); }
};
struct packet_deleter {
  void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct inout_deleter {
  void operator()(AVFilterInOut* p) const { avfilter_inout_free(&p); }
};
using graph_ptr = std::unique_ptr<AVFilterGraph, graph_deleter>;
using codec_ptr = std::unique_ptr<AVCodecContext, codec_deleter>;
using frame_ptr = std::unique_ptr<AVFrame, frame_deleter>;
using packet_ptr = std::unique_ptr<AVPacket, packet_deleter>;

struct output_context {
  AVFormatContext* oc = nullptr;
  ~output_context() {
    if (!oc) return;
    if (oc->pb && !(oc->oformat->flags & AVFMT_NOFILE)) avio_closep(&oc->pb);
    avformat_free_context(oc);
  }
};

/// A source filter chain ending in a buffersink, e.g. "testsrc2=size=320x240:rate=30,format=yuv420p".
struct source_graph {
  graph_ptr graph;
  AVFilterContext* sink = nullptr;

  source_graph(const std::string& description, bool audio) : graph(avfilter_graph_alloc()) {
    if (!graph) throw std::runtime_error("make_input: avfilter_graph_alloc failed");
    graph->nb_threads = 1;
    const AVFilter* sink_filter = avfilter_get_by_name(audio ? "abuffersink" : "buffersink");
    check(avfilter_graph_create_filter(&sink, sink_filter, "out", nullptr, nullptr, graph.get()), "create sink");
    std::unique_ptr<AVFilterInOut, inout_deleter> inputs(avfilter_inout_alloc());
    inputs->name = av_strdup("out");
    inputs->filter_ctx = sink;
    inputs->pad_idx = 0;
    inputs->next = nullptr;
    AVFilterInOut* in_raw = inputs.release();
    AVFilterInOut* out_raw = nullptr;
    int ret = avfilter_graph_parse_ptr(graph.get(), description.c_str(), &in_raw, &out_raw, nullptr);
    avfilter_inout_free(&in_raw);
    avfilter_inout_free(&out_raw);
    check(ret, "parse filter graph '" + description + "'");
    check(avfilter_graph_config(graph.get(), nullptr), "configure filter graph '" + description + "'");
  }

  /// The next frame, or nullptr at the end of the source.
  frame_ptr next() {
    frame_ptr f(av_frame_alloc());
    int ret = av_buffersink_get_frame(sink, f.get());
    if (ret == AVERROR_EOF) return nullptr;
    check(ret, "buffersink");
    return f;
  }
};

const char* muxer_name(const std::string& container) {
  if (container == "mp4") return "mp4";
  if (container == "mov") return "mov";
  if (container == "mkv") return "matroska";
  if (container == "ts") return "mpegts";
  if (container == "avi") return "avi";
  if (container == "h264") return "h264";
  if (container == "nut") return "nut";
  if (container == "flv") return "flv";
  throw std::runtime_error("make_input: unknown container '" + container + "'");
}

struct encoded_stream {
  codec_ptr enc;
  AVStream* st = nullptr;
};

void drain(AVCodecContext* enc, AVStream* st, AVFormatContext* oc, AVPacket* pkt) {
  for (;;) {
    int ret = avcodec_receive_packet(enc, pkt);
    if (ret == AVERROR(EAGAIN) || ret == AVERROR_EOF) return;
    check(ret, "receive packet");
    av_packet_rescale_ts(pkt, enc->time_base, st->time_base);
    pkt->stream_index = st->index;
    check(av_interleaved_write_frame(oc, pkt), "write packet");
  }
}

}  // namespace

void make_input(const std::filesystem::path& path, const input_spec& spec) {
  if (!spec.video && !spec.audio) throw std::runtime_error("make_input: neither video nor audio");
  if (spec.container == "h264" && (spec.audio || !spec.video))
    throw std::runtime_error("make_input: a raw h264 stream carries video only");
  if (spec.duration_s <= 0) throw std::runtime_error("make_input: duration must be positive");
  if (spec.rotation % 90 != 0) throw std::runtime_error("make_input: rotation must be a multiple of 90");

  output_context out;
  check(avformat_alloc_output_context2(&out.oc, nullptr, muxer_name(spec.container), path.c_str()),
        "allocate output for " + path.string());
  AVFormatContext* oc = out.oc;

  encoded_stream video, audio;
  std::unique_ptr<source_graph> vsrc, asrc;

  if (spec.fps_num > 0 && (spec.fps_den <= 0 || spec.vfr != vfr_mode::none))
    throw std::runtime_error("make_input: fps_num/fps_den needs a positive fps_den and constant frame rate");
  if (spec.sar_num <= 0 || spec.sar_den <= 0) throw std::runtime_error("make_input: bad sample aspect ratio");
  const AVRational rate = spec.fps_num > 0 ? AVRational{spec.fps_num, spec.fps_den} : AVRational{spec.fps, 1};

  // Video: time base and per-frame timestamps.
  AVRational vtb = av_inv_q(rate);
  if (spec.vfr == vfr_mode::alternating) vtb = AVRational{1, 40};

  if (spec.video) {
    const AVCodec* codec = avcodec_find_encoder_by_name(spec.video_codec.c_str());
    if (!codec) throw std::runtime_error("make_input: no encoder " + spec.video_codec);
    AVPixelFormat pix = av_get_pix_fmt(spec.pix_fmt.c_str());
    if (pix == AV_PIX_FMT_NONE) throw std::runtime_error("make_input: unknown pixel format " + spec.pix_fmt);

    vsrc = std::make_unique<source_graph>("testsrc2=size=" + std::to_string(spec.width) + "x" +
                                              std::to_string(spec.height) + ":rate=" + std::to_string(rate.num) + "/" +
                                              std::to_string(rate.den) + ",format=" + spec.pix_fmt,
                                          false);

    video.enc.reset(avcodec_alloc_context3(codec));
    AVCodecContext* enc = video.enc.get();
    enc->width = spec.width;
    enc->height = spec.height;
    enc->pix_fmt = pix;
    enc->time_base = vtb;
    enc->framerate = spec.vfr == vfr_mode::alternating ? AVRational{80, 3} : rate;
    enc->sample_aspect_ratio = AVRational{spec.sar_num, spec.sar_den};
    enc->gop_size = std::max(1, static_cast<int>(std::lround(spec.gop_s * av_q2d(rate))));
    enc->max_b_frames = 0;
    enc->thread_count = 2;
    if (spec.interlaced) {
      enc->flags |= AV_CODEC_FLAG_INTERLACED_DCT | AV_CODEC_FLAG_INTERLACED_ME;
      enc->field_order = AV_FIELD_TT;
    } else {
      enc->field_order = AV_FIELD_PROGRESSIVE;
    }
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    AVDictionary* opts = nullptr;
    if (spec.video_codec == "libx264") {
      av_dict_set(&opts, "preset", "ultrafast", 0);
      av_dict_set(&opts, "crf", "28", 0);
      if (pix == AV_PIX_FMT_YUV420P10LE) av_dict_set(&opts, "profile", "high10", 0);
      if (pix == AV_PIX_FMT_YUV422P) av_dict_set(&opts, "profile", "high422", 0);
      if (pix == AV_PIX_FMT_YUV444P) av_dict_set(&opts, "profile", "high444", 0);
    } else {
      enc->bit_rate = 400'000;
    }
    int ret = avcodec_open2(enc, codec, &opts);
    av_dict_free(&opts);
    check(ret, "open encoder " + spec.video_codec);

    video.st = avformat_new_stream(oc, nullptr);
    if (!video.st) throw std::runtime_error("make_input: avformat_new_stream failed");
    check(avcodec_parameters_from_context(video.st->codecpar, enc), "video codec parameters");
    video.st->time_base = vtb;
    video.st->avg_frame_rate = enc->framerate;
    video.st->sample_aspect_ratio = enc->sample_aspect_ratio;
    if (spec.rotation % 360 != 0) {
      auto* matrix = reinterpret_cast<int32_t*>(av_malloc(9 * sizeof(int32_t)));
      if (!matrix) throw std::runtime_error("make_input: out of memory");
      // av_display_rotation_set takes clockwise degrees (av_display_rotation_get then reports the
      // counterclockwise angle, -rotation), which is how phone recordings are tagged.
      av_display_rotation_set(matrix, static_cast<double>(spec.rotation));
      int sret = av_stream_add_side_data(video.st, AV_PKT_DATA_DISPLAYMATRIX, reinterpret_cast<uint8_t*>(matrix),
                                         9 * sizeof(int32_t));
      if (sret < 0) av_free(matrix);
      check(sret, "display matrix side data");
    }
  }

  if (spec.audio) {
    const AVCodec* codec = spec.audio_codec == "aac" ? avcodec_find_encoder(AV_CODEC_ID_AAC)
                                                     : avcodec_find_encoder_by_name(spec.audio_codec.c_str());
    if (!codec) throw std::runtime_error("make_input: no audio encoder " + spec.audio_codec);
    // The encoder's first sample format, and its frame size (PCM has none: 1024-sample frames).
    const AVSampleFormat fmt = codec->sample_fmts ? codec->sample_fmts[0] : AV_SAMPLE_FMT_FLTP;
    const char* layout = spec.channels == 1 ? "mono" : "stereo";
    asrc = std::make_unique<source_graph>(
        "sine=frequency=440:beep_factor=2:sample_rate=" + std::to_string(spec.sample_rate) +
            ",aformat=sample_fmts=" + av_get_sample_fmt_name(fmt) + ":channel_layouts=" + layout,
        true);

    audio.enc.reset(avcodec_alloc_context3(codec));
    AVCodecContext* enc = audio.enc.get();
    enc->sample_fmt = fmt;
    enc->sample_rate = spec.sample_rate;
    av_channel_layout_default(&enc->ch_layout, spec.channels);
    enc->bit_rate = 96'000;
    enc->time_base = AVRational{1, spec.sample_rate};
    if (oc->oformat->flags & AVFMT_GLOBALHEADER) enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    check(avcodec_open2(enc, codec, nullptr), "open audio encoder " + spec.audio_codec);
    av_buffersink_set_frame_size(asrc->sink, enc->frame_size > 0 ? static_cast<unsigned>(enc->frame_size) : 1024);
    audio.st = avformat_new_stream(oc, nullptr);
    if (!audio.st) throw std::runtime_error("make_input: avformat_new_stream failed");
    check(avcodec_parameters_from_context(audio.st->codecpar, enc), "audio codec parameters");
    audio.st->time_base = enc->time_base;
  }

  if (!(oc->oformat->flags & AVFMT_NOFILE))
    check(avio_open(&oc->pb, path.c_str(), AVIO_FLAG_WRITE), "open " + path.string());
  check(avformat_write_header(oc, nullptr), "write header");

  packet_ptr pkt(av_packet_alloc());
  const int64_t v_offset =
      spec.video ? av_rescale_q(std::llround(spec.start_offset_s * 1e6), AVRational{1, 1000000}, vtb) : 0;
  const int64_t a_offset = spec.audio ? av_rescale_q(std::llround(spec.start_offset_s * 1e6), AVRational{1, 1000000},
                                                     AVRational{1, spec.sample_rate})
                                      : 0;
  const int64_t audio_total = spec.audio ? std::llround(spec.duration_s * spec.sample_rate) : 0;

  int64_t video_clock = 0;  // next pts in vtb, relative to the start
  int64_t video_index = 0;
  int64_t audio_samples = 0;
  bool video_done = !spec.video, audio_done = !spec.audio;
  frame_ptr vframe, aframe;

  auto pull_video = [&]() {
    while (!video_done && !vframe) {
      frame_ptr f = vsrc->next();
      if (!f) {
        video_done = true;
        break;
      }
      const int64_t i = video_index++;
      int64_t pts = 0;
      int64_t dur = 1;
      switch (spec.vfr) {
        case vfr_mode::none: pts = i; break;
        case vfr_mode::alternating:
          pts = video_clock;
          dur = (i % 2 == 0) ? 2 : 1;  // 1/20 s, then 1/40 s
          video_clock += dur;
          break;
        case vfr_mode::dropped:
          pts = i;
          if (i % 5 == 3) continue;  // a hole in the timeline
          break;
      }
      if (av_compare_ts(pts, vtb, std::llround(spec.duration_s * 1e6), AVRational{1, 1000000}) >= 0) {
        video_done = true;
        break;
      }
      f->pts = pts + v_offset;
      f->pict_type = AV_PICTURE_TYPE_NONE;
      if (spec.interlaced) {
        f->interlaced_frame = 1;
        f->top_field_first = 1;
      }
      vframe = std::move(f);
    }
  };
  auto pull_audio = [&]() {
    while (!audio_done && !aframe) {
      if (audio_samples >= audio_total) {
        audio_done = true;
        break;
      }
      frame_ptr f = asrc->next();
      if (!f) {
        audio_done = true;
        break;
      }
      // Encoders with a fixed frame size take a short last frame only when they say so.
      const bool short_ok =
          audio.enc->codec->capabilities & (AV_CODEC_CAP_SMALL_LAST_FRAME | AV_CODEC_CAP_VARIABLE_FRAME_SIZE);
      if (audio_samples + f->nb_samples > audio_total && (short_ok || audio.enc->frame_size == 0))
        f->nb_samples = static_cast<int>(audio_total - audio_samples);
      f->pts = audio_samples + a_offset;
      audio_samples += f->nb_samples;
      aframe = std::move(f);
    }
  };

  for (;;) {
    pull_video();
    pull_audio();
    if (!vframe && !aframe) break;
    bool take_video =
        vframe && (!aframe || av_compare_ts(vframe->pts, vtb, aframe->pts, AVRational{1, spec.sample_rate}) <= 0);
    if (take_video) {
      check(avcodec_send_frame(video.enc.get(), vframe.get()), "send video frame");
      vframe.reset();
      drain(video.enc.get(), video.st, oc, pkt.get());
    } else {
      check(avcodec_send_frame(audio.enc.get(), aframe.get()), "send audio frame");
      aframe.reset();
      drain(audio.enc.get(), audio.st, oc, pkt.get());
    }
  }
  if (spec.video) {
    check(avcodec_send_frame(video.enc.get(), nullptr), "flush video encoder");
    drain(video.enc.get(), video.st, oc, pkt.get());
  }
  if (spec.audio) {
    check(avcodec_send_frame(audio.enc.get(), nullptr), "flush audio encoder");
    drain(audio.enc.get(), audio.st, oc, pkt.get());
  }
  check(av_write_trailer(oc), "write trailer");
}

void write_garbage(const std::filesystem::path& path, std::size_t bytes, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::string data(bytes, '\0');
  for (auto& c : data) c = static_cast<char>(rng() & 0xff);
  write_text(path, data);
}

void write_truncated(const std::filesystem::path& source, const std::filesystem::path& path, double fraction) {
  std::ifstream in(source, std::ios::binary);
  if (!in) throw std::runtime_error("write_truncated: cannot read " + source.string());
  std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  data.resize(static_cast<std::size_t>(static_cast<double>(data.size()) * fraction));
  write_text(path, data);
}

void write_hls_playlist_disguise(const std::filesystem::path& path, const std::string& target) {
  write_text(path,
             "#EXTM3U\n"
             "#EXT-X-VERSION:3\n"
             "#EXT-X-TARGETDURATION:10\n"
             "#EXT-X-MEDIA-SEQUENCE:0\n"
             "#EXTINF:10.0,\n" +
                 target +
                 "\n"
                 "#EXT-X-ENDLIST\n");
}

void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path.string());
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  if (!out) throw std::runtime_error("short write to " + path.string());
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
