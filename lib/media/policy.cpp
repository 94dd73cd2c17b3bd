#include "media/input.hpp"
#include "media/https_source.hpp"

#include "media/https_input.hpp"

#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

extern "C" {
#include <libavutil/display.h>
}

namespace spool::media {

bool decoder_allowed(AVCodecID id, const input_policy& policy) {
  const AVCodecDescriptor* d = avcodec_descriptor_get(id);
  return d && std::find(policy.decoders.begin(), policy.decoders.end(), d->name) != policy.decoders.end();
}

std::pair<int, int> display_size(int width, int height, AVRational sar) {
  if (sar.num <= 0 || sar.den <= 0 || sar.num == sar.den) return {width, height};
  double w = std::round(static_cast<double>(width) * sar.num / sar.den);
  return {static_cast<int>(std::clamp(w, 1.0, 1e9)), height};
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return std::tolower(x) == std::tolower(y); });
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

int interrupt_cb(void* opaque) {
  auto* g = static_cast<input_guard*>(opaque);
  if (g->cancel && g->cancel->load(std::memory_order_relaxed)) {
    g->cancelled = true;
    return 1;
  }
  if (std::chrono::steady_clock::now() > g->deadline) {
    g->deadline_hit = true;
    return 1;
  }
  return 0;
}

// Every nested open (playlists, external references, "dref" atoms, ...) is refused.
int deny_io_open(AVFormatContext* s, AVIOContext**, const char* url, int, AVDictionary**) {
  auto* g = static_cast<input_guard*>(s->opaque);
  try {  // called from inside FFmpeg: nothing may unwind through it
    if (g && g->refused_url.empty()) g->refused_url = url && *url ? url : "(unnamed)";
  } catch (...) {
  }
  return AVERROR(EPERM);
}

// Opens `path` for reading only if it is a regular file, deciding on the descriptor itself: a path
// swapped for a FIFO or a device between a check and the open can neither block nor be read. An
// O_PATH descriptor opens nothing (no FIFO wait, no device side effect); once it is known to be a
// regular file, /proc/self/fd reopens that very inode for reading.
int open_regular_file(const std::string& path) {
  auto refuse = [&](int e) -> void {
    av::fail(e == ENOENT || e == ENOTDIR || e == ELOOP || e == EACCES || e == EPERM || e == ENXIO || e == ENAMETOOLONG
                 ? make_error_code(errc::input_unreadable)
                 : make_error_code(errc::io_error),
             "cannot open " + path + ": " + std::strerror(e));
  };
  int pfd = ::open(path.c_str(), O_PATH | O_CLOEXEC);
  if (pfd < 0) refuse(errno);
  struct stat st {};
  if (::fstat(pfd, &st) != 0) {
    int e = errno;
    ::close(pfd);
    refuse(e);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(pfd);
    av::fail(errc::input_unreadable, path + " is not a regular file");
  }
  int fd = ::open(("/proc/self/fd/" + std::to_string(pfd)).c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0 && errno == ENOENT) {
    // No /proc (some sandboxes): a non-blocking open cannot hang on a FIFO, and fstat of what was
    // opened decides.
    fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  }
  int e = errno;
  ::close(pfd);
  if (fd < 0) refuse(e);
  struct stat opened {};
  if (::fstat(fd, &opened) != 0 || !S_ISREG(opened.st_mode) || opened.st_ino != st.st_ino || opened.st_dev != st.st_dev) {
    ::close(fd);
    av::fail(errc::input_unreadable, path + " is not a regular file");
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0 && (flags & O_NONBLOCK)) ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return fd;
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
                           par->width, par->height, dw, dh, st->sample_aspect_ratio.num > 0 ? st->sample_aspect_ratio.num : par->sample_aspect_ratio.num,
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

}  // namespace

struct opened_input::io_state {
  int fd = -1;
  AVIOContext* pb = nullptr;
  input_guard* guard = nullptr;
  bool read_error = false;
  int read_errno = 0;

  ~io_state() {
    if (pb) {
      av_freep(&pb->buffer);
      avio_context_free(&pb);
    }
    if (fd >= 0) ::close(fd);
  }

