#include "media/progressive.hpp"

#include <spool/package_layout.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

#include "core/durable_file.hpp"

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

struct avio_deleter {
  void operator()(AVIOContext* pb) const noexcept {
    av_freep(&pb->buffer);
    avio_context_free(&pb);
  }
};
using avio_ptr = std::unique_ptr<AVIOContext, avio_deleter>;

using read_fn = int (*)(void*, std::uint8_t*, int);
using seek_fn = std::int64_t (*)(void*, std::int64_t, int);

avio_ptr make_avio(void* opaque, read_fn read, read_fn write, seek_fn seek) {
  constexpr int size = 1 << 16;
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(size));
  if (!buffer) throw std::bad_alloc();
  AVIOContext* pb = avio_alloc_context(buffer, size, write ? 1 : 0, opaque, read, write, seek);
  if (!pb) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  return avio_ptr(pb);
}

// Reads init.mp4 and every segment of a track as one continuous fragmented MP4.
class track_reader {
 public:
  track_reader(const fs::path& dir, const track_info& t) {
    files_.push_back(dir / t.name / package_layout::init);
    for (std::size_t i = 0; i < t.segments.size(); ++i)
      files_.push_back(dir / t.name / package_layout::segment_file(i + 1));
    pb_ = make_avio(this, &read_cb, nullptr, nullptr);
    AVFormatContext* raw = avformat_alloc_context();
    if (!raw) throw std::bad_alloc();
    raw->pb = pb_.get();
    AVDictionary* opts = nullptr;
    av_dict_set(&opts, "format_whitelist", "mov,mp4,m4a,3gp,3g2,mj2", 0);
    int r = avformat_open_input(&raw, nullptr, av_find_input_format("mp4"), &opts);  // frees raw on failure
    av_dict_free(&opts);
    check(r, "cannot read back rendition " + t.name);
    ctx_.reset(raw);
    check(avformat_find_stream_info(ctx_.get(), nullptr), "cannot read back rendition " + t.name);
    if (ctx_->nb_streams != 1) av::fail(errc::internal, "rendition " + t.name + " does not hold one track");
  }
  track_reader(const track_reader&) = delete;
  track_reader& operator=(const track_reader&) = delete;
  ~track_reader() { close_file(); }

  AVStream* stream() const { return ctx_->streams[0]; }

  /// The next packet, or false at the end of the track.
  bool read(AVPacket* pkt) {
    int r = av_read_frame(ctx_.get(), pkt);
    if (r == AVERROR_EOF) return false;
    check(r, "cannot read back a rendition");
    return true;
  }

 private:
  static int read_cb(void* opaque, std::uint8_t* buf, int size) {
    auto* self = static_cast<track_reader*>(opaque);
    for (;;) {
      if (self->fd_ < 0) {
        if (self->next_ >= self->files_.size()) return AVERROR_EOF;
        self->fd_ = ::open(self->files_[self->next_++].c_str(), O_RDONLY | O_CLOEXEC);
        if (self->fd_ < 0) return self->failed(errno);
      }
      ssize_t n = ::read(self->fd_, buf, static_cast<std::size_t>(size));
      if (n > 0) return static_cast<int>(n);
      if (n < 0) {
        if (errno == EINTR) continue;
        return self->failed(errno);
      }
      self->close_file();
    }
  }
  void close_file() noexcept {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }
  int failed(int e) {
    if (!errno_) {
      errno_ = e;
      errno_file_ = next_ - 1;
    }
    return AVERROR(e);
  }
  // A read error of our own files is an I/O error; anything else the demuxer says about them is a bug.
  void check(int r, const std::string& what) {
    if (errno_) detail::fail_errno(errno_, "cannot read " + files_[errno_file_].string());
    check_own(r, what);
  }

  std::vector<fs::path> files_;
  std::size_t next_ = 0;
  int fd_ = -1;
  int errno_ = 0;
  std::size_t errno_file_ = 0;
  avio_ptr pb_;  // outlives ctx_, which reads through it
  av::input_ptr ctx_;
};

