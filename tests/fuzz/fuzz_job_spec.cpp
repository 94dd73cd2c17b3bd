// The job spec and plan parsers on arbitrary text. Properties checked beyond "no crash":
//  - a plan that parses is valid, and to_json(plan) reads back to the same plan, starting from a
//    plan that differs in every field (so to_json must write them all);
//  - every value the spec states is the value the plan holds (no silent wrap-around or rounding);
//  - a job spec that parses carries a valid plan, and its to_json reads back to an equal job spec
//    with an equal plan;
//  - the same text as the overrides of a version 1 message (a preset and overrides, as spool 0.1
//    queued them) parses exactly when it parses as a plan spec over that preset, to the same plan;
//    as the plan of a version 2 message, exactly when it parses as a plan spec, to the same plan.
#include <spool/job.hpp>
#include <spool/json_text.hpp>
#include <spool/plan.hpp>
#include <spool/version.hpp>

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "plan_compare.hpp"

using spool::fuzz::finding;
using spool::fuzz::require;

namespace {

std::string why(const spool::error& e) { return spool::fuzz::describe(e.code, e.message); }

/// The plan `text` gives as a plan spec over the default plan, or nothing when it is refused.
std::optional<spool::plan> check_plan(std::string_view text) {
  auto parsed = spool::apply_spec(text);
  if (!parsed) {
    require(parsed.error().code == spool::errc::invalid_spec, "apply_spec failed with " + why(parsed.error()));
    return std::nullopt;
  }
  const spool::plan& p = *parsed;
  if (auto e = spool::validate(p)) finding("apply_spec accepted a plan that validate() refuses: " + e.what());

  const std::string written = boost::json::serialize(spool::to_json(p));
  auto back = spool::apply_spec(written, spool::fuzz::unlike(p));
  if (!back) finding("to_json(plan) does not read back: " + back.error().what() + "\n  " + written);
  if (auto diff = spool::fuzz::plan_diff(p, *back); !diff.empty())
    finding("to_json(plan) reads back to a different plan: " + diff + "\n  " + written);

  // What the spec says is what the plan holds.
  boost::system::error_code jec;
  auto spec = boost::json::parse(text, jec);
  if (!jec) {
    if (auto diff = spool::fuzz::stated_diff(spec, spool::to_json(p)); !diff.empty())
      finding("the plan differs from what the spec states: " + diff + "\n  spec: " + std::string(text) +
              "\n  plan: " + written);
  }
  return p;
}

/// Equal as JSON: numbers by value whatever their kind (spool's writer gives 3.0 as "3"), doubles up
/// to the last bits a read may move them by (spool::fuzz::same_double).
bool same_json(const boost::json::value& a, const boost::json::value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.is_double() || b.is_double()) return spool::fuzz::same_double(a.to_number<double>(), b.to_number<double>());
    return a == b;  // int64 and uint64 compare by value
  }
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto &x = a.get_array(), &y = b.get_array();
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (!same_json(x[i], y[i])) return false;
    return true;
  }
  if (a.is_object()) {
    const auto &x = a.get_object(), &y = b.get_object();
    if (x.size() != y.size()) return false;
    for (const auto& kv : x) {
      const auto* other = y.if_contains(kv.key());
      if (!other || !same_json(kv.value(), *other)) return false;
    }
    return true;
  }
  return a == b;
}

/// The job `text` gives, or nothing when it is refused.
std::optional<spool::job_spec> check_job(std::string_view text) {
  auto parsed = spool::parse_job_spec(text);
  if (!parsed) {
    require(parsed.error().code == spool::errc::invalid_spec, "parse_job_spec failed with " + why(parsed.error()));
    return std::nullopt;
  }
  const spool::job_spec& j = *parsed;
  if (auto e = spool::validate(j.plan)) finding("a parsed job spec carries a plan validate() refuses: " + e.what());

  // Written by the JSON library, and by spool's own writer, which a submit queues the message with.
  const auto message = spool::to_json(j);
  for (const std::string& written : {boost::json::serialize(message), spool::to_json_text(message)}) {
    auto back = spool::parse_job_spec(written);
    if (!back) finding("to_json(job_spec) does not read back: " + back.error().what() + "\n  " + written);
    // An empty resolved_by is written as this library's version (the job was resolved here).
    const std::string resolved_by = j.resolved_by.empty() ? std::string(spool::version_string()) : j.resolved_by;
    require(back->job_id == j.job_id && back->idempotency_key == j.idempotency_key && back->input == j.input &&
                back->output == j.output && back->resolved_by == resolved_by,
            "to_json(job_spec) reads back to a different job spec\n  " + written);
    require(same_json(back->metadata, j.metadata), "to_json(job_spec) reads back to other metadata\n  " + written);
    if (auto diff = spool::fuzz::plan_diff(j.plan, back->plan); !diff.empty())
      finding("to_json(job_spec) reads back to a different plan: " + diff + "\n  " + written);
  }
  return j;
}

/// A job message of `version` whose plan (version 2) or overrides (version 1) are `plan_json`.
std::string job_message(int version, const boost::json::value& plan_json) {
  boost::json::object job{{"version", version}, {"input", "in.mp4"}, {"output", "out"}, {"plan", plan_json}};
  if (version == 1) job["preset"] = "hls-ladder";
  return boost::json::serialize(job);
}

/// Whether the job read from `message` holds `expected` (nothing: the job must be refused).
void require_same_outcome(const std::optional<spool::job_spec>& job, const std::optional<spool::plan>& expected,
                          const char* what, const std::string& message) {
  if (job.has_value() != expected.has_value())
    finding(std::string(what) +
            (expected ? " is refused although its plan spec is accepted"
                      : " is accepted although its plan spec is refused") +
            "\n  " + message);
  if (job)
    if (auto diff = spool::fuzz::plan_diff(job->plan, *expected); !diff.empty())
      finding(std::string(what) + " gives a different plan than its plan spec: " + diff + "\n  " + message);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto plan = check_plan(text);
  check_job(text);

  // The same text as a queued job's plan, in both message versions.
  boost::system::error_code jec;
  auto v = boost::json::parse(text, jec);
  if (!jec && v.is_object()) {
    // Version 1: overrides over the hls-ladder preset, which is the default plan check_plan starts from.
    const std::string v1 = job_message(1, v);
    require_same_outcome(check_job(v1), plan, "a version 1 message", v1);
    // Version 2: the plan whole, read over the default plan.
    const std::string v2 = job_message(2, v);
    require_same_outcome(check_job(v2), plan, "a version 2 message", v2);
  }
  return 0;
}
