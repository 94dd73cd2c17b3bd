#include <spool/storage/status.hpp>
#include <spool/storage/store.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE {

result<std::unique_ptr<io::status_sink>> open_status(const std::string& output) {
  auto where = storage::resolve(output);
  if (!where) return where.error();
  return where->backend->open_status(where->path);
}

result<std::optional<job_status>> read_status(const std::string& output) {
  auto sink = open_status(output);
  if (!sink) return sink.error();
  return (*sink)->read();
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
