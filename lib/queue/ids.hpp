#pragma once
// Internal: random identifiers for messages and receipts. Drawn from the kernel every time, so a
// forked process never repeats its parent's ids.
#include <spool/error.hpp>

#include <cerrno>
#include <cstdint>
#include <string>
#include <sys/random.h>
#include <system_error>

namespace spool::queue::detail {

/// 128 random bits as 32 hex digits.
inline std::string random_id() {
  std::uint8_t bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = ::getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    got += static_cast<std::size_t>(n);
  }
  static const char* hex = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < sizeof bytes; ++i) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace spool::queue::detail
