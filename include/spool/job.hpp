#pragma once
// The shared vocabulary of the queue and worker layers: what a job is, and what state it is in.
// A job travels through a queue as the JSON of job_spec (docs/job-spec.md, "version": 1).
#include <spool/error.hpp>
#include <spool/media/plan.hpp>

#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace spool {

struct job_spec {
  std::string job_id;           ///< assigned at submit when empty
  std::string idempotency_key;  ///< the same key again returns the first job's id; empty = none
  std::string input;            ///< path, file:// or https:// URI of the source
  std::string output;           ///< directory the package is published to
  std::string preset = "hls-ladder";
  /// A full plan overrides the preset when present (a JSON job spec as read by media::apply_spec).
  std::optional<boost::json::value> plan;
  /// Opaque to spool: handed back unchanged in every status event.
  boost::json::value metadata;
};

enum class job_state { queued, running, succeeded, failed, dead };

std::string_view to_string(job_state s) noexcept;
/// False for an unknown name.
bool parse_job_state(std::string_view s, job_state& out) noexcept;

/// What status.json says about a job.
struct job_status {
  std::string job_id;
  job_state state = job_state::queued;
  int attempt = 0;
  double progress = 0;   ///< 0..1
  double eta_s = -1;     ///< -1 when unknown
  error_code error;      ///< the last failure, if any
  std::string error_message;
  std::chrono::system_clock::time_point updated_at{};
  std::string idempotency_key;  ///< the job's, when it has one: a resubmission finds its package by it
  boost::json::value metadata;
};

/// A time as spool writes it everywhere (status.json, the CLI): UTC to the millisecond,
/// "2026-11-26T05:27:01.204Z".
std::string to_iso8601(std::chrono::system_clock::time_point t);

boost::json::value to_json(const job_spec& j);
/// Reads a job spec; a malformed one is errc::invalid_spec with the reason in `detail`.
error_code parse_job_spec(std::string_view json_text, job_spec& out, std::string* detail = nullptr);
/// The media plan the job asks for: its preset, overridden by its plan when present.
error_code make_plan(const job_spec& j, media::plan& out, std::string* detail = nullptr);

/// {"job_id","state","attempt","progress","eta_s","error":{code,category,message}|null,"updated_at"}, plus
/// "idempotency_key" and "metadata" when the job has them.
boost::json::value to_json(const job_status& s);
/// Reads what to_json(job_status) writes; errc::invalid_spec when it is not a status object.
error_code parse_job_status(std::string_view json_text, job_status& out, std::string* detail = nullptr);
/// {"code","category","message"} for an error.
boost::json::value error_json(const error_code& ec, std::string_view message);

}  // namespace spool
