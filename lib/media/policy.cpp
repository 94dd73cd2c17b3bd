// The input policy's checks that need FFmpeg: demuxers, decoders, stream counts and pixel sizes.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "media/input.hpp"

extern "C" {
#include <libavutil/display.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

bool decoder_allowed(AVCodecID id, const input_policy& policy) {
  const AVCodecDescriptor* d = avcodec_descriptor_get(id);
  return d && std::find(policy.decoders.begin(), policy.decoders.end(), d->name) != policy.decoders.end();
}

std::pair<int, int> display_size(int width, int height, AVRational sar) {
  if (sar.num <= 0 || sar.den <= 0 || sar.num == sar.den) return {width, height};
  double w = std::round(static_cast<double>(width) * sar.num / sar.den);
  return {static_cast<int>(std::clamp(w, 1.0, 1e9)), height};
}

// A demuxer's name is a comma-separated list ("mov,mp4,m4a,3gp,3g2,mj2"): allowed if any is listed.
bool demuxer_allowed(const char* name, const std::vector<std::string>& allowed) {
  std::string_view names(name);
  while (!names.empty()) {
    auto comma = names.find(',');
    auto one = names.substr(0, comma);
    if (std::find(allowed.begin(), allowed.end(), one) != allowed.end()) return true;
    if (comma == std::string_view::npos) break;
    names.remove_prefix(comma + 1);
  }
  return false;
}

[[noreturn]] void fail_too_many_streams(const input_policy& policy) {
  av::fail(errc::too_many_streams, "the input has more than " + std::to_string(policy.max_streams) + " streams");
}

void check_stream_count(const AVFormatContext* ctx, const input_policy& policy) {
  if (static_cast<int>(ctx->nb_streams) > policy.max_streams) fail_too_many_streams(policy);
}

// Coded and display sizes (after the sample aspect ratio the container or the bitstream declares)
// against the pixel limit: what is encoded follows the display size.
void check_pixels(AVFormatContext* ctx, const input_policy& policy) {
  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    AVStream* st = ctx->streams[i];
    const AVCodecParameters* par = st->codecpar;
    if (par->codec_type != AVMEDIA_TYPE_VIDEO || par->width <= 0 || par->height <= 0) continue;
    auto [dw, dh] = display_size(par->width, par->height, av_guess_sample_aspect_ratio(ctx, st, nullptr));
    std::int64_t coded = static_cast<std::int64_t>(par->width) * par->height;
    std::int64_t shown = static_cast<std::int64_t>(dw) * dh;
    if (coded > policy.max_pixels)
      av::fail(errc::too_many_pixels, fmt::format("the input's frames are {}x{}, over the limit of {} pixels",
                                                  par->width, par->height, policy.max_pixels));
    if (shown > policy.max_pixels)
      av::fail(errc::too_many_pixels,
               fmt::format("the input's frames are {}x{} but display as {}x{} (sample aspect ratio {}:{}), over the "
                           "limit of {} pixels",
                           par->width, par->height, dw, dh,
                           st->sample_aspect_ratio.num > 0 ? st->sample_aspect_ratio.num : par->sample_aspect_ratio.num,
                           st->sample_aspect_ratio.num > 0 ? st->sample_aspect_ratio.den : par->sample_aspect_ratio.den,
                           policy.max_pixels));
  }
}

// Names of the decoders FFmpeg would pick for the allowed codecs (its `codec_whitelist` lists
// decoder names, spool's policy lists codecs).
std::string decoder_whitelist(const std::vector<std::string>& codecs) {
  std::string out;
  for (const auto& name : codecs) {
    const AVCodecDescriptor* d = avcodec_descriptor_get_by_name(name.c_str());
    const AVCodec* dec = d ? avcodec_find_decoder(d->id) : nullptr;
    if (dec) out += (out.empty() ? "" : ",") + std::string(dec->name);
  }
  return out.empty() ? "none" : out;
}

int stream_rotation(const AVStream* st) {
  const std::uint8_t* sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!sd) return 0;
  double theta = -av_display_rotation_get(reinterpret_cast<const std::int32_t*>(sd));
  if (std::isnan(theta)) return 0;
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  int r = static_cast<int>(std::lround(theta / 90.0)) * 90 % 360;
  return r < 0 ? r + 360 : r;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
