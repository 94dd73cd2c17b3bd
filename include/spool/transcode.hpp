#pragma once
// Transcoding between locations: the input and the output are paths or URIs (file://, https:// for
// inputs, and whatever storage backends are registered), opened through spool::storage, encoded by
// the media engine and published whole at the end. This is the synchronous form; spool/transcoder.hpp
// is the asynchronous one.
#include <spool/error.hpp>
#include <spool/input_policy.hpp>
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>
#include <spool/version.hpp>

#include <atomic>
#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE {

/// Opens `input` (a path, file:// or an https:// URL the policy allows) and describes it.
SPOOL_API result<media::probe_result> probe(const std::string& input, const input_policy& policy,
                                            const std::atomic<bool>* cancel = nullptr);

/// Transcodes `input` into a package published at `output` (a path or a writable storage URI). The
/// output must not exist, or hold nothing but a status.json, unless options.overwrite. Nothing is
/// visible before the package is whole, and on any failure or cancellation nothing is left behind:
/// the engine writes into the storage's package sink, which is committed only at the end. Blocks
/// the calling thread. On failure `result.error_detail` says why.
SPOOL_API error_code transcode(const std::string& input, const std::string& output,
                               const media::transcode_options& options, media::transcode_result& result,
                               const media::cancel_flag* cancel = nullptr);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
