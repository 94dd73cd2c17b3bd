#include "media/package_out.hpp"

#include "core/durable_file.hpp"
#include "media/av.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

void put(io::package_sink& sink, std::string_view name, std::string_view bytes) {
  if (auto e = sink.put(name, std::as_bytes(std::span(bytes.data(), bytes.size())))) av::fail(e.code, e.what());
}

void put_manifest(io::package_sink& sink, std::string_view name, std::string_view text) {
  if (auto e = sink.put_manifest(name, text)) av::fail(e.code, e.what());
}

void track_output::put(std::string_view file, std::string_view bytes) const {
  media::put(*sink, dir + "/" + std::string(file), bytes);
  if (!local_copy.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(local_copy, ec);
    if (ec) detail::fail_errno(ec.value(), "cannot create " + local_copy.string());
    detail::write_file(local_copy / file, bytes);
  }
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
