#pragma once
// Internal: ownership wrappers and small helpers over FFmpeg's C API.
#include <spool/error.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/audio_fifo.h>
#include <libavutil/dict.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

/// Maps an FFmpeg AVERROR value into spool's taxonomy; `fallback` is used for AVERROR values that
/// say nothing about the cause (AVERROR_UNKNOWN, AVERROR_EXTERNAL, ...).
error_code from_averror(int averror, errc fallback = errc::internal) noexcept;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media

namespace spool::inline SPOOL_ABI_NAMESPACE::media::av {

struct format_input_deleter {
  void operator()(AVFormatContext* c) const noexcept { avformat_close_input(&c); }
};
struct codec_deleter {
  void operator()(AVCodecContext* c) const noexcept { avcodec_free_context(&c); }
};
struct frame_deleter {
  void operator()(AVFrame* f) const noexcept { av_frame_free(&f); }
};
struct packet_deleter {
  void operator()(AVPacket* p) const noexcept { av_packet_free(&p); }
};
struct graph_deleter {
  void operator()(AVFilterGraph* g) const noexcept { avfilter_graph_free(&g); }
};
struct swr_deleter {
  void operator()(SwrContext* s) const noexcept { swr_free(&s); }
};
struct sws_deleter {
  void operator()(SwsContext* s) const noexcept { sws_freeContext(s); }
};
struct fifo_deleter {
  void operator()(AVAudioFifo* f) const noexcept { av_audio_fifo_free(f); }
};
struct dict_deleter {
  void operator()(AVDictionary* d) const noexcept { av_dict_free(&d); }
};

using input_ptr = std::unique_ptr<AVFormatContext, format_input_deleter>;
using codec_ptr = std::unique_ptr<AVCodecContext, codec_deleter>;
using frame_ptr = std::unique_ptr<AVFrame, frame_deleter>;
using packet_ptr = std::unique_ptr<AVPacket, packet_deleter>;
using graph_ptr = std::unique_ptr<AVFilterGraph, graph_deleter>;
using swr_ptr = std::unique_ptr<SwrContext, swr_deleter>;
using sws_ptr = std::unique_ptr<SwsContext, sws_deleter>;
using fifo_ptr = std::unique_ptr<AVAudioFifo, fifo_deleter>;

inline frame_ptr make_frame() {
  frame_ptr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}
inline packet_ptr make_packet() {
  packet_ptr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

inline std::string err2str(int e) {
  char buf[AV_ERROR_MAX_STRING_SIZE] = {};
  av_strerror(e, buf, sizeof buf);
  return buf;
}

/// An error with words attached, thrown inside the engine and caught at its edge (the same type
/// spool::result throws, and storage's helpers).
using failure = ::spool::failure;

[[noreturn]] inline void fail(error_code ec, std::string detail) { throw failure(error(ec, std::move(detail))); }
[[noreturn]] inline void fail_av(int averror, const std::string& what, errc fallback = errc::internal) {
  fail(from_averror(averror, fallback), what + ": " + err2str(averror));
}
inline int check(int r, const std::string& what, errc fallback = errc::internal) {
  if (r < 0) fail_av(r, what, fallback);
  return r;
}

inline double q2d(AVRational r) { return r.den ? av_q2d(r) : 0.0; }

/// The nearest even value, at least 2: 4:2:0 pictures need even sizes.
inline int even(double v) { return std::max(2, static_cast<int>(std::lround(v / 2)) * 2); }

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media::av
