#include "chunk_support.hpp"

#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "fixtures.hpp"
#include "package_inspect.hpp"

namespace fs = std::filesystem;

namespace spool::inline SPOOL_ABI_NAMESPACE::test {

chunked_parts encode_parts(const fs::path& input, const spool::plan& p, double chunk_s, const fs::path& root) {
  media::probe_result probed;
  std::string detail;
  INFO(detail);
  REQUIRE_FALSE(test::probe(input.string(), spool::input_policy{}, probed, &detail));
  auto spans = media::plan_chunks(probed.duration_s, p.packaging.segment_s, chunk_s);
  REQUIRE(spans);
  chunked_parts parts;
  auto run = [&](const media::chunk_span& span, const fs::path& out) {
    auto opts = options_for(p);
    opts.chunk = span;
    media::transcode_result r;
    auto ec = spool::transcode(input.string(), out.string(), opts, r);
    INFO("part " << span.index << ": " << r.error_detail);
    REQUIRE_FALSE(ec);
    return read_file(out / std::string(media::chunk_manifest));
  };
  for (const auto& span : *spans) {
    parts.chunk_dirs.push_back(root / fmt::format("chunk-{:04d}", span.index));
    parts.input.chunk_json.push_back(run(span, parts.chunk_dirs.back()));
  }
  parts.whole_dir = root / "whole";
  parts.input.whole_input_json = run(media::whole_input_span(), parts.whole_dir);
  return parts;
}

spool::error stitch_to(const spool::plan& p, const chunked_parts& parts, const fs::path& out,
                       media::transcode_result& result) {
  auto read = [&](int index, std::string_view name) -> spool::result<std::string> {
    const std::pair<int, std::string> key{index, std::string(name)};
    if (parts.missing.count(key)) return spool::error(errc::io_error, fmt::format("{} is gone", name));
    const fs::path dir =
        index == media::whole_input_index ? parts.whole_dir : parts.chunk_dirs.at(static_cast<std::size_t>(index));
    if (!fs::exists(dir / name)) return spool::error(errc::io_error, fmt::format("no {} in {}", name, dir.string()));
    std::string bytes = read_file(dir / name);
    if (auto it = parts.replace.find(key); it != parts.replace.end()) bytes = it->second(std::move(bytes));
    return bytes;
  };
  auto loc = spool::storage::resolve(out.string());
  if (!loc) return loc.error();
  auto sink = loc->backend->open_package(loc->path, {});
  if (!sink) return sink.error();
  if (auto e = media::stitch(p, parts.input, read, **sink, result)) {
    (*sink)->abort();
    return e;
  }
  return (*sink)->commit();
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test
