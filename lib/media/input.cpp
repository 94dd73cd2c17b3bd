// Opening an input: the container in a byte source, under the input policy.
#include "media/input.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>

#include "media/source_avio.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

int interrupt_cb(void* opaque) { return static_cast<input_guard*>(opaque)->interrupted() ? 1 : 0; }

// Every nested open (playlists, external references, "dref" atoms, ...) is refused.
int deny_io_open(AVFormatContext* s, AVIOContext**, const char* url, int, AVDictionary**) {
  auto* g = static_cast<input_guard*>(s->opaque);
  try {  // called from inside FFmpeg: nothing may unwind through it
    if (g && g->refused_url.empty()) g->refused_url = url && *url ? url : "(unnamed)";
  } catch (...) {
  }
  return AVERROR(EPERM);
}

// The container over `pb` (at its start), at most `max_streams` streams, with FFmpeg's protocols
// limited to `protocols`. On failure *out is null and the AVERROR is returned; the pb stays open.
int open_container(AVIOContext* pb, const AVInputFormat* ifmt, const std::string& name, const input_policy& policy,
                   input_guard& guard, int max_streams, const char* protocols, AVFormatContext** out) {
  *out = nullptr;
  AVFormatContext* ctx = avformat_alloc_context();
  if (!ctx) throw std::bad_alloc();
  ctx->pb = pb;
  ctx->opaque = &guard;
  ctx->io_open = &deny_io_open;
  ctx->interrupt_callback = AVIOInterruptCB{interrupt_cb, &guard};
  ctx->probesize = policy.probe_size;
  ctx->max_analyze_duration = policy.analyze_duration_us;
  ctx->max_streams = max_streams;
  ctx->flags |= AVFMT_FLAG_CUSTOM_IO;
  AVDictionary* opts = nullptr;
  std::string formats;
  for (const auto& d : policy.demuxers) formats += (formats.empty() ? "" : ",") + d;
  av_dict_set(&opts, "format_whitelist", formats.c_str(), 0);
  av_dict_set(&opts, "protocol_whitelist", protocols, 0);
  int r = avformat_open_input(&ctx, name.c_str(), ifmt, &opts);
  av_dict_free(&opts);
  if (r >= 0) *out = ctx;
  return r;
}

// A demuxer that meets more streams than AVFormatContext::max_streams fails as if out of memory
// (mov, matroska, flv). Reading the header again with a higher ceiling tells a file that declares
// too many streams, a policy matter, from a machine that is really out of memory.
bool declares_more_streams(AVIOContext* pb, const AVInputFormat* ifmt, const std::string& name,
                           const input_policy& policy, input_guard& guard, const char* protocols) {
  if (!pb || avio_seek(pb, 0, SEEK_SET) < 0) return false;
  for (int ceiling : {std::max(1000, 4 * (policy.max_streams + 1)), 20000}) {
    AVFormatContext* ctx = nullptr;
    int r = open_container(pb, ifmt, name, policy, guard, ceiling, protocols, &ctx);
    if (r >= 0) {
      bool more = static_cast<int>(ctx->nb_streams) > policy.max_streams;
      ctx->flags |= AVFMT_FLAG_CUSTOM_IO;  // the pb outlives this look
      avformat_close_input(&ctx);
      return more;
    }
    if (r != AVERROR(ENOMEM) || avio_seek(pb, 0, SEEK_SET) < 0) return false;
  }
  return false;
}

}  // namespace

opened_input::opened_input() = default;

opened_input::~opened_input() {
  fmt_.reset();  // the format context refers to io_->pb(); close it first
  io_.reset();
}

void opened_input::check_source() const {
  if (io_) io_->rethrow_failure();
}

void opened_input::fail_read(int averror, const char* what) const {
  if (guard_) {
    if (guard_->cancelled || (guard_->cancel && guard_->cancel->load())) av::fail(errc::cancelled, "cancelled");
    if (guard_->deadline_hit) av::fail(errc::deadline_exceeded, "the job's deadline passed while reading the input");
    if (!guard_->refused_url.empty())
      av::fail(errc::nested_open_refused,
               "the input tried to open another resource (" + guard_->refused_url + "); nested opens are refused");
  }
  check_source();
  av::fail_av(averror, what, errc::input_undecodable);
}

