#include "support/sigv4_checks.hpp"

#include <stdexcept>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws {

namespace {

std::string decode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

authorization_parts parse_authorization(std::string_view header) {
  authorization_parts parts;
  const auto space = header.find(' ');
  parts.algorithm = std::string(header.substr(0, space));
  std::string_view rest = space == std::string_view::npos ? std::string_view() : header.substr(space + 1);
  while (!rest.empty()) {
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == ',')) rest.remove_prefix(1);
    const auto comma = rest.find(',');
    const std::string_view item = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    const auto eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view name = item.substr(0, eq), value = item.substr(eq + 1);
    if (name == "Credential") parts.credential = std::string(value);
    if (name == "SignedHeaders") parts.signed_headers = std::string(value);
    if (name == "Signature") parts.signature = std::string(value);
  }
  return parts;
}

std::map<std::string, std::string> query_parameters(std::string_view url) {
  std::map<std::string, std::string> params;
  const auto q = url.find('?');
  if (q == std::string_view::npos) return params;
  std::string_view query = url.substr(q + 1);
  query = query.substr(0, query.find('#'));
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    std::string name = decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
    if (!params.emplace(name, std::move(value)).second)
      throw std::runtime_error("query parameter " + name + " appears twice in " + std::string(url));
  }
  return params;
}

std::string without_query(std::string_view url) { return std::string(url.substr(0, url.find('?'))); }

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::aws
