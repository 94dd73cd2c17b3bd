#pragma once
// spool's error vocabulary. Every failure is a boost::system::error_code (implicitly convertible to
// std::error_code) whose category the queue layer acts on: permanent errors dead-letter at once,
// resource and transient errors retry, cancellation releases the job without counting an attempt.
#include <spool/version.hpp>

#include <boost/assert/source_location.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <boost/system/system_error.hpp>

#include <iosfwd>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace spool::inline SPOOL_ABI_NAMESPACE {

using error_code = boost::system::error_code;

/// spool's own error codes. The comment names each one's category.
enum class errc {
  // input: the file itself is at fault; retrying cannot help.
  input_unreadable = 1,  ///< the input cannot be opened or read
  input_not_media,       ///< no known container format
  input_truncated,       ///< ends early or is cut inside a packet
  input_undecodable,     ///< streams exist but no frame decodes
  input_no_streams,      ///< neither video nor audio
  invalid_spec,          ///< the job spec or plan is malformed or inconsistent
  // policy: the input or request is refused by configuration.
  protocol_not_allowed,  ///< URI scheme or host not on the allow-list
  format_not_allowed,    ///< demuxer not on the allow-list (hls, concat, ...)
  nested_open_refused,   ///< the demuxer tried to open another file or URL
  too_many_pixels,
  too_long,
  too_many_streams,
  deadline_exceeded,
  audio_only_refused,  ///< audio-only input while the plan requires video
  output_exists,       ///< the output directory exists and is not empty
  // unsupported: valid input we cannot handle here.
  codec_unsupported,    ///< no decoder for the input's codec
  encoder_unavailable,  ///< the plan names an encoder this FFmpeg lacks
  feature_unsupported,
  // resource: the machine, not the job, failed; retry later.
  no_space,
  io_error,
  out_of_memory,
  // transient: try again soon.
  network,
  throttled,
  lease_lost,
  // cancelled
  cancelled,
  // internal: a bug; retried a bounded number of times.
  internal,
  // Added after 0.1; grouped here so earlier values keep their numbers.
  codec_not_allowed,   ///< policy: the input's codec is not on the decoder allow-list
  invalid_argument,    ///< usage: an argument or option the caller passed is out of range
  already_registered,  ///< usage: a scheme or name is already taken
  already_running,     ///< usage: the object runs one operation of this kind at a time
  access_denied,       ///< usage: the credentials may not do this (an IAM policy, a bucket policy)
  no_credentials,      ///< usage: no source of credentials had any, or the ones found are invalid
};

/// The taxonomy the worker acts on. `usage` is the host's own mistake (configuration, arguments),
/// never the job's: it is not dead-lettered as bad input.
enum class category_kind { none, input, policy, unsupported, resource, transient, cancelled, internal, usage };

/// Error conditions, one per category: `if (ec == spool::condition::input) ...`.
enum class condition {
  input = 1,
  policy,
  unsupported,
  resource,
  transient,
  cancelled,
  internal,
  permanent,
  retryable,
  usage,
};

SPOOL_API const boost::system::error_category& spool_category() noexcept;
SPOOL_API const boost::system::error_category& spool_condition_category() noexcept;

inline error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), spool_category()}; }
inline boost::system::error_condition make_error_condition(condition c) noexcept {
  return {static_cast<int>(c), spool_condition_category()};
}

/// Classifies any error code, spool's or foreign (system, Asio, generic errno values).
SPOOL_API category_kind kind_of(const error_code& ec) noexcept;
/// input, policy or unsupported: dead-letter at once.
inline bool is_permanent(const error_code& ec) noexcept {
  auto k = kind_of(ec);
  return k == category_kind::input || k == category_kind::policy || k == category_kind::unsupported;
}
/// resource, transient or internal: retry with backoff (internal a bounded number of times).
inline bool is_retryable(const error_code& ec) noexcept {
  auto k = kind_of(ec);
  return k == category_kind::resource || k == category_kind::transient || k == category_kind::internal;
}
/// "input", "policy", ... as used in JSON error objects.
SPOOL_API std::string_view to_string(category_kind k) noexcept;
/// A stable snake_case name for the code ("format_not_allowed", "ENOSPC" style names for errno).
SPOOL_API std::string code_name(const error_code& ec);
/// The spool code whose code_name() is `name` (as read back from status.json or a dead letter);
/// errc::internal for a name that is not spool's.
SPOOL_API error_code error_from_name(std::string_view name) noexcept;

/// A failure with its reason in words: the code says what to do about it, the message says what
/// happened ("the input's format 'hls' is not allowed"). Every spool call that can fail gives both.
struct SPOOL_API error {
  error_code code;
  std::string message;  ///< empty means code.message()

  error() = default;
  error(error_code c, std::string m = {}) : code(c), message(std::move(m)) {}  // NOLINT: implicit from a code
  error(errc e, std::string m = {}) : code(make_error_code(e)), message(std::move(m)) {}  // NOLINT
  explicit operator bool() const noexcept { return static_cast<bool>(code); }
  /// The message, or the code's own when none was given.
  std::string what() const { return message.empty() ? code.message() : message; }
};

/// "format_not_allowed: the input's format 'hls' is not allowed", for logs and test output.
template <class Ch, class Tr>
std::basic_ostream<Ch, Tr>& operator<<(std::basic_ostream<Ch, Tr>& os, const error& e) {
  return os << code_name(e.code) << ": " << e.what();
}

/// What a result<T>'s value() throws on failure: a system_error whose what() is the message.
class SPOOL_API failure : public boost::system::system_error {
 public:
  explicit failure(const error& e) : boost::system::system_error(e.code, e.what()), message_(e.what()) {}
  const std::string& message() const noexcept { return message_; }

 private:
  std::string message_;
};

/// Found by boost::system::result when value() is called on a failure.
[[noreturn]] SPOOL_API void throw_exception_from_error(const error& e, const boost::source_location& loc);

/// A value or an error: `auto r = f(); if (!r) log(r.error().what()); use(*r);`
template <class T>
using result = boost::system::result<T, error>;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE

template <>
struct boost::system::is_error_code_enum<spool::errc> : std::true_type {};
template <>
struct boost::system::is_error_condition_enum<spool::condition> : std::true_type {};