void opened_input::open(io::byte_source& source, const input_policy& policy, input_guard& guard) {
  guard_ = &guard;
  io_ = std::make_unique<source_avio>(source, guard);
  AVIOContext* pb = io_->pb();
  // FFmpeg's logs name the input as the source does: a path, or a URL without its query string.
  const std::string display = source.name();

  const AVInputFormat* ifmt = nullptr;
  int score = av_probe_input_buffer2(pb, &ifmt, display.c_str(), nullptr, 0,
                                     static_cast<unsigned>(std::min<std::int64_t>(policy.probe_size, 1 << 30)));
  if (score < 0 || !ifmt) {
    if (guard.cancelled) av::fail(errc::cancelled, "cancelled");
    check_source();
    if (score == AVERROR_EOF) av::fail(errc::input_not_media, "the input is empty");
    if (io_->failed()) fail_read(score, "cannot read the input");
    av::fail(errc::input_not_media, "the input is not a recognised media file");
  }
  if (!demuxer_allowed(ifmt->name, policy.demuxers)) {
    av::fail(errc::format_not_allowed, std::string("the input's format '") + ifmt->name + "' is not allowed");
  }

  AVFormatContext* ctx = nullptr;
  // Reading is spool's own (source_avio): FFmpeg needs no protocol at all ("none" matches none).
  const char* protocols = "none";
  int r = open_container(pb, ifmt, display, policy, guard, policy.max_streams + 1, protocols, &ctx);
  if (r == AVERROR(ENOMEM) && declares_more_streams(pb, ifmt, display, policy, guard, protocols))
    fail_too_many_streams(policy);
  if (r < 0) {  // avformat_open_input freed ctx; the custom pb is still ours
    check_source();
    // Picked by its name alone and then unreadable as that format: it is not media at all.
    if (r == AVERROR_INVALIDDATA && score <= AVPROBE_SCORE_EXTENSION && !io_->failed() && !guard.cancelled &&
        guard.refused_url.empty())
      av::fail(errc::input_not_media,
               std::string("the input is not a recognised media file (only its name says ") + ifmt->name + ")");
    fail_read(r, "cannot open the input");
  }
  fmt_.reset(ctx);
  check_stream_count(ctx, policy);
  // Sizes the headers declare are checked before any decoder allocates a picture of that size.
  check_pixels(ctx, policy);

  // Probing decodes a few frames of every stream: only allowed decoders, each with the pixel limit
  // and one thread, which keeps its memory small (they are not reused later).
  const std::string allowed = decoder_whitelist(policy.decoders);
  const std::string max_px = std::to_string(policy.max_pixels);
  std::vector<AVDictionary*> stream_opts(ctx->nb_streams, nullptr);
  for (auto& d : stream_opts) {
    av_dict_set(&d, "threads", "1", 0);
    av_dict_set(&d, "max_pixels", max_px.c_str(), 0);
    av_dict_set(&d, "codec_whitelist", allowed.c_str(), 0);
  }
  r = avformat_find_stream_info(ctx, stream_opts.data());
  for (auto& d : stream_opts) av_dict_free(&d);
  if (r == AVERROR(ENOMEM) && static_cast<int>(ctx->nb_streams) > policy.max_streams) fail_too_many_streams(policy);
  if (r < 0) fail_read(r, "cannot read the input's streams");
  check_source();
  if (!guard.refused_url.empty())
    av::fail(errc::nested_open_refused,
             "the input tried to open another resource (" + guard.refused_url + "); nested opens are refused");
  check_stream_count(ctx, policy);
  check_pixels(ctx, policy);
  if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0 &&
      static_cast<double>(ctx->duration) / AV_TIME_BASE > policy.max_duration_s)
    av::fail(errc::too_long, fmt::format("the input lasts {:.0f} s, over the limit of {:.0f} s",
                                         static_cast<double>(ctx->duration) / AV_TIME_BASE, policy.max_duration_s));
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
