#include "media/input.hpp"

#include "media/https_input.hpp"

#include <boost/url/parse.hpp>

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

std::vector<std::string> input_policy::default_demuxers() {
  // Containers and elementary streams that carry their media inside the file itself. Absent on
  // purpose: hls, dash, concat, image2*, tee, data, subfile, tty, lavfi and every other format that
  // reads or renders something other than the bytes handed to it.
  return {"mov", "mp4", "matroska", "webm", "avi", "flv", "mpegts", "mpeg", "mpegvideo", "h264", "hevc", "m4v",
          "asf", "ogg", "wav", "mp3", "aac", "flac", "dv", "mxf", "gif", "yuv4mpegpipe", "nut", "rm", "w64",
          "aiff", "caf", "ivf", "obu", "mjpeg", "vc1", "mpegtsraw", "wv", "ac3", "eac3", "amr", "loas", "opus"};
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
  if (g && g->refused_url.empty()) g->refused_url = url ? url : "";
  return AVERROR(EPERM);
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
    if (!url) av::fail(errc::protocol_not_allowed, "the input is not a valid URI: " + input);
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
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
      av::fail(errno == ENOENT || errno == ENOTDIR ? make_error_code(errc::input_unreadable) : make_error_code(errc::io_error),
               "cannot open " + path + ": " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) av::fail(errc::input_unreadable, path + " is not a regular file");
    io_->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (io_->fd < 0) av::fail(errc::input_unreadable, "cannot open " + path + ": " + std::strerror(errno));
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

  AVFormatContext* ctx = avformat_alloc_context();
  if (!ctx) throw std::bad_alloc();
  ctx->pb = pb;
  ctx->opaque = &guard;
  ctx->io_open = &deny_io_open;
  ctx->interrupt_callback = AVIOInterruptCB{interrupt_cb, &guard};
  ctx->probesize = policy.probe_size;
  ctx->max_analyze_duration = policy.analyze_duration_us;
  ctx->max_streams = policy.max_streams + 1;  // one over the limit tells us the input exceeded it
  ctx->flags |= AVFMT_FLAG_CUSTOM_IO;

  AVDictionary* opts = nullptr;
  std::string whitelist;
  for (const auto& d : policy.demuxers) whitelist += (whitelist.empty() ? "" : ",") + d;
  av_dict_set(&opts, "format_whitelist", whitelist.c_str(), 0);
  // Reading is spool's own (a file descriptor, or https_input); no FFmpeg protocol is needed for https.
  av_dict_set(&opts, "protocol_whitelist", https_ ? "none" : "file", 0);  // "none" matches no protocol
  int r = avformat_open_input(&ctx, display.c_str(), ifmt, &opts);
  av_dict_free(&opts);
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

  if (static_cast<int>(ctx->nb_streams) > policy.max_streams)
    av::fail(errc::too_many_streams, "the input has more than " + std::to_string(policy.max_streams) + " streams");

  // Probing decodes a few frames; one thread each keeps its memory small (it is not reused later).
  std::vector<AVDictionary*> stream_opts(ctx->nb_streams, nullptr);
  for (auto& d : stream_opts) av_dict_set(&d, "threads", "1", 0);
  r = avformat_find_stream_info(ctx, stream_opts.data());
  for (auto& d : stream_opts) av_dict_free(&d);
  if (r < 0) fail_read(r, "cannot read the input's streams");
  check_source();
  if (!guard.refused_url.empty())
    av::fail(errc::nested_open_refused,
             "the input tried to open another resource (" + guard.refused_url + "); nested opens are refused");
  if (static_cast<int>(ctx->nb_streams) > policy.max_streams)
    av::fail(errc::too_many_streams, "the input has more than " + std::to_string(policy.max_streams) + " streams");

  for (unsigned i = 0; i < ctx->nb_streams; ++i) {
    const AVCodecParameters* par = ctx->streams[i]->codecpar;
    if (par->codec_type == AVMEDIA_TYPE_VIDEO &&
        static_cast<std::int64_t>(par->width) * par->height > policy.max_pixels)
      av::fail(errc::too_many_pixels, "the input's frames are " + std::to_string(par->width) + "x" +
                                          std::to_string(par->height) + ", over the limit of " +
                                          std::to_string(policy.max_pixels) + " pixels");
  }
  if (ctx->duration != AV_NOPTS_VALUE && ctx->duration > 0 &&
      static_cast<double>(ctx->duration) / AV_TIME_BASE > policy.max_duration_s)
    av::fail(errc::too_long, "the input lasts " + std::to_string(ctx->duration / AV_TIME_BASE) +
                                 " s, over the limit of " + std::to_string(static_cast<long long>(policy.max_duration_s)) + " s");
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