// The MP4 being written: an out_file behind a seekable AVIOContext. faststart makes movenc read the
// file back (through io_open) while it shifts the media data behind the index; both directions are
// served here. Nothing thrown inside a callback crosses FFmpeg's frames: it is kept and rethrown
// once FFmpeg returns.
class mp4_sink {
 public:
  mp4_sink(fs::path path, input_guard& guard) : path_(std::move(path)), guard_(guard) {
    pb_ = make_avio(this, nullptr, &write_cb, &seek_cb);
    file_.open(path_);
  }
  mp4_sink(const mp4_sink&) = delete;
  mp4_sink& operator=(const mp4_sink&) = delete;
  ~mp4_sink() {
    reader_.reset();
    if (read_fd_ >= 0) ::close(read_fd_);
    if (!committed_) {
      pb_.reset();
      std::error_code ec;
      fs::remove(path_, ec);  // the file's descriptor is closed by out_file; a partial MP4 is worthless
    }
  }

  void attach(AVFormatContext* oc) {
    oc->pb = pb_.get();
    oc->opaque = this;
    oc->io_open = &open_cb;
    oc->io_close2 = &close_cb;
  }
  bool failed() const noexcept { return static_cast<bool>(pending_); }
  void rethrow_pending() {
    if (pending_) std::rethrow_exception(std::exchange(pending_, nullptr));
  }
  /// Flushes, syncs and closes the file; from here on it stays.
  void commit() {
    avio_flush(pb_.get());
    rethrow_pending();
    check_own(pb_->error, "cannot write " + path_.string());
    file_.close();
    committed_ = true;
  }

 private:
  template <class F>
  auto guarded(F&& f) noexcept -> decltype(f()) {
    try {
      return f();
    } catch (...) {
      if (!pending_) pending_ = std::current_exception();
      return AVERROR_EXIT;
    }
  }

  static int write_cb(void* opaque, std::uint8_t* buf, int size) {
    auto* self = static_cast<mp4_sink*>(opaque);
    return self->guarded([&] {
      self->guard_.check();
      self->file_.write(buf, static_cast<std::size_t>(size));
      self->pos_ += size;
      return size;
    });
  }
  static std::int64_t seek_cb(void* opaque, std::int64_t offset, int whence) {
    auto* self = static_cast<mp4_sink*>(opaque);
    return self->guarded([&]() -> std::int64_t {
      if (whence & AVSEEK_SIZE) return self->file_.size();
      whence &= ~AVSEEK_FORCE;
      std::int64_t to = whence == SEEK_SET   ? offset
                        : whence == SEEK_CUR ? self->pos_ + offset
                        : whence == SEEK_END ? self->file_.size() + offset
                                             : -1;
      if (to < 0) return AVERROR(EINVAL);
      self->file_.seek(to);
      self->pos_ = to;
      return to;
    });
  }

  static int open_cb(AVFormatContext* s, AVIOContext** pb, const char* url, int flags, AVDictionary**) {
    auto* self = static_cast<mp4_sink*>(s->opaque);
    return self->guarded([&] {
      // Only the read-back of this very file is served; movenc asks for nothing else.
      if ((flags & AVIO_FLAG_WRITE) || self->reader_ || fs::path(url) != self->path_) return AVERROR(EPERM);
      self->read_fd_ = ::open(self->path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (self->read_fd_ < 0) detail::fail_errno(errno, "cannot read back " + self->path_.string());
      self->reader_ = make_avio(self, &read_cb, nullptr, &read_seek_cb);
      *pb = self->reader_.get();
      return 0;
    });
  }
  static int close_cb(AVFormatContext* s, AVIOContext* pb) {
    auto* self = static_cast<mp4_sink*>(s->opaque);
    if (pb == self->reader_.get()) {
      self->reader_.reset();
      ::close(std::exchange(self->read_fd_, -1));
    }
    return 0;
  }
  static int read_cb(void* opaque, std::uint8_t* buf, int size) {
    auto* self = static_cast<mp4_sink*>(opaque);
    return self->guarded([&] {
      self->guard_.check();
      for (;;) {
        ssize_t n = ::read(self->read_fd_, buf, static_cast<std::size_t>(size));
        if (n > 0) return static_cast<int>(n);
        if (n == 0) return AVERROR_EOF;
        if (errno != EINTR) detail::fail_errno(errno, "cannot read back " + self->path_.string());
      }
    });
  }
  static std::int64_t read_seek_cb(void* opaque, std::int64_t offset, int whence) {
    auto* self = static_cast<mp4_sink*>(opaque);
    if (whence & AVSEEK_SIZE) return self->file_.size();
    off_t r = ::lseek(self->read_fd_, offset, whence & ~AVSEEK_FORCE);
    return r < 0 ? AVERROR(errno) : r;
  }

  fs::path path_;
  input_guard& guard_;
  detail::out_file file_;
  std::int64_t pos_ = 0;
  avio_ptr pb_;
  int read_fd_ = -1;
  avio_ptr reader_;
  std::exception_ptr pending_;
  bool committed_ = false;
};

struct output_deleter {
  void operator()(AVFormatContext* c) const noexcept { avformat_free_context(c); }  // pb belongs to mp4_sink
};

}  // namespace