  static int read(void* opaque, std::uint8_t* buf, int size) {
    auto* s = static_cast<io_state*>(opaque);
    if (interrupt_cb(s->guard)) return AVERROR_EXIT;
    for (;;) {
      ssize_t n = ::read(s->fd, buf, static_cast<size_t>(size));
      if (n > 0) return static_cast<int>(n);
      if (n == 0) return AVERROR_EOF;
      if (errno == EINTR) continue;
      s->read_error = true;
      s->read_errno = errno;
      return AVERROR(errno);
    }
  }
  static std::int64_t seek(void* opaque, std::int64_t offset, int whence) {
    auto* s = static_cast<io_state*>(opaque);
    if (whence == AVSEEK_SIZE) {
      struct stat st {};
      return ::fstat(s->fd, &st) == 0 ? st.st_size : AVERROR(errno);
    }
    off_t r = ::lseek(s->fd, offset, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : r;
  }
};

opened_input::opened_input() = default;

opened_input::~opened_input() {
  fmt_.reset();  // the format context refers to io_->pb or https_->pb(); close it first
  io_.reset();
  https_.reset();
}

void opened_input::check_source() const {
  if (https_) https_->rethrow_failure();
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
  if (io_ && io_->read_error) av::fail(errc::io_error, std::string(what) + ": " + std::strerror(io_->read_errno));
  av::fail_av(averror, what, errc::input_undecodable);
}

void opened_input::open(const std::string& input, const input_policy& policy, input_guard& guard) {
  guard_ = &guard;
  io_ = std::make_unique<io_state>();
  io_->guard = &guard;
  std::string path = input;
  std::string display = input;
  AVIOContext* pb = nullptr;

  auto scheme_end = input.find("://");
  bool has_scheme = scheme_end != std::string::npos && scheme_end > 0 &&
                    std::all_of(input.begin(), input.begin() + static_cast<std::ptrdiff_t>(scheme_end),
                                [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '+'; });
  if (has_scheme) {
    auto url = boost::urls::parse_uri(input);
    if (!url) av::fail(errc::protocol_not_allowed, "the input is not a valid URI: " + redact_url(input));
    std::string scheme(url->scheme());
    if (iequals(scheme, "file")) {
      if (!url->encoded_host().empty() && !iequals(url->encoded_host(), "localhost"))
        av::fail(errc::protocol_not_allowed, "file:// URIs must name a local path");
      path = std::string(url->path());
    } else if (iequals(scheme, "https")) {
      // Checks the host against the allow-list (and every redirect the same way), then connects.
      https_ = std::make_unique<https_input>(input, policy, guard);
      pb = https_->pb();
      display = https_->name();  // FFmpeg's logs name the input without its query string
      path.clear();
    } else {
      av::fail(errc::protocol_not_allowed, "the input's scheme '" + scheme + "' is not allowed");
    }
  }

  if (!path.empty()) {
    io_->fd = open_regular_file(path);
    constexpr int buffer_size = 1 << 16;
    auto* buffer = static_cast<std::uint8_t*>(av_malloc(buffer_size));
    if (!buffer) throw std::bad_alloc();
    io_->pb = avio_alloc_context(buffer, buffer_size, 0, io_.get(), &io_state::read, nullptr, &io_state::seek);
    if (!io_->pb) {
      av_free(buffer);
      throw std::bad_alloc();
    }
    pb = io_->pb;
  }

  const AVInputFormat* ifmt = nullptr;
  int score = av_probe_input_buffer2(pb, &ifmt, display.c_str(), nullptr, 0,
                                     static_cast<unsigned>(std::min<std::int64_t>(policy.probe_size, 1 << 30)));
  if (score < 0 || !ifmt) {
    if (guard.cancelled) av::fail(errc::cancelled, "cancelled");
    check_source();
    if (score == AVERROR_EOF) av::fail(errc::input_not_media, "the input is empty");
    if (io_->read_error) fail_read(score, "cannot read the input");
    av::fail(errc::input_not_media, "the input is not a recognised media file");
  }
  if (!demuxer_allowed(ifmt->name, policy.demuxers)) {
    av::fail(errc::format_not_allowed, std::string("the input's format '") + ifmt->name + "' is not allowed");
  }

  AVFormatContext* ctx = nullptr;
  // Reading is spool's own (a file descriptor, or https_input): FFmpeg needs no network protocol.
  const char* protocols = https_ ? "none" : "file";  // "none" matches no protocol
  int r = open_container(pb, ifmt, display, policy, guard, policy.max_streams + 1, protocols, &ctx);
  if (r == AVERROR(ENOMEM) && declares_more_streams(pb, ifmt, display, policy, guard, protocols))
    fail_too_many_streams(policy);
  if (r < 0) {  // avformat_open_input freed ctx; the custom pb is still ours
    check_source();
    // Picked by its name alone and then unreadable as that format: it is not media at all.
    if (r == AVERROR_INVALIDDATA && score <= AVPROBE_SCORE_EXTENSION && !io_->read_error && !guard.cancelled &&
        guard.refused_url.empty())
      av::fail(errc::input_not_media, std::string("the input is not a recognised media file (only its name says ") +
                                          ifmt->name + ")");
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

int stream_rotation(const AVStream* st) {
  const std::uint8_t* sd = av_stream_get_side_data(st, AV_PKT_DATA_DISPLAYMATRIX, nullptr);
  if (!sd) return 0;
  double theta = -av_display_rotation_get(reinterpret_cast<const std::int32_t*>(sd));
  if (std::isnan(theta)) return 0;
  theta -= 360 * std::floor(theta / 360 + 0.9 / 360);
  int r = static_cast<int>(std::lround(theta / 90.0)) * 90 % 360;
  return r < 0 ? r + 360 : r;
}

}  // namespace spool::media
