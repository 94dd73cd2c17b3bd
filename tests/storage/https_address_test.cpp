// The address policy of https inputs, over literal addresses at the edges of every range. The
// expectations are the ranges' definitions (RFC 1122, 1918, 3927, 4193, 4291, 5771, 6052, 6598,
// 3056, 8215, 1112), not the implementation's table.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "storage/address_policy.hpp"

namespace {

bool refused(const std::string& literal) {
  return !spool::storage::refused_address_kind(boost::asio::ip::make_address(literal)).empty();
}

}  // namespace

TEST_CASE("address policy: internal IPv4 ranges are refused, their neighbours are not", "[https][address]") {
  const std::vector<std::pair<std::string, bool>> cases = {
      // 0.0.0.0/8 "this network" (RFC 1122)
      {"0.0.0.0", true},
      {"0.255.255.255", true},
      {"1.0.0.0", false},
      // 10.0.0.0/8 (RFC 1918)
      {"9.255.255.255", false},
      {"10.0.0.0", true},
      {"10.255.255.255", true},
      {"11.0.0.0", false},
      // 100.64.0.0/10 shared address space, carrier-grade NAT (RFC 6598)
      {"100.63.255.255", false},
      {"100.64.0.0", true},
      {"100.127.255.255", true},
      {"100.128.0.0", false},
      // 127.0.0.0/8 loopback
      {"126.255.255.255", false},
      {"127.0.0.1", true},
      {"127.255.255.254", true},
      {"128.0.0.0", false},
      // 169.254.0.0/16 link-local (RFC 3927), the metadata service of the big clouds
      {"169.253.255.255", false},
      {"169.254.0.0", true},
      {"169.254.169.254", true},
      {"169.254.255.255", true},
      {"169.255.0.0", false},
      // 172.16.0.0/12 (RFC 1918)
      {"172.15.255.255", false},
      {"172.16.0.0", true},
      {"172.31.255.255", true},
      {"172.32.0.0", false},
      // 192.168.0.0/16 (RFC 1918)
      {"192.167.255.255", false},
      {"192.168.0.0", true},
      {"192.168.255.255", true},
      {"192.169.0.0", false},
      // 224.0.0.0/4 multicast (RFC 5771), 240.0.0.0/4 reserved, 255.255.255.255 broadcast
      {"223.255.255.255", false},
      {"224.0.0.0", true},
      {"239.255.255.255", true},
      {"240.0.0.0", true},
      {"255.255.255.255", true},
      // Ordinary public addresses, documentation ranges included (they are not internal).
      {"8.8.8.8", false},
      {"1.1.1.1", false},
      {"93.184.216.34", false},
      {"192.0.2.1", false},
      {"203.0.113.9", false},
  };
  for (const auto& [address, expected] : cases) {
    INFO(address);
    CHECK(refused(address) == expected);
  }
}

TEST_CASE("address policy: internal IPv6 ranges and IPv4 embedded in IPv6 are refused", "[https][address]") {
  const std::vector<std::pair<std::string, bool>> cases = {
      // Unspecified and loopback (RFC 4291)
      // ::2 is an IPv4-compatible address (::/96, deprecated), inside the IETF-reserved ::/8
      {"::", true},
      {"::1", true},
      {"::2", true},
      // IPv4-mapped ::ffff:0:0/96 (RFC 4291): judged by the IPv4 address
      {"::ffff:127.0.0.1", true},
      {"::ffff:10.1.2.3", true},
      {"::ffff:169.254.169.254", true},
      {"::ffff:172.15.255.255", false},
      {"::ffff:172.16.0.0", true},
      {"::ffff:8.8.8.8", false},
      // NAT64 well-known prefix 64:ff9b::/96 (RFC 6052) and the local-use 64:ff9b:1::/48 (RFC 8215)
      {"64:ff9b::a9fe:a9fe", true},
      {"64:ff9b::808:808", false},
      {"64:ff9b:1::1", true},
      // 6to4 2002::/16 (RFC 3056): the IPv4 address is in bits 16-47
      {"2002:7f00:1::1", true},
      {"2002:c0a8:101::1", true},
      {"2002:808:808::1", false},
      // Unique local fc00::/7 (RFC 4193), AWS's IPv6 metadata address among them
      {"fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
      {"fc00::", true},
      {"fd00:ec2::254", true},
      {"fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      // Link-local fe80::/10 and the deprecated site-local fec0::/10
      {"fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false},
      {"fe80::", true},
      {"fe80::1", true},
      {"febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", true},
      {"fec0::1", true},
      // Multicast ff00::/8
      {"ff02::1", true},
      {"ff0e::1", true},
      // Global unicast, the documentation prefix included
      {"2001:db8::1", false},
      {"2606:4700:4700::1111", false},
      {"2a00:1450:4001:80b::200e", false},
  };
  for (const auto& [address, expected] : cases) {
    INFO(address);
    CHECK(refused(address) == expected);
  }
}

TEST_CASE("address policy: the reason names the range", "[https][address]") {
  using spool::storage::refused_address_kind;
  auto kind = [](const char* a) { return std::string(refused_address_kind(boost::asio::ip::make_address(a))); };
  CHECK(kind("127.0.0.1") == "loopback");
  CHECK(kind("::1") == "loopback");
  CHECK(kind("::ffff:127.0.0.1") == "loopback");
  CHECK(kind("169.254.169.254") == "link-local");
  CHECK(kind("fe80::1") == "link-local");
  CHECK(kind("192.168.1.1") == "private");
  CHECK(kind("fd12::1") == "unique-local");
  CHECK(kind("8.8.8.8").empty());
}
