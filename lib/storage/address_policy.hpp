#pragma once
// Internal: which network addresses an https input may connect to. Everything that is not a
// globally routed unicast address (loopback, private, link-local, ...) is refused unless the policy
// allows private networks, so an allowed host name cannot point the reader at internal services.
#include <spool/version.hpp>

#include <boost/asio/ip/address.hpp>

#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::storage {

/// Why `a` is refused ("loopback", "private", "link-local", ...), or an empty view for an address
/// that may be connected to. IPv4 addresses embedded in IPv6 forms (mapped, NAT64, 6to4) are judged
/// by the IPv4 address they reach.
std::string_view refused_address_kind(const boost::asio::ip::address& a) noexcept;

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage
