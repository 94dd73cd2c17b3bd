// The job spec and plan parsers on arbitrary text. Properties checked beyond "no crash":
//  - a plan that parses is valid, and to_json(plan) reads back to the same plan, starting from a
//    plan that differs in every field (so to_json must write them all);
//  - every value the spec states is the value the plan holds (no silent wrap-around or rounding);
//  - a job spec that parses writes back (to_json) to the same job spec.
#include <spool/job.hpp>
#include <spool/media/plan.hpp>

#include <boost/json.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "plan_compare.hpp"

using spool::fuzz::finding;
using spool::fuzz::require;

namespace {

void check_plan(std::string_view text) {
  spool::media::plan p;
  std::string detail;
  auto ec = spool::media::apply_spec(text, p, &detail);
  if (ec) {
    require(ec == spool::errc::invalid_spec, "apply_spec failed with " + spool::fuzz::describe(ec, detail));
    return;
  }
  std::string why;
  require(!spool::media::validate(p, &why), "apply_spec accepted a plan that validate() refuses: " + why);

  const std::string written = boost::json::serialize(spool::media::to_json(p));
  spool::media::plan back = spool::fuzz::unlike(p);
  ec = spool::media::apply_spec(written, back, &detail);
  if (ec) finding("to_json(plan) does not read back: " + detail + "\n  " + written);
  if (auto diff = spool::fuzz::plan_diff(p, back); !diff.empty())
    finding("to_json(plan) reads back to a different plan: " + diff + "\n  " + written);

  // What the spec says is what the plan holds.
  boost::system::error_code jec;
  auto spec = boost::json::parse(text, jec);
  if (!jec) {
    if (auto diff = spool::fuzz::stated_diff(spec, spool::media::to_json(p)); !diff.empty())
      finding("the plan differs from what the spec states: " + diff + "\n  spec: " + std::string(text) +
              "\n  plan: " + written);
  }
}

void check_job(std::string_view text) {
  spool::job_spec j;
  std::string detail;
  auto ec = spool::parse_job_spec(text, j, &detail);
  if (ec) {
    require(ec == spool::errc::invalid_spec, "parse_job_spec failed with " + spool::fuzz::describe(ec, detail));
    return;
  }
  spool::media::plan p;
  require(!spool::make_plan(j, p, &detail), "a parsed job spec has no plan: " + detail);
  const std::string written = boost::json::serialize(spool::to_json(j));
  spool::job_spec back;
  ec = spool::parse_job_spec(written, back, &detail);
  if (ec) finding("to_json(job_spec) does not read back: " + detail + "\n  " + written);
  require(back.job_id == j.job_id && back.idempotency_key == j.idempotency_key && back.input == j.input &&
              back.output == j.output && back.preset == j.preset && back.plan == j.plan && back.metadata == j.metadata,
          "to_json(job_spec) reads back to a different job spec\n  " + written);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_plan(text);
  check_job(text);
  // The same text as a job's plan: the path a queued job takes to its plan.
  boost::system::error_code jec;
  auto v = boost::json::parse(text, jec);
  if (!jec && v.is_object()) {
    boost::json::object job{{"version", 1}, {"input", "in.mp4"}, {"output", "out"}, {"plan", v}};
    check_job(boost::json::serialize(job));
  }
  return 0;
}
