#pragma once
// Small owners and helpers for the libav* C API, shared by the benchmark programs.
extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/error.h>
#include <libavutil/frame.h>
}

#include <memory>
#include <string>

namespace spool_bench {

/// An FFmpeg error code in words.
inline std::string av_error(int err) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(err, buf, sizeof buf);
  return buf;
}

struct frame_deleter {
  void operator()(AVFrame* f) const noexcept { av_frame_free(&f); }
};
struct packet_deleter {
  void operator()(AVPacket* p) const noexcept { av_packet_free(&p); }
};
struct codec_deleter {
  void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};
struct graph_deleter {
  void operator()(AVFilterGraph* g) const noexcept { avfilter_graph_free(&g); }
};
struct input_deleter {
  void operator()(AVFormatContext* f) const noexcept { avformat_close_input(&f); }
};
struct inout_deleter {
  void operator()(AVFilterInOut* io) const noexcept { avfilter_inout_free(&io); }
};

using frame_ptr = std::unique_ptr<AVFrame, frame_deleter>;
using packet_ptr = std::unique_ptr<AVPacket, packet_deleter>;
using codec_ptr = std::unique_ptr<AVCodecContext, codec_deleter>;
using graph_ptr = std::unique_ptr<AVFilterGraph, graph_deleter>;
using input_ptr = std::unique_ptr<AVFormatContext, input_deleter>;
using inout_ptr = std::unique_ptr<AVFilterInOut, inout_deleter>;

inline frame_ptr make_frame() { return frame_ptr(av_frame_alloc()); }
inline packet_ptr make_packet() { return packet_ptr(av_packet_alloc()); }

}  // namespace spool_bench
