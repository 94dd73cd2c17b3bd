#include "storage/address_policy.hpp"

#include <array>
#include <cstdint>

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {

namespace {

struct v4_range {
  std::uint32_t network;
  int prefix;
  std::string_view kind;
};

// IANA's special-purpose registry (RFC 6890 and its updates), the entries a server may not reach.
constexpr std::array<v4_range, 9> refused_v4{{
    {0x00000000, 8, "unspecified"},         // 0.0.0.0/8 "this network"; Linux connects it to the host
    {0x0A000000, 8, "private"},             // 10.0.0.0/8 (RFC 1918)
    {0x64400000, 10, "carrier-grade NAT"},  // 100.64.0.0/10 (RFC 6598)
    {0x7F000000, 8, "loopback"},            // 127.0.0.0/8
    {0xA9FE0000, 16, "link-local"},         // 169.254.0.0/16, the cloud metadata services among them
    {0xAC100000, 12, "private"},            // 172.16.0.0/12
    {0xC0A80000, 16, "private"},            // 192.168.0.0/16
    {0xE0000000, 4, "multicast"},           // 224.0.0.0/4
    {0xF0000000, 4, "reserved"},            // 240.0.0.0/4, 255.255.255.255 (broadcast) included
}};

bool in_prefix(std::uint32_t a, std::uint32_t network, int prefix) {
  std::uint32_t mask = prefix == 0 ? 0 : ~std::uint32_t{0} << (32 - prefix);
  return (a & mask) == network;
}

std::string_view classify_v4(std::uint32_t a) {
  for (const auto& r : refused_v4)
    if (in_prefix(a, r.network, r.prefix)) return r.kind;
  return {};
}

std::uint32_t v4_at(const boost::asio::ip::address_v6::bytes_type& b, std::size_t i) {
  return std::uint32_t{b[i]} << 24 | std::uint32_t{b[i + 1]} << 16 | std::uint32_t{b[i + 2]} << 8 | b[i + 3];
}

bool all_zero(const boost::asio::ip::address_v6::bytes_type& b, std::size_t from, std::size_t to) {
  for (std::size_t i = from; i < to; ++i)
    if (b[i] != 0) return false;
  return true;
}

std::string_view classify_v6(const boost::asio::ip::address_v6& a) {
  const auto b = a.to_bytes();
  if (all_zero(b, 0, 10) && b[10] == 0xff && b[11] == 0xff) return classify_v4(v4_at(b, 12));  // ::ffff:0:0/96
  if (all_zero(b, 0, 12)) {
    if (all_zero(b, 12, 16)) return "unspecified";
    if (all_zero(b, 12, 15) && b[15] == 1) return "loopback";
    return "IPv4-compatible";  // ::/96, deprecated (RFC 4291); never a public destination
  }
  // 64:ff9b::/96, the well-known NAT64 prefix (RFC 6052): a translator connects to the IPv4 address.
  if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
    if (all_zero(b, 4, 12)) return classify_v4(v4_at(b, 12));
    if (b[4] == 0x00 && b[5] == 0x01) return "local-use NAT64";  // 64:ff9b:1::/48 (RFC 8215)
  }
  if (b[0] == 0x20 && b[1] == 0x02) return classify_v4(v4_at(b, 2));  // 2002::/16, 6to4 (RFC 3056)
  if ((b[0] & 0xfe) == 0xfc) return "unique-local";                   // fc00::/7 (RFC 4193)
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return "link-local";     // fe80::/10
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return "site-local";     // fec0::/10, deprecated
  if (b[0] == 0xff) return "multicast";                               // ff00::/8
  return {};
}

}  // namespace

std::string_view refused_address_kind(const boost::asio::ip::address& a) noexcept {
  if (a.is_v4()) return classify_v4(a.to_v4().to_uint());
  return classify_v6(a.to_v6());
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
