#include <spool/job.hpp>
#include <spool/version.hpp>

#include <boost/json.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <limits>
#include <type_traits>

namespace spool::inline SPOOL_ABI_NAMESPACE {
namespace {

constexpr std::array<std::pair<job_state, std::string_view>, 5> state_names{{
    {job_state::queued, "queued"},
    {job_state::running, "running"},
    {job_state::succeeded, "succeeded"},
    {job_state::failed, "failed"},
    {job_state::dead, "dead"},
}};

// The inverse of to_iso8601 (milliseconds, UTC); false when `s` is not in that form.
bool parse_iso8601(std::string_view s, std::chrono::system_clock::time_point& out) {
  std::tm tm{};
  int ms = 0;
  std::string text(s);
  if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                  &tm.tm_min, &tm.tm_sec, &ms) != 7)
    return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  out = std::chrono::system_clock::from_time_t(timegm(&tm)) + std::chrono::milliseconds(ms);
  return true;
}

// Whether every number in `v` is finite. JSON has no infinity, but a number past a double's range
// (1e999) parses as one; no JSON writer can give it back.
bool all_finite(const boost::json::value& v) {
  switch (v.kind()) {
    case boost::json::kind::double_: return std::isfinite(v.get_double());
    case boost::json::kind::array:
      for (const auto& x : v.get_array())
        if (!all_finite(x)) return false;
      return true;
    case boost::json::kind::object:
      for (const auto& kv : v.get_object())
        if (!all_finite(kv.value())) return false;
      return true;
    default: return true;
  }
}

constexpr std::array<std::pair<job_role::kind, std::string_view>, 4> role_names{{
    {job_role::kind::none, "none"},
    {job_role::kind::chunk, "chunk"},
    {job_role::kind::whole_input, "whole_input"},
    {job_role::kind::stitch, "stitch"},
}};

boost::json::value role_json(const job_role& r) {
  boost::json::object o{{"kind", std::string(to_string(r.what))},
                        {"parent_id", r.parent_id},
                        {"parent_output", r.parent_output},
                        {"work", r.work},
                        {"chunks", r.chunks}};
  if (!r.parent_key.empty()) o["parent_key"] = r.parent_key;
  if (r.what == job_role::kind::chunk) {
    o["index"] = r.index;
    o["first_segment"] = r.first_segment;
    o["segments"] = r.segments;
    o["start_s"] = r.start_s;
    o["end_s"] = std::isfinite(r.end_s) ? boost::json::value(r.end_s) : boost::json::value(nullptr);
  }
  if (r.what == job_role::kind::stitch) o["wait"] = r.wait;
  return o;
}

// The role of a child of a chunked job; an empty string when it holds, else why not.
std::string parse_role(const boost::json::value& v, job_role& r) {
  if (!v.is_object()) return "'role' must be an object";
  const auto& o = v.get_object();
  bool kind_seen = false;
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    const auto& x = kv.value();
    auto str = [&](std::string& dst) {
      if (!x.is_string()) return false;
      dst = std::string(x.get_string());
      return true;
    };
    auto integer = [&](auto& dst, std::int64_t lo, std::int64_t hi) {
      if (!x.is_int64() || x.get_int64() < lo || x.get_int64() > hi) return false;
      dst = static_cast<std::remove_reference_t<decltype(dst)>>(x.get_int64());
      return true;
    };
    auto number = [&](double& dst) {
      if (!x.is_number()) return false;
      dst = x.to_number<double>();
      return std::isfinite(dst) && dst >= 0;
    };
    bool ok = true;
    if (k == "kind") {
      std::string name;
      ok = str(name);
      kind_seen = false;
      for (const auto& [kind, n] : role_names)
        if (ok && n == name && kind != job_role::kind::none) {
          r.what = kind;
          kind_seen = true;
        }
      if (!kind_seen) return "'role.kind' must be \"chunk\", \"whole_input\" or \"stitch\"";
    } else if (k == "parent_id") {
      ok = str(r.parent_id);
    } else if (k == "parent_key") {
      ok = str(r.parent_key);
    } else if (k == "parent_output") {
      ok = str(r.parent_output);
    } else if (k == "work") {
      ok = str(r.work);
    } else if (k == "chunks") {
      ok = integer(r.chunks, 1, 100000);
    } else if (k == "index") {
      ok = integer(r.index, 0, 100000);
    } else if (k == "first_segment") {
      ok = integer(r.first_segment, 0, std::int64_t(1) << 40);
    } else if (k == "segments") {
      ok = integer(r.segments, 1, std::int64_t(1) << 40);
    } else if (k == "start_s") {
      ok = number(r.start_s);
    } else if (k == "end_s") {
      if (x.is_null())
        r.end_s = std::numeric_limits<double>::infinity();
      else
        ok = number(r.end_s);
    } else if (k == "wait") {
      ok = integer(r.wait, 0, std::numeric_limits<int>::max());
    } else {
      return "unknown key '" + std::string(k) + "' in the job's role";
    }
    if (!ok) return "'role." + std::string(k) + "' is not valid";
  }
  if (!kind_seen) return "the job's role needs a 'kind'";
  if (r.parent_id.empty() || r.parent_output.empty() || r.work.empty())
    return "the job's role needs 'parent_id', 'parent_output' and 'work'";
  if (r.chunks < 1) return "the job's role needs 'chunks'";
  if (r.what == job_role::kind::chunk) {
    for (const char* key : {"index", "first_segment", "segments", "start_s", "end_s"})
      if (!o.contains(key)) return "a chunk job's role needs '" + std::string(key) + "'";
    if (r.index >= r.chunks) return "'role.index' must be below 'role.chunks'";
    if (!(r.end_s > r.start_s)) return "'role.end_s' must be after 'role.start_s'";
  }
  return {};
}

}  // namespace

