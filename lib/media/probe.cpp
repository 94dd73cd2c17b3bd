#include <spool/media/probe.hpp>

#include <boost/json.hpp>

#include "media/input.hpp"

extern "C" {
#include <libavutil/pixdesc.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

const char* type_name(AVMediaType t) {
  switch (t) {
    case AVMEDIA_TYPE_VIDEO: return "video";
    case AVMEDIA_TYPE_AUDIO: return "audio";
    case AVMEDIA_TYPE_SUBTITLE: return "subtitle";
    case AVMEDIA_TYPE_ATTACHMENT: return "attachment";
    default: return "data";
  }
}

}  // namespace

void describe(AVFormatContext* ctx, probe_result& out) {
  out.format = ctx->iformat ? ctx->iformat->name : "";
  out.duration_s =
      ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0 ? static_cast<double>(ctx->duration) / AV_TIME_BASE : 0.0;
  out.size_bytes = ctx->pb ? avio_size(ctx->pb) : 0;
  out.bit_rate = ctx->bit_rate;
  out.streams.clear();
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVStream* st = ctx->streams[i];
    const AVCodecParameters* par = st->codecpar;
    stream_info s;
    s.index = static_cast<int>(i);
    s.type = type_name(par->codec_type);
    const AVCodecDescriptor* desc = avcodec_descriptor_get(par->codec_id);
    s.codec = desc ? desc->name : "unknown";
    s.bit_rate = par->bit_rate;
    if (st->duration != AV_NOPTS_VALUE && st->duration > 0)
      s.duration_s = static_cast<double>(st->duration) * av::q2d(st->time_base);
    if (par->codec_type == AVMEDIA_TYPE_VIDEO) {
      s.width = par->width;
      s.height = par->height;
      s.rotation = stream_rotation(st);
      // The container's ratio wins over the bitstream's, as in players.
      auto [dw, dh] =
          display_size(par->width, par->height, av_guess_sample_aspect_ratio(ctx, const_cast<AVStream*>(st), nullptr));
      if (s.rotation == 90 || s.rotation == 270) std::swap(dw, dh);
      s.display_width = dw;
      s.display_height = dh;
      AVRational fr = st->avg_frame_rate.num > 0 ? st->avg_frame_rate : st->r_frame_rate;
      s.fps = av::q2d(fr);
      const AVPixFmtDescriptor* pd = av_pix_fmt_desc_get(static_cast<AVPixelFormat>(par->format));
      s.pix_fmt = pd ? pd->name : "unknown";
      s.bit_depth = pd ? pd->comp[0].depth : 8;
      s.interlaced = par->field_order != AV_FIELD_UNKNOWN && par->field_order != AV_FIELD_PROGRESSIVE;
    } else if (par->codec_type == AVMEDIA_TYPE_AUDIO) {
      s.sample_rate = par->sample_rate;
      s.channels = par->ch_layout.nb_channels;
    }
    out.streams.push_back(std::move(s));
  }
  // The streams spool would transcode: FFmpeg's own choice, never a cover-art picture.
  int v = av_find_best_stream(ctx, AVMEDIA_TYPE_VIDEO, -1, -1, nullptr, 0);
  if (v >= 0 && (ctx->streams[v]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
    v = -1;
    for (unsigned i = 0; i < ctx->nb_streams; ++i)
      if (ctx->streams[i]->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
          !(ctx->streams[i]->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
        v = static_cast<int>(i);
        break;
      }
  }
  out.video_index = v >= 0 ? v : -1;
  int a = av_find_best_stream(ctx, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
  out.audio_index = a >= 0 ? a : -1;
}

result<probe_result> probe(io::byte_source& input, const input_policy& policy, const std::atomic<bool>* cancel) {
  try {
    input_guard guard;
    guard.cancel = cancel;
    guard.set_deadline(std::chrono::steady_clock::now(), policy.deadline_for_opening());
    opened_input in;
    in.open(input, policy, guard);
    probe_result out;
    describe(in.get(), out);
    return out;
  } catch (const av::failure& f) {
    return error(f.code(), f.message());
  } catch (const std::bad_alloc&) {
    return error(errc::out_of_memory, "out of memory");
  }
}

boost::json::value to_json(const probe_result& p) {
  boost::json::array streams;
  for (const auto& s : p.streams) {
    boost::json::object o{{"index", s.index}, {"type", s.type}, {"codec", s.codec}};
    if (s.type == "video") {
      o["width"] = s.width;
      o["height"] = s.height;
      o["display_width"] = s.display_width;
      o["display_height"] = s.display_height;
      o["rotation"] = s.rotation;
      o["fps"] = s.fps;
      o["pix_fmt"] = s.pix_fmt;
      o["bit_depth"] = s.bit_depth;
      o["interlaced"] = s.interlaced;
    } else if (s.type == "audio") {
      o["sample_rate"] = s.sample_rate;
      o["channels"] = s.channels;
    }
    o["duration_s"] = s.duration_s;
    o["bit_rate"] = s.bit_rate;
    streams.push_back(std::move(o));
  }
  return boost::json::object{
      {"format", p.format},          {"duration_s", p.duration_s},    {"size_bytes", p.size_bytes},
      {"bit_rate", p.bit_rate},      {"streams", std::move(streams)}, {"video_index", p.video_index},
      {"audio_index", p.audio_index}};
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
