// Transcoding between locations: storage opens, the engine encodes, storage publishes.
#include <spool/storage/store.hpp>
#include <spool/transcode.hpp>

#include <chrono>

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

using clock = std::chrono::steady_clock;

// What blocks while an input opens (connecting to a server) answers to the cancel flag and the
// time the policy gives an opening.
io::interrupt_check opening_interrupt(const input_policy& policy, const std::atomic<bool>* cancel) {
  auto limit = policy.deadline_for_opening();
  auto until = limit.count() > 0 ? clock::now() + limit : clock::time_point::max();
  return [cancel, until]() -> error_code {
    if (cancel && cancel->load(std::memory_order_relaxed)) return errc::cancelled;
    if (clock::now() > until) return errc::deadline_exceeded;
    return {};
  };
}

result<std::unique_ptr<io::byte_source>> open_input(const std::string& input, const input_policy& policy,
                                                    const std::atomic<bool>* cancel) {
  auto where = storage::resolve(input);
  if (!where) return where.error();
  storage::source_options o;
  o.policy = policy;
  o.interrupt = opening_interrupt(policy, cancel);
  return where->backend->open_source(where->path, o);
}

}  // namespace

result<media::probe_result> probe(const std::string& input, const input_policy& policy,
                                  const std::atomic<bool>* cancel) {
  auto source = open_input(input, policy, cancel);
  if (!source) return source.error();
  return media::probe(**source, policy, cancel);
}

error_code transcode(const std::string& input, const std::string& output, const media::transcode_options& options,
                     media::transcode_result& result, const media::cancel_flag* cancel) {
  auto fail = [&](const error& e) {
    result.error_detail = e.what();
    return e.code;
  };
  result = media::transcode_result{};
  result.output = output;
  auto where = storage::resolve(output);
  if (!where) return fail(where.error());
  auto source = open_input(input, options.policy, cancel);
  if (!source) return fail(source.error());
  storage::package_options po;
  po.overwrite = options.overwrite;
  auto sink = where->backend->open_package(where->path, po);
  if (!sink) return fail(sink.error());

  if (auto ec = media::transcode(**source, **sink, options, result, cancel)) {
    (*sink)->abort();
    result.output = output;
    return ec;
  }
  result.output = output;
  // Published only now, whole, and still within the job's deadline.
  const auto publish_start = clock::now();
  const auto deadline = result.deadline;
  auto check = [cancel, deadline]() -> error {
    if (cancel && cancel->load()) return error(errc::cancelled, "cancelled while publishing");
    if (clock::now() > deadline) return error(errc::deadline_exceeded, "the job's deadline passed while publishing");
    return {};
  };
  if (auto e = (*sink)->commit(check)) {
    (*sink)->abort();
    return fail(e);
  }
  result.publish_s += std::chrono::duration<double>(clock::now() - publish_start).count();
  return {};
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
