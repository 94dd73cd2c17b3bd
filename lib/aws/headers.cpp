// HTTP header lists and URLs as messages may show them.
#include <algorithm>
#include <cctype>

#include "aws/http_client.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

std::string_view find_header(const http_headers& headers, std::string_view name) noexcept {
  for (const auto& h : headers)
    if (iequals(h.name, name)) return h.value;
  return {};
}

void set_header(http_headers& headers, std::string_view name, std::string value) {
  auto it = std::find_if(headers.begin(), headers.end(), [&](const http_header& h) { return iequals(h.name, name); });
  if (it != headers.end()) {
    it->value = std::move(value);
    return;
  }
  headers.push_back({std::string(name), std::move(value)});
}

std::string redact(std::string_view url) {
  auto scheme_end = url.find("://");
  std::size_t authority = scheme_end == std::string_view::npos ? 0 : scheme_end + 3;
  auto cut = url.find_first_of("?#", authority);
  std::string out(url.substr(0, cut));
  auto path = out.find('/', authority);
  auto at = out.rfind('@', path == std::string::npos ? out.size() : path);
  if (at != std::string::npos && at >= authority) out.erase(authority, at + 1 - authority);
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
