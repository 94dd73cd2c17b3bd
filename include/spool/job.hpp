#pragma once
// The shared vocabulary of the queue and worker layers: what a job is, and what state it is in.
// A job travels through a queue as the JSON of job_spec (docs/job-spec.md, "version": 2).
#include <spool/error.hpp>
#include <spool/plan.hpp>
#include <spool/version.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE {

/// What a job is within a chunked job (docs/job-spec.md, "Chunked jobs' children"). An ordinary job
/// is `none`; a worker that splits one queues the others, and they carry the chunked job's identity.
struct SPOOL_API job_role {
  /// chunk: the video rungs of one time range; whole_input: what is made once from the whole input
  /// (audio, thumbnails); stitch: the package from the others' segments.
  enum class kind { none, chunk, whole_input, stitch };
  kind what = kind::none;
  std::string parent_id;      ///< the chunked job's id
  std::string parent_key;     ///< its idempotency key, if any
  std::string parent_output;  ///< where its package goes (a stitch job's own output)
  std::string work;           ///< the work area: the chunk-NNNN and whole-input packages go below it
  int chunks = 0;             ///< chunk jobs in all
  // A chunk job's span: segments [first_segment, first_segment + segments), media time
  // [start_s, end_s); end_s is +infinity for the last chunk (written as null).
  int index = 0;
  std::int64_t first_segment = 0;
  std::int64_t segments = 0;
  double start_s = 0;
  double end_s = 0;
  /// A stitch job: how many times it found the children unfinished and queued itself again.
  int wait = 0;
};

SPOOL_API std::string_view to_string(job_role::kind k) noexcept;

/// A job as it travels through a queue (docs/job-spec.md). Its plan is resolved when it is
/// submitted (a preset with overrides becomes the whole plan), so a worker of any version encodes
/// exactly what was asked, and it is parsed and checked once on each side.
struct SPOOL_API job_spec {
  std::string job_id;           ///< assigned at submit when empty
  std::string idempotency_key;  ///< the same key again returns the first job's id; empty = none
  std::string input;            ///< where the source is: a path, file://, https:// (storage resolves it)
  std::string output;           ///< where the package is published: a path or file:// URI
  spool::plan plan;             ///< what to produce; default-constructed, the "hls-ladder" preset
  /// The spool version that resolved `plan` ("0.2.0"); submit sets it when empty.
  std::string resolved_by;
  /// Opaque to spool: handed back unchanged in every status event.
  boost::json::value metadata;
  /// Part of a chunked job; `whole` for an ordinary one.
  job_role role;
};

/// A preset with optional overrides (a JSON plan spec, docs/job-spec.md) resolved into a whole plan.
SPOOL_API result<plan> resolve_plan(std::string_view preset, const boost::json::value* overrides = nullptr);

enum class job_state { queued, running, succeeded, failed, dead };

SPOOL_API std::string_view to_string(job_state s) noexcept;
/// False for an unknown name.
SPOOL_API bool parse_job_state(std::string_view s, job_state& out) noexcept;

/// How far the children of a chunked job are.
struct SPOOL_API chunk_count {
  int done = 0;   ///< chunk jobs succeeded
  int total = 0;  ///< chunk jobs in all
};

/// What status.json says about a job.
struct SPOOL_API job_status {
  std::string job_id;
  job_state state = job_state::queued;
  int attempt = 0;
  double progress = 0;  ///< 0..1
  double eta_s = -1;    ///< -1 when unknown
  /// Whether players can play the package now: once succeeded, or while a progressively published
  /// job runs, from its first segment of every rendition on.
  bool playable = false;
  double playable_s = 0;  ///< how many seconds of it (the whole duration once succeeded)
  error_code error;       ///< the last failure, if any
  std::string error_message;
  std::chrono::system_clock::time_point updated_at{};
  std::string idempotency_key;  ///< the job's, when it has one: a resubmission finds its package by it
  boost::json::value metadata;
  /// A chunked job's children, once it was split (progress is then their mean).
  std::optional<chunk_count> chunks;
};

/// A time as spool writes it everywhere (status.json, the CLI): UTC to the millisecond,
/// "2026-11-26T05:27:01.204Z".
SPOOL_API std::string to_iso8601(std::chrono::system_clock::time_point t);

/// The job as its message: {"version": 2, "job_id", "input", "output", "plan": the whole plan,
/// "resolved_by", "idempotency_key"?, "metadata"?, "role"? (a chunked job's child)}.
SPOOL_API boost::json::value to_json(const job_spec& j);
/// Reads a job message once: version 2 carries its resolved plan; version 1 (a preset name and
/// optional overrides, as spool 0.1 queued them) is resolved here. A malformed one is
/// errc::invalid_spec with the reason in the error's message.
SPOOL_API result<job_spec> parse_job_spec(std::string_view json_text);

/// {"job_id","state","attempt","progress","eta_s","playable","playable_s","error":{code,category,message}|null,
/// "updated_at"}, plus
/// "idempotency_key", "metadata" and "chunks":{"done","total"} when the job has them.
SPOOL_API boost::json::value to_json(const job_status& s);
/// Reads what to_json(job_status) writes; errc::invalid_spec when it is not a status object.
SPOOL_API result<job_status> parse_job_status(std::string_view json_text);
/// {"code","category","message"} for an error.
SPOOL_API boost::json::value error_json(const error_code& ec, std::string_view message);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
