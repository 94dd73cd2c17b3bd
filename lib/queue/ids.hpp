#pragma once
// Internal: spool's one source of randomness, for message ids, receipts (every backend) and the
// worker's retry jitter. The bytes come from the kernel (getrandom), fetched 1 KiB at a time per
// thread: one system call per id cost more than the rest of a mem:// send. A forked child discards
// what its parent had fetched, so it never repeats the parent's ids (file:// compares ids and
// receipts across processes).
#include <spool/error.hpp>

#include <pthread.h>
#include <sys/random.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <string>
#include <system_error>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue::detail {

inline void kernel_random(std::uint8_t* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(out + got, n - got, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) throw std::system_error(errno, std::generic_category(), "getrandom");
    got += static_cast<std::size_t>(r);
  }
}

/// Changes in the child of every fork(): random bytes fetched before it belong to the parent.
inline std::atomic<std::uint64_t> fork_generation{0};

/// `n` bytes (at most 1 KiB) from a per-thread pool filled by the kernel.
inline const std::uint8_t* pooled_random(std::size_t n) {
  static const int watching_forks =
      ::pthread_atfork(nullptr, nullptr, [] { fork_generation.fetch_add(1, std::memory_order_relaxed); });
  (void)watching_forks;
  struct pool {
    std::uint8_t bytes[64 * 16];
    std::size_t used = sizeof bytes;
    std::uint64_t generation = 0;
  };
  thread_local pool p;
  const std::uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (sizeof p.bytes - p.used < n || p.generation != generation) {
    kernel_random(p.bytes, sizeof p.bytes);
    p.used = 0;
    p.generation = generation;
  }
  const std::uint8_t* bytes = p.bytes + p.used;
  p.used += n;
  return bytes;
}

/// 128 random bits as 32 hex digits: message ids and receipts.
inline std::string random_id() {
  const std::uint8_t* bytes = pooled_random(16);
  static const char* hex = "0123456789abcdef";
  std::string out(32, '0');
  for (std::size_t i = 0; i < 16; ++i) {
    out[2 * i] = hex[bytes[i] >> 4];
    out[2 * i + 1] = hex[bytes[i] & 0xf];
  }
  return out;
}

/// A uniformly distributed 64-bit value: the jitter of retry backoffs.
inline std::uint64_t random_u64() {
  const std::uint8_t* bytes = pooled_random(8);
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | bytes[i];
  return v;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue::detail
