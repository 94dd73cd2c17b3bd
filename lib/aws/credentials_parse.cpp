// Reading the answers of the credentials services: STS XML, container and instance metadata JSON,
// ISO 8601 times.
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "aws/credentials_providers.hpp"
#include "aws/xml_text.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

bool read_int(std::string_view& s, std::size_t digits, int& out) {
  if (s.size() < digits) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + digits, out);
  if (ec != std::errc{} || end != s.data() + digits) return false;
  s.remove_prefix(digits);
  return true;
}

bool expect(std::string_view& s, char c) {
  if (s.empty() || (s.front() != c && !(c == 'T' && (s.front() == 't' || s.front() == ' ')))) return false;
  s.remove_prefix(1);
  return true;
}

}  // namespace

std::optional<wall_clock::time_point> parse_iso8601(std::string_view s) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  if (!read_int(s, 4, y) || !expect(s, '-') || !read_int(s, 2, mo) || !expect(s, '-') || !read_int(s, 2, d) ||
      !expect(s, 'T') || !read_int(s, 2, h) || !expect(s, ':') || !read_int(s, 2, mi) || !expect(s, ':') ||
      !read_int(s, 2, sec))
    return std::nullopt;
  std::chrono::nanoseconds fraction{0};
  if (!s.empty() && s.front() == '.') {
    s.remove_prefix(1);
    long long scale = 100'000'000;
    bool any = false;
    while (!s.empty() && s.front() >= '0' && s.front() <= '9') {
      fraction += std::chrono::nanoseconds((s.front() - '0') * scale);
      scale /= 10;
      s.remove_prefix(1);
      any = true;
    }
    if (!any) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  if (s == "Z" || s == "z") {
    s = {};
  } else if (!s.empty() && (s.front() == '+' || s.front() == '-')) {
    int sign = s.front() == '-' ? -1 : 1;
    s.remove_prefix(1);
    int oh = 0, om = 0;
    if (!read_int(s, 2, oh)) return std::nullopt;
    if (!s.empty() && s.front() == ':') s.remove_prefix(1);
    if (!read_int(s, 2, om)) return std::nullopt;
    offset = std::chrono::minutes(sign * (oh * 60 + om));
  } else {
    return std::nullopt;  // a time without a zone is ambiguous
  }
  if (!s.empty()) return std::nullopt;
  std::chrono::year_month_day date{std::chrono::year(y), std::chrono::month(static_cast<unsigned>(mo)),
                                   std::chrono::day(static_cast<unsigned>(d))};
  if (!date.ok() || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  auto t = std::chrono::sys_days(date) + std::chrono::hours(h) + std::chrono::minutes(mi) + std::chrono::seconds(sec) +
           fraction - offset;
  return std::chrono::time_point_cast<wall_clock::duration>(t);
}

result<credentials> parse_sts_credentials(std::string_view xml, std::string_view what) {
  auto at = xml.find("<Credentials>");
  if (at == std::string_view::npos)
    return error(errc::network, fmt::format("{}: the answer holds no Credentials", what));
  xml.remove_prefix(at);
  credentials c;
  auto id = xml_text(xml, "AccessKeyId");
  auto secret = xml_text(xml, "SecretAccessKey");
  auto token = xml_text(xml, "SessionToken");
  auto expiration = xml_text(xml, "Expiration");
  if (!id || id->empty() || !secret || secret->empty())
    return error(errc::network, fmt::format("{}: the answer's Credentials lack a key", what));
  c.access_key_id = std::move(*id);
  c.secret_access_key = std::move(*secret);
  c.session_token = token.value_or("");
  if (expiration) {
    c.expiry = parse_iso8601(*expiration);
    if (!c.expiry) return error(errc::network, fmt::format("{}: the answer's Expiration is not a time", what));
  }
  return c;
}

result<credentials> parse_json_credentials(std::string_view json, std::string_view what) {
  boost::system::error_code ec;
  auto v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return error(errc::network, fmt::format("{}: the answer is not a JSON object", what));
  const auto& o = v.get_object();
  auto text = [&](std::string_view key) -> std::string {
    const auto* f = o.if_contains(key);
    return f != nullptr && f->is_string() ? std::string(f->get_string()) : std::string();
  };
  if (auto code = text("Code"); !code.empty() && code != "Success")
    return error(errc::network, fmt::format("{}: the answer's Code is {}", what, code));
  credentials c;
  c.access_key_id = text("AccessKeyId");
  c.secret_access_key = text("SecretAccessKey");
  c.session_token = text("Token");
  if (c.access_key_id.empty() || c.secret_access_key.empty())
    return error(errc::network, fmt::format("{}: the answer lacks AccessKeyId or SecretAccessKey", what));
  if (auto expiration = text("Expiration"); !expiration.empty()) {
    c.expiry = parse_iso8601(expiration);
    if (!c.expiry) return error(errc::network, fmt::format("{}: the answer's Expiration is not a time", what));
  }
  return c;
}

std::string default_session_name(const provider_options& options) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now_of(options).time_since_epoch()).count();
  return fmt::format("spool-{}", ms);
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
