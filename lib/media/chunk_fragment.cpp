// Reading back what a chunk wrote: the timing and sync flags of its fMP4 fragments, and digests.
#include <fmt/format.h>

#include <cstdint>
#include <memory>
#include <optional>

#include "media/chunk.hpp"

extern "C" {
#include <libavutil/mem.h>
#include <libavutil/sha.h>
}

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

struct reader {
  std::string_view b;
  [[noreturn]] static void bad(const char* what) {
    av::fail(errc::internal, std::string("a chunk's segment is malformed: ") + what);
  }
  std::uint32_t u32(std::size_t at) const {
    if (at + 4 > b.size()) bad("a box runs past its end");
    auto* p = reinterpret_cast<const std::uint8_t*>(b.data() + at);
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
  }
  std::uint64_t u64(std::size_t at) const { return (std::uint64_t(u32(at)) << 32) | u32(at + 4); }

  // Calls f(type, payload offset, end) for each box directly inside [off, end).
  template <class F>
  void boxes(std::size_t off, std::size_t end, F&& f) const {
    while (off < end) {
      if (off + 8 > end) bad("a box header is cut");
      std::uint64_t size = u32(off);
      std::size_t header = 8;
      if (size == 1) {
        size = u64(off + 8);
        header = 16;
      }
      if (size < header || size > end - off) bad("a box size is out of range");
      f(b.substr(off + 4, 4), off + header, off + static_cast<std::size_t>(size));
      off += static_cast<std::size_t>(size);
    }
  }
};

constexpr std::uint32_t non_sync_sample = 0x10000;

}  // namespace

fragment_summary summarize_fragment(std::string_view segment) {
  reader r{segment};
  fragment_summary s;
  bool first_sample = true, any = false;
  r.boxes(0, segment.size(), [&](std::string_view type, std::size_t off, std::size_t end) {
    if (type != "moof") return;
    r.boxes(off, end, [&](std::string_view t2, std::size_t o2, std::size_t e2) {
      if (t2 != "traf") return;
      std::uint32_t default_duration = 0, default_flags = 0;
      bool have_default_flags = false;
      r.boxes(o2, e2, [&](std::string_view t3, std::size_t o3, std::size_t e3) {
        const std::uint32_t vf = r.u32(o3), flags = vf & 0xffffff;
        std::size_t at = o3 + 4;
        if (t3 == "tfhd") {
          at += 4;  // track_ID
          if (flags & 0x01) at += 8;
          if (flags & 0x02) at += 4;
          if (flags & 0x08) default_duration = r.u32(at), at += 4;
          if (flags & 0x10) at += 4;
          if (flags & 0x20) default_flags = r.u32(at), have_default_flags = true;
        } else if (t3 == "tfdt") {
          const std::int64_t t = (vf >> 24) == 1 ? static_cast<std::int64_t>(r.u64(at)) : r.u32(at);
          if (s.tfdt < 0) s.tfdt = t;
        } else if (t3 == "trun") {
          const std::uint32_t count = r.u32(at);
          at += 4;
          if (flags & 0x01) at += 4;
          std::optional<std::uint32_t> first_flags;
          if (flags & 0x04) first_flags = r.u32(at), at += 4;
          std::size_t per_sample = 0;
          for (std::uint32_t field : {0x100u, 0x200u, 0x400u, 0x800u})
            if (flags & field) per_sample += 4;
          if (per_sample * count > e3 - std::min(at, e3)) reader::bad("a trun lists more samples than it holds");
          for (std::uint32_t i = 0; i < count; ++i) {
            std::size_t p = at + per_sample * i;
            std::uint32_t duration = default_duration, sample_flags = default_flags;
            bool have_flags = have_default_flags;
            if (flags & 0x100) duration = r.u32(p), p += 4;
            if (flags & 0x200) p += 4;
            if (flags & 0x400) sample_flags = r.u32(p), have_flags = true;
            if (i == 0 && first_flags) sample_flags = *first_flags, have_flags = true;
            if (first_sample) s.starts_with_sync = have_flags && !(sample_flags & non_sync_sample);
            first_sample = false;
            s.duration += duration;
            ++s.samples;
          }
          any = true;
        }
      });
    });
  });
  if (!any) reader::bad("it has no samples");
  return s;
}

std::string sha256_hex(std::string_view bytes) {
  std::unique_ptr<AVSHA, decltype(&av_free)> sha(av_sha_alloc(), &av_free);
  if (!sha) throw std::bad_alloc();
  av_sha_init(sha.get(), 256);
  av_sha_update(sha.get(), reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  std::uint8_t digest[32];
  av_sha_final(sha.get(), digest);
  std::string hex;
  for (auto d : digest) hex += fmt::format("{:02x}", d);
  return hex;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