std::string_view to_string(job_role::kind k) noexcept {
  for (const auto& [kind, name] : role_names)
    if (kind == k) return name;
  return "none";
}

std::string to_iso8601(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::floor<std::chrono::milliseconds>(t.time_since_epoch()).count();
  auto secs = static_cast<std::time_t>(ms / 1000);
  int frac = static_cast<int>(ms % 1000);
  if (frac < 0) {  // before 1970: the fraction counts up from the second below
    frac += 1000;
    --secs;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03d}Z", tm, frac);
}

std::string_view to_string(job_state s) noexcept {
  for (const auto& [state, name] : state_names)
    if (state == s) return name;
  return "queued";
}

bool parse_job_state(std::string_view s, job_state& out) noexcept {
  for (const auto& [state, name] : state_names)
    if (name == s) {
      out = state;
      return true;
    }
  return false;
}

result<plan> resolve_plan(std::string_view preset, const boost::json::value* overrides) {
  auto base = make_preset(preset);
  if (!base || !overrides) return base;
  return apply_spec(*overrides, *std::move(base));
}

boost::json::value to_json(const job_spec& j) {
  boost::json::object o{{"version", 2},
                        {"job_id", j.job_id},
                        {"input", j.input},
                        {"output", j.output},
                        {"plan", to_json(j.plan)},
                        {"resolved_by", j.resolved_by.empty() ? std::string(version_string()) : j.resolved_by}};
  if (!j.idempotency_key.empty()) o["idempotency_key"] = j.idempotency_key;
  if (!j.metadata.is_null()) o["metadata"] = j.metadata;
  if (j.role.what != job_role::kind::none) o["role"] = role_json(j.role);
  return o;
}

result<job_spec> parse_job_spec(std::string_view json_text) {
  auto no = [](std::string why) { return error(errc::invalid_spec, std::move(why)); };
  boost::system::error_code jec;
  auto v = boost::json::parse(json_text, jec);
  if (jec) return no("the job is not valid JSON: " + jec.message());
  if (!v.is_object()) return no("the job must be a JSON object");
  const auto& o = v.get_object();
  job_spec j;
  std::int64_t version = 0;
  std::string preset = "hls-ladder";
  const boost::json::value* plan_json = nullptr;
  const boost::json::value* role = nullptr;
  for (const auto& kv : o) {
    std::string_view k = kv.key();
    const auto& x = kv.value();
    auto str = [&](std::string& dst) {
      if (!x.is_string()) return false;
      dst = std::string(x.get_string());
      return true;
    };
    if (k == "version") {
      if (!x.is_int64() || (x.get_int64() != 1 && x.get_int64() != 2))
        return no("unsupported job version (this library reads versions 1 and 2)");
      version = x.get_int64();
    } else if (k == "job_id") {
      if (!str(j.job_id)) return no("'job_id' must be a string");
    } else if (k == "idempotency_key") {
      if (!str(j.idempotency_key)) return no("'idempotency_key' must be a string");
    } else if (k == "input") {
      if (!str(j.input)) return no("'input' must be a string");
    } else if (k == "output") {
      if (!str(j.output)) return no("'output' must be a string");
    } else if (k == "preset") {
      if (!str(preset)) return no("'preset' must be a string");
    } else if (k == "resolved_by") {
      if (!str(j.resolved_by)) return no("'resolved_by' must be a string");
    } else if (k == "plan") {
      if (!x.is_object()) return no("'plan' must be an object");
      plan_json = &x;
    } else if (k == "metadata") {
      // Handed back unchanged in every status: a number that cannot be written again is refused.
      if (!all_finite(x)) return no("'metadata' holds a number beyond a double's range, which JSON cannot give back");
      j.metadata = x;
    } else if (k == "role") {
      role = &x;
    } else {
      return no("unknown key '" + std::string(k) + "' in the job");
    }
  }
  if (version == 0) return no("the job needs a 'version'");
  if (j.input.empty()) return no("the job needs an 'input'");
  if (j.output.empty()) return no("the job needs an 'output'");
  if (role) {
    if (version != 2) return no("a version 1 job has no 'role'");
    if (auto why = parse_role(*role, j.role); !why.empty()) return no(why);
  }
  if (version == 2) {
    // Resolved at submit: the plan is taken whole, never mixed with this version's presets.
    if (!plan_json) return no("a version 2 job carries its whole 'plan'");
    if (o.contains("preset")) return no("a version 2 job names no 'preset': its plan is already resolved");
    auto p = apply_spec(*plan_json, plan{});
    if (!p) return no("the job's plan: " + p.error().what());
    j.plan = *std::move(p);
  } else {
    // A job spool 0.1 queued: its preset and overrides are resolved by this version.
    if (o.contains("resolved_by")) return no("a version 1 job has no 'resolved_by'");
    auto p = resolve_plan(preset, plan_json);
    if (!p) return p.error();
    j.plan = *std::move(p);
  }
  return j;
}

