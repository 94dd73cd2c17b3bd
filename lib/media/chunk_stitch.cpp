// Assembling a chunked job's package from its parts' packages.
#include <spool/media/chunks.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::media {

error stitch(const plan&, const stitch_input&, const chunk_reader&, io::package_sink&, transcode_result&) {
  return error(errc::feature_unsupported, "stitching is not built yet");
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::media
