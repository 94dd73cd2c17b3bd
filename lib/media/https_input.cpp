#include "media/https_input.hpp"

#include <new>

#include "media/https_source.hpp"

namespace spool::media {

https_input::https_input(const std::string& url, const input_policy& policy, input_guard& guard)
    : name_(redact_url(url)) {
  https_settings settings;
  settings.allowed_hosts = policy.https_hosts;
  settings.allow_private_addresses = policy.https_allow_private_addresses;
  settings.ca_file = policy.https_ca_file;
  settings.max_redirects = policy.https_max_redirects;
  // The same stop conditions as the format context's interrupt callback.
  settings.should_stop = [&guard]() -> error_code {
    if (guard.cancel && guard.cancel->load(std::memory_order_relaxed)) {
      guard.cancelled = true;
      return errc::cancelled;
    }
    if (std::chrono::steady_clock::now() > guard.deadline) {
      guard.deadline_hit = true;
      return errc::deadline_exceeded;
    }
    return {};
  };
  source_ = std::make_unique<https_source>(url, std::move(settings));
  if (!source_->open()) av::fail(source_->error(), source_->detail());

  constexpr int buffer_size = 1 << 16;
  auto* buffer = static_cast<std::uint8_t*>(av_malloc(buffer_size));
  if (!buffer) throw std::bad_alloc();
  pb_ = avio_alloc_context(buffer, buffer_size, 0, this, &https_input::read, nullptr, &https_input::seek);
  if (!pb_) {
    av_free(buffer);
    throw std::bad_alloc();
  }
  // Without Range support, demuxers must not attempt optional seeks (duration estimation, index
  // lookups at the end): FFmpeg then reads forward itself and calls seek() only when it must.
  pb_->seekable = source_->seekable() ? AVIO_SEEKABLE_NORMAL : 0;
}

https_input::~https_input() {
  if (pb_) {
    av_freep(&pb_->buffer);
    avio_context_free(&pb_);
  }
}

void https_input::rethrow_failure() const {
  if (thrown_) av::fail(thrown_, thrown_detail_);
  if (source_->error()) av::fail(source_->error(), source_->detail());
}

void https_input::caught(errc e, const char* what) noexcept {
  thrown_ = make_error_code(e);
  thrown_detail_ = what;
}

int https_input::error_return() const noexcept {
  const auto& ec = thrown_ ? thrown_ : source_->error();
  // An interrupt, as FFmpeg's own protocols report it; anything else is an I/O error.
  if (ec == errc::cancelled || ec == errc::deadline_exceeded) return AVERROR_EXIT;
  return AVERROR(EIO);
}

int https_input::read(void* opaque, std::uint8_t* buf, int size) noexcept {
  auto* self = static_cast<https_input*>(opaque);
  if (self->thrown_) return self->error_return();
  try {
    auto n = self->source_->read({buf, static_cast<std::size_t>(size)});
    if (n > 0) return static_cast<int>(n);
    if (n == 0) return AVERROR_EOF;
  } catch (const std::bad_alloc&) {
    self->caught(errc::out_of_memory, "out of memory while reading the input");
  } catch (...) {
    self->caught(errc::internal, "an unexpected exception while reading the input");
  }
  return self->error_return();
}

std::int64_t https_input::seek(void* opaque, std::int64_t offset, int whence) noexcept {
  auto* self = static_cast<https_input*>(opaque);
  if (self->thrown_) return self->error_return();
  try {
    auto& src = *self->source_;
    whence &= ~AVSEEK_FORCE;
    if (whence == AVSEEK_SIZE) return src.size() >= 0 ? src.size() : AVERROR(ENOSYS);
    std::int64_t target = offset;
    if (whence == SEEK_CUR)
      target += src.position();
    else if (whence == SEEK_END) {
      if (src.size() < 0) return AVERROR(ENOSYS);
      target += src.size();
    } else if (whence != SEEK_SET) {
      return AVERROR(EINVAL);
    }
    if (target < 0) return AVERROR(EINVAL);
    if (!src.seek(target)) return self->error_return();
    return target;
  } catch (const std::bad_alloc&) {
    self->caught(errc::out_of_memory, "out of memory while seeking in the input");
  } catch (...) {
    self->caught(errc::internal, "an unexpected exception while seeking in the input");
  }
  return self->error_return();
}

}  // namespace spool::media
