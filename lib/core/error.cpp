#include <spool/error.hpp>

#include <boost/asio/error.hpp>
#include <boost/throw_exception.hpp>

#include <cerrno>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

struct entry {
  errc code;
  const char* name;
  const char* message;
  category_kind kind;
};

constexpr entry entries[] = {
    {errc::input_unreadable, "input_unreadable", "the input cannot be opened or read", category_kind::input},
    {errc::input_not_media, "input_not_media", "the input is not a recognised media file", category_kind::input},
    {errc::input_truncated, "input_truncated", "the input is truncated", category_kind::input},
    {errc::input_undecodable, "input_undecodable", "the input's streams cannot be decoded", category_kind::input},
    {errc::input_no_streams, "input_no_streams", "the input has neither video nor audio", category_kind::input},
    {errc::invalid_spec, "invalid_spec", "the job spec is invalid", category_kind::input},
    {errc::protocol_not_allowed, "protocol_not_allowed", "the input's protocol or host is not allowed",
     category_kind::policy},
    {errc::format_not_allowed, "format_not_allowed", "the input's container format is not allowed",
     category_kind::policy},
    {errc::nested_open_refused, "nested_open_refused", "the input tried to open another file or URL",
     category_kind::policy},
    {errc::too_many_pixels, "too_many_pixels", "the input's frames exceed the pixel limit", category_kind::policy},
    {errc::too_long, "too_long", "the input exceeds the duration limit", category_kind::policy},
    {errc::too_many_streams, "too_many_streams", "the input has too many streams", category_kind::policy},
    {errc::deadline_exceeded, "deadline_exceeded", "the job exceeded its deadline", category_kind::policy},
    {errc::audio_only_refused, "audio_only_refused", "the input has no video stream", category_kind::policy},
    {errc::output_exists, "output_exists", "the output directory exists and is not empty", category_kind::policy},
    {errc::codec_unsupported, "codec_unsupported", "the input's codec is not supported", category_kind::unsupported},
    {errc::encoder_unavailable, "encoder_unavailable", "the requested encoder is not available",
     category_kind::unsupported},
    {errc::feature_unsupported, "feature_unsupported", "the requested feature is not supported",
     category_kind::unsupported},
    {errc::no_space, "no_space", "no space left on the output device", category_kind::resource},
    {errc::io_error, "io_error", "an I/O error occurred", category_kind::resource},
    {errc::out_of_memory, "out_of_memory", "out of memory", category_kind::resource},
    {errc::network, "network", "a network error occurred", category_kind::transient},
    {errc::throttled, "throttled", "the service throttled the request", category_kind::transient},
    {errc::lease_lost, "lease_lost", "the job's lease was lost", category_kind::transient},
    {errc::cancelled, "cancelled", "the operation was cancelled", category_kind::cancelled},
    {errc::internal, "internal", "internal error", category_kind::internal},
    {errc::codec_not_allowed, "codec_not_allowed", "the input's codec is not on the decoder allow-list",
     category_kind::policy},
    {errc::invalid_argument, "invalid_argument", "an argument is invalid", category_kind::usage},
    {errc::already_registered, "already_registered", "the name is already registered", category_kind::usage},
    {errc::already_running, "already_running", "the operation is already running", category_kind::usage},
    {errc::access_denied, "access_denied", "access denied", category_kind::usage},
    {errc::no_credentials, "no_credentials", "no usable credentials", category_kind::usage},
};

constexpr condition to_condition(category_kind k) noexcept {
  return k == category_kind::usage ? condition::usage : static_cast<condition>(static_cast<int>(k));
}

const entry* find(int v) noexcept {
  for (const auto& e : entries)
    if (static_cast<int>(e.code) == v) return &e;
  return nullptr;
}

class spool_category_impl final : public boost::system::error_category {
 public:
  // A fixed id keeps the category unique across shared-library boundaries.
  constexpr spool_category_impl() noexcept : error_category(0x73706f6f6c000001ULL) {}
  const char* name() const noexcept override { return "spool"; }
  std::string message(int v) const override {
    const entry* e = find(v);
    return e ? e->message : "unknown spool error";
  }
  boost::system::error_condition default_error_condition(int v) const noexcept override {
    const entry* e = find(v);
    if (!e) return {v, *this};
    return make_error_condition(to_condition(e->kind));
  }
};

