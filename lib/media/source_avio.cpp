#include "media/source_avio.hpp"

#include <new>

#include "media/input.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

source_avio::source_avio(io::byte_source& source, input_guard& guard) : source_(source), guard_(guard) {
  source_.set_interrupt([g = &guard_]() -> error_code { return g->interrupted(); });
  constexpr int buffer_size = 1 << 16;
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(buffer_size));
  if (!buffer) throw std::bad_alloc();
  pb_ = avio_alloc_context(buffer, buffer_size, 0, this, &source_avio::read, nullptr, &source_avio::seek);
  if (!pb_) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  // A source that may refuse backward reads: demuxers then skip optional seeks (duration estimates,
  // index lookups at the end), FFmpeg reads forward itself and calls seek() only when it must.
  pb_->seekable = source_.seekable() ? AVIO_SEEKABLE_NORMAL : 0;
}

source_avio::~source_avio() {
  source_.set_interrupt({});
  if (pb_) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
}

void source_avio::rethrow_failure() const {
  if (failure_) av::fail(failure_.code, failure_.what());
}

int source_avio::failed_with(error e) noexcept {
  // An interrupt as FFmpeg's own protocols report it, so it stops at once; anything else is an
  // I/O error FFmpeg keeps in pb->error, which even demuxers that stop at "the end" pass on.
  bool interrupt = e.code == errc::cancelled || e.code == errc::deadline_exceeded;
  if (!failure_) failure_ = std::move(e);
  return interrupt ? AVERROR_EXIT : AVERROR(EIO);
}

int source_avio::read(void* opaque, std::uint8_t* buf, int size) noexcept {
  auto* self = static_cast<source_avio*>(opaque);
  if (self->failure_) return AVERROR(EIO);
  try {
    if (auto stop = self->guard_.interrupted()) return self->failed_with(error(stop, "interrupted"));
    auto n = self->source_.read_at(self->pos_, {reinterpret_cast<std::byte*>(buf), static_cast<std::size_t>(size)});
    if (!n) return self->failed_with(n.error());
    if (*n == 0) return AVERROR_EOF;
    self->pos_ += static_cast<std::int64_t>(*n);
    return static_cast<int>(*n);
  } catch (const std::bad_alloc&) {
    return self->failed_with(error(errc::out_of_memory, "out of memory while reading the input"));
  } catch (...) {
    return self->failed_with(error(errc::internal, "an unexpected exception while reading the input"));
  }
}

std::int64_t source_avio::seek(void* opaque, std::int64_t offset, int whence) noexcept {
  auto* self = static_cast<source_avio*>(opaque);
  const std::int64_t size = self->source_.size();
  whence &= ~AVSEEK_FORCE;
  if (whence == AVSEEK_SIZE) return size >= 0 ? size : AVERROR(ENOSYS);
  std::int64_t target = offset;
  if (whence == SEEK_CUR) {
    target += self->pos_;
  } else if (whence == SEEK_END) {
    if (size < 0) return AVERROR(ENOSYS);
    target += size;
  } else if (whence != SEEK_SET) {
    return AVERROR(EINVAL);
  }
  if (target < 0) return AVERROR(EINVAL);
  // Reading is positional (read_at): a seek only moves where the next read starts; a source that
  // cannot go back says so on that read.
  self->pos_ = target;
  return target;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