boost::json::value error_json(const error_code& ec, std::string_view message) {
  return boost::json::object{{"code", code_name(ec)},
                             {"category", std::string(to_string(kind_of(ec)))},
                             {"message", message.empty() ? ec.message() : std::string(message)}};
}

boost::json::value to_json(const job_status& s) {
  boost::json::object o{{"job_id", s.job_id},   {"state", std::string(to_string(s.state))},
                        {"attempt", s.attempt}, {"progress", s.progress},
                        {"eta_s", s.eta_s},     {"updated_at", to_iso8601(s.updated_at)}};
  o["playable"] = s.playable;
  o["playable_s"] = s.playable_s;
  o["error"] = s.error ? error_json(s.error, s.error_message) : boost::json::value(nullptr);
  if (!s.idempotency_key.empty()) o["idempotency_key"] = s.idempotency_key;
  if (!s.metadata.is_null()) o["metadata"] = s.metadata;
  if (s.chunks) o["chunks"] = boost::json::object{{"done", s.chunks->done}, {"total", s.chunks->total}};
  return o;
}

result<job_status> parse_job_status(std::string_view json_text) {
  auto no = [](std::string why) { return error(errc::invalid_spec, std::move(why)); };
  boost::system::error_code jec;
  auto v = boost::json::parse(json_text, jec);
  if (jec || !v.is_object()) return no("status is not a JSON object");
  const auto& o = v.get_object();
  job_status s;
  const auto* id = o.if_contains("job_id");
  const auto* state = o.if_contains("state");
  if (!id || !id->is_string()) return no("status has no 'job_id'");
  s.job_id = std::string(id->get_string());
  if (!state || !state->is_string() || !parse_job_state(state->get_string(), s.state))
    return no("status has no valid 'state'");
  auto number = [&](const char* key, double& dst) {
    if (const auto* x = o.if_contains(key); x && x->is_number()) dst = x->to_number<double>();
  };
  double attempt = 0;
  number("attempt", attempt);
  s.attempt = static_cast<int>(attempt);
  number("progress", s.progress);
  number("eta_s", s.eta_s);
  if (const auto* p = o.if_contains("playable"); p && p->is_bool()) s.playable = p->get_bool();
  number("playable_s", s.playable_s);
  if (const auto* t = o.if_contains("updated_at"); t && t->is_string()) parse_iso8601(t->get_string(), s.updated_at);
  if (const auto* e = o.if_contains("error"); e && e->is_object()) {
    const auto& eo = e->get_object();
    if (const auto* c = eo.if_contains("code"); c && c->is_string()) s.error = error_from_name(c->get_string());
    if (const auto* m = eo.if_contains("message"); m && m->is_string()) s.error_message = std::string(m->get_string());
  }
  if (const auto* k = o.if_contains("idempotency_key"); k && k->is_string())
    s.idempotency_key = std::string(k->get_string());
  if (const auto* m = o.if_contains("metadata")) s.metadata = *m;
  if (const auto* c = o.if_contains("chunks"); c && c->is_object()) {
    double done = 0, total = 0;
    if (const auto* d = c->get_object().if_contains("done"); d && d->is_number()) done = d->to_number<double>();
    if (const auto* t = c->get_object().if_contains("total"); t && t->is_number()) total = t->to_number<double>();
    s.chunks = chunk_count{static_cast<int>(done), static_cast<int>(total)};
  }
  return s;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