class condition_category_impl final : public boost::system::error_category {
 public:
  constexpr condition_category_impl() noexcept : error_category(0x73706f6f6c000002ULL) {}
  const char* name() const noexcept override { return "spool.condition"; }
  std::string message(int v) const override {
    switch (static_cast<condition>(v)) {
      case condition::permanent: return "permanent failure";
      case condition::retryable: return "retryable failure";
      case condition::usage: return "usage";
      default: return std::string(to_string(static_cast<category_kind>(v)));
    }
  }
  bool equivalent(const error_code& code, int cond) const noexcept override {
    auto k = kind_of(code);
    switch (static_cast<condition>(cond)) {
      case condition::permanent: return is_permanent(code);
      case condition::retryable: return is_retryable(code);
      case condition::usage: return k == category_kind::usage;
      case condition::input:
      case condition::policy:
      case condition::unsupported:
      case condition::resource:
      case condition::transient:
      case condition::cancelled:
      case condition::internal: return static_cast<int>(k) == cond;
    }
    return false;
  }
};

category_kind kind_of_errno(int e) noexcept {
  switch (e) {
    case 0: return category_kind::none;
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
    case EIO:
    case EROFS:
    case ENOMEM:
    case EMFILE:
    case ENFILE:
    case EACCES:
    case EPERM: return category_kind::resource;
    case ECANCELED: return category_kind::cancelled;
    case ETIMEDOUT:
    case ECONNRESET:
    case ECONNREFUSED:
    case ECONNABORTED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EAGAIN:
    case EPIPE:
    case EINTR: return category_kind::transient;
    case ENOENT:
    case EISDIR:
    case ENOTDIR: return category_kind::input;
    default: return category_kind::internal;
  }
}

}  // namespace

const boost::system::error_category& spool_category() noexcept {
  static constexpr spool_category_impl cat;
  return cat;
}
const boost::system::error_category& spool_condition_category() noexcept {
  static constexpr condition_category_impl cat;
  return cat;
}

category_kind kind_of(const error_code& ec) noexcept {
  if (!ec) return category_kind::none;
  if (ec.category() == spool_category()) {
    const entry* e = find(ec.value());
    return e ? e->kind : category_kind::internal;
  }
  if (ec == boost::asio::error::operation_aborted) return category_kind::cancelled;
  if (ec.category() == boost::system::system_category() || ec.category() == boost::system::generic_category())
    return kind_of_errno(ec.value());
  return category_kind::internal;
}

std::string_view to_string(category_kind k) noexcept {
  switch (k) {
    case category_kind::none: return "none";
    case category_kind::input: return "input";
    case category_kind::policy: return "policy";
    case category_kind::unsupported: return "unsupported";
    case category_kind::resource: return "resource";
    case category_kind::transient: return "transient";
    case category_kind::cancelled: return "cancelled";
    case category_kind::internal: return "internal";
    case category_kind::usage: return "usage";
  }
  return "internal";
}

std::string code_name(const error_code& ec) {
  if (!ec) return "ok";
  if (ec.category() == spool_category()) {
    const entry* e = find(ec.value());
    return e ? e->name : "unknown";
  }
  switch (ec.value()) {
    case ENOSPC: return "no_space";
    case EDQUOT: return "quota_exceeded";
    case EFBIG: return "file_too_large";
    case EIO: return "io_error";
    case EACCES:
    case EPERM: return "permission_denied";
    case ENOENT: return "not_found";
    case ENOMEM: return "out_of_memory";
    default: break;
  }
  return std::string(ec.category().name()) + "_" + std::to_string(ec.value());
}

void throw_exception_from_error(const error& e, const boost::source_location& loc) {
  boost::throw_exception(failure(e), loc);
}

error_code error_from_name(std::string_view name) noexcept {
  for (const auto& e : entries)
    if (name == e.name) return e.code;
  return errc::internal;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
