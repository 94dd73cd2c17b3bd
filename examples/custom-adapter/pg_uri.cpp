#include "pg_uri.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <memory>
#include <vector>

namespace pgq {
namespace {

constexpr std::string_view scheme = "postgresql://";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded; false if one is malformed.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) return false;
    const int hi = hex_digit(in[i + 1]), lo = hex_digit(in[i + 2]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

// The parameters after '?' ("a=1&b=2"), one at a time, empty ones skipped.
std::vector<std::string_view> split_params(std::string_view uri) {
  std::vector<std::string_view> out;
  const auto question = uri.find('?');
  if (question == std::string_view::npos) return out;
  std::string_view rest = uri.substr(question + 1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    if (amp != 0) out.push_back(rest.substr(0, amp));
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
  }
  return out;
}

std::string_view key_of(std::string_view param) { return param.substr(0, param.find('=')); }

spool::error refuse(std::string_view uri, const std::string& why) {
  return {spool::errc::invalid_argument, "postgresql queue URI '" + std::string(uri) + "': " + why};
}

}  // namespace

spool::result<queue_address> parse_queue_uri(std::string_view uri) {
  if (uri.size() < scheme.size() || uri.substr(0, scheme.size()) != scheme)
    return refuse(uri, "it does not start with postgresql://");
  queue_address out;
  std::string kept(uri.substr(0, uri.find('?')));
  std::vector<std::string_view> libpq_params;
  for (const std::string_view param : split_params(uri)) {
    const std::string_view key = key_of(param);
    const std::string_view value = key.size() < param.size() ? param.substr(key.size() + 1) : std::string_view{};
    if (key == "queue") {
      if (!percent_decode(value, out.queue)) return refuse(uri, "a malformed %-escape in queue=");
    } else if (key == "pool") {
      std::size_t n = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || end != value.data() + value.size() || n < 1 || n > 256)
        return refuse(uri, "pool= takes a number of connections from 1 to 256");
      out.pool_size = n;
    } else {
      libpq_params.push_back(param);
    }
  }
  if (out.queue.empty() || out.queue.size() > 200) return refuse(uri, "queue= takes a name of 1 to 200 bytes");
  for (std::size_t i = 0; i < libpq_params.size(); ++i) {
    kept += i == 0 ? '?' : '&';
    kept += libpq_params[i];
  }

  // Whatever is left is libpq's: let libpq say whether it takes it (unknown parameters, bad escapes).
  char* why = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> parsed(PQconninfoParse(kept.c_str(), &why),
                                                                      &PQconninfoFree);
  if (!parsed) {
    std::string reason = why ? why : "libpq cannot parse it";
    if (why) PQfreemem(why);
    while (!reason.empty() && reason.back() == '\n') reason.pop_back();
    return refuse(uri, reason);
  }
  out.conninfo = std::move(kept);
  return out;
}

std::string with_queue(std::string_view uri, std::string_view name) {
  std::string out(uri.substr(0, uri.find('?')));
  char sep = '?';
  for (const std::string_view param : split_params(uri)) {
    if (key_of(param) == "queue") continue;
    out += sep;
    out += param;
    sep = '&';
  }
  static constexpr char hex[] = "0123456789ABCDEF";
  out += sep;
  out += "queue=";
  for (unsigned char c : name) {
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                       c == '_' || c == '.' || c == '~';
    if (plain) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

}  // namespace pgq