void write_progressive(const fs::path& dir, const track_info& video, const track_info* audio, const fs::path& out,
                       input_guard& guard) {
  std::vector<std::unique_ptr<track_reader>> inputs;
  inputs.push_back(std::make_unique<track_reader>(dir, video));
  if (audio) inputs.push_back(std::make_unique<track_reader>(dir, *audio));
  guard.check();

  mp4_sink sink(out, guard);  // declared before the muxer, which uses it until freed
  AVFormatContext* raw = nullptr;
  check_own(avformat_alloc_output_context2(&raw, nullptr, "mp4", out.c_str()), "cannot create the MP4 muxer");
  std::unique_ptr<AVFormatContext, output_deleter> oc(raw);
  for (auto& in : inputs) {
    AVStream* st = avformat_new_stream(oc.get(), nullptr);
    if (!st) throw std::bad_alloc();
    check_own(avcodec_parameters_copy(st->codecpar, in->stream()->codecpar), "cannot copy a track");
    st->codecpar->codec_tag = sample_entry_tag(st->codecpar->codec_id);
    st->time_base = in->stream()->time_base;
  }
  sink.attach(oc.get());
  AVDictionary* opts = nullptr;
  av_dict_set(&opts, "movflags", "faststart", 0);
  int r = avformat_write_header(oc.get(), &opts);
  if (r < 0 || sink.failed()) av_dict_free(&opts);
  sink.rethrow_pending();
  check_own(r, "cannot start " + out.string());
  require_consumed(opts, "the mp4 muxer");

  // Interleaved by decode time: always the track that is furthest behind.
  std::vector<av::packet_ptr> pending;
  std::vector<bool> have(inputs.size(), false), done(inputs.size(), false);
  for (std::size_t i = 0; i < inputs.size(); ++i) pending.push_back(av::make_packet());
  for (;;) {
    guard.check();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (have[i] || done[i]) continue;
      if (inputs[i]->read(pending[i].get()))
        have[i] = true;
      else
        done[i] = true;
    }
    std::size_t pick = inputs.size();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!have[i]) continue;
      if (pick == inputs.size() || av_compare_ts(pending[i]->dts, inputs[i]->stream()->time_base, pending[pick]->dts,
                                                 inputs[pick]->stream()->time_base) < 0)
        pick = i;
    }
    if (pick == inputs.size()) break;
    AVPacket* p = pending[pick].get();
    p->stream_index = static_cast<int>(pick);
    av_packet_rescale_ts(p, inputs[pick]->stream()->time_base, oc->streams[pick]->time_base);
    r = av_interleaved_write_frame(oc.get(), p);
    sink.rethrow_pending();
    check_own(r, "cannot write " + out.string());
    have[pick] = false;
  }
  r = av_write_trailer(oc.get());  // moves the index to the front (faststart): reads the file back
  sink.rethrow_pending();
  check_own(r, "cannot finish " + out.string());
  oc.reset();
  sink.commit();
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
