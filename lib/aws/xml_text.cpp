// The XML reader of AWS answers.
#include "aws/xml_text.hpp"

#include <charconv>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {
namespace {

std::string decode_entities(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    auto semi = s.find(';', i);
    if (semi == std::string_view::npos) {
      out += s[i];
      continue;
    }
    auto ent = s.substr(i + 1, semi - i - 1);
    if (ent == "amp")
      out += '&';
    else if (ent == "lt")
      out += '<';
    else if (ent == "gt")
      out += '>';
    else if (ent == "quot")
      out += '"';
    else if (ent == "apos")
      out += '\'';
    else if (ent.size() > 1 && ent[0] == '#') {
      unsigned cp = 0;
      bool hex = ent[1] == 'x' || ent[1] == 'X';
      auto digits = ent.substr(hex ? 2 : 1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (ec != std::errc() || p != digits.data() + digits.size() || cp > 0x10FFFF) {
        out += s[i];
        continue;
      }
      // UTF-8 of the code point.
      if (cp < 0x80) {
        out += static_cast<char>(cp);
      } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
      }
    } else {
      out += s[i];
      continue;
    }
    i = semi;
  }
  return out;
}

}  // namespace

std::vector<std::string_view> xml_blocks(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> out;
  const std::string open = "<" + std::string(tag) + ">", close = "</" + std::string(tag) + ">";
  for (std::size_t at = 0;;) {
    auto b = xml.find(open, at);
    if (b == std::string_view::npos) break;
    auto e = xml.find(close, b + open.size());
    if (e == std::string_view::npos) break;
    out.push_back(xml.substr(b + open.size(), e - b - open.size()));
    at = e + close.size();
  }
  return out;
}

std::optional<std::string> xml_text(std::string_view xml, std::string_view tag) {
  auto blocks = xml_blocks(xml, tag);
  if (blocks.empty()) return std::nullopt;
  return decode_entities(blocks.front());
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
