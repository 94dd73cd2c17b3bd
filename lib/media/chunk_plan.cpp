// Splitting a long input into chunks on the segment grid.
#include <spool/media/chunks.hpp>

#include <fmt/format.h>

#include <cmath>
#include <limits>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {
namespace {

// Plans with more segments than this are refused rather than listed (a 6 s grid: 69 days).
constexpr double max_segments = 1e6;

bool positive(double x) { return std::isfinite(x) && x > 0; }

}  // namespace

result<std::vector<chunk_span>> plan_chunks(double duration_s, double segment_s, double chunk_s) {
  if (!positive(duration_s) || !positive(segment_s) || !positive(chunk_s))
    return error(errc::invalid_argument,
                 fmt::format("chunk planning needs finite positive numbers (duration {} s, segment {} s, chunk {} s)",
                             duration_s, segment_s, chunk_s));
  if (duration_s / segment_s > max_segments)
    return error(errc::invalid_argument, fmt::format("{} s in {} s segments is more than {:.0f} segments", duration_s,
                                                     segment_s, max_segments));
  // The grid's segments; a last one shorter than the rest still counts (a millisecond's rounding
  // does not make a segment).
  const auto total = std::max<std::int64_t>(1, static_cast<std::int64_t>(std::ceil(duration_s / segment_s - 1e-6)));
  const auto per = std::max<std::int64_t>(1, std::llround(chunk_s / segment_s));
  // Whole chunks by time (a short last segment is the length it is), then what is left: its own
  // chunk when it lasts at least half a chunk.
  const double chunk_len = static_cast<double>(per) * segment_s;
  auto count = static_cast<std::int64_t>(std::floor(duration_s / chunk_len + 1e-9));
  const double tail_s = duration_s - static_cast<double>(count) * chunk_len;
  if (count == 0 || tail_s >= 0.5 * chunk_len) ++count;
  count = std::min(count, (total + per - 1) / per);
  std::vector<chunk_span> spans;
  spans.reserve(static_cast<std::size_t>(count));
  for (std::int64_t i = 0; i < count; ++i) {
    chunk_span c;
    c.index = static_cast<int>(i);
    c.first_segment = i * per;
    c.segments = i + 1 < count ? per : total - c.first_segment;
    c.start_s = static_cast<double>(c.first_segment) * segment_s;
    c.end_s = i + 1 < count ? static_cast<double>(c.first_segment + c.segments) * segment_s
                            : std::numeric_limits<double>::infinity();
    spans.push_back(c);
  }
  return spans;
}

chunk_span whole_input_span() {
  chunk_span c;
  c.index = whole_input_index;
  return c;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
