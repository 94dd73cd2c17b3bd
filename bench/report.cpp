#include "report.hpp"

#include <spool/json_text.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "ladder_settings.hpp"
#include "process.hpp"
#include "stats.hpp"

namespace spool_bench {
namespace {

namespace json = boost::json;

// The targets spool is held to against B.
constexpr double target_wall_ratio = 0.85;
constexpr double target_rss_mb = 300;
constexpr double target_bytes_tolerance = 0.05;
constexpr double target_ssim_delta = 0.003;

using figure = double (*)(const run_record&);
double wall(const run_record& r) { return r.wall_s; }
double cpu(const run_record& r) { return r.cpu_s(); }
double util(const run_record& r) { return r.util(); }
double rss_max(const run_record& r) { return r.rss_max_mb; }
double rss_sum(const run_record& r) { return r.rss_sum_mb; }

std::string fmt_opt(const std::optional<double>& v, const char* spec = "{:.2f}") {
  return v ? fmt::format(fmt::runtime(spec), *v) : "–";
}

json::value num_or_null(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

std::string verdict(const std::optional<double>& v, bool ok) { return v ? (ok ? "met" : "**missed**") : "n/a"; }

/// The figures of one set of results: medians over successful runs, and ratios paired per run.
class figures {
 public:
  explicit figures(const ladder_results& r) : r_(r) {}

  bool on(int m) const { return r_.opt.on(m); }

  std::optional<double> med(int m, figure f) const {
    std::vector<double> v;
    for (const auto& r : r_.state[m].runs)
      if (r.ok) v.push_back(f(r));
    return median(std::move(v));
  }

  /// Run by run, a's figure over b's; nothing for a run in which either failed. The methods of a
  /// run follow each other closely, so each pair shares most of the machine's state.
  std::vector<std::optional<double>> per_run_ratio(int a, int b, figure f) const {
    std::vector<std::optional<double>> out;
    if (!on(a) || !on(b)) return out;
    for (int run = 1; run <= r_.opt.runs; ++run) {
      const run_record* ra = find(a, run);
      const run_record* rb = find(b, run);
      if (ra && rb && ra->ok && rb->ok && f(*rb) > 0)
        out.push_back(f(*ra) / f(*rb));
      else
        out.push_back(std::nullopt);
    }
    return out;
  }

  std::optional<double> paired_ratio(int a, int b, figure f) const {
    std::vector<double> v;
    for (const auto& x : per_run_ratio(a, b, f))
      if (x) v.push_back(*x);
    return median(std::move(v));
  }

  std::optional<double> rung_bytes(int m, const std::string& rung) const {
    std::vector<double> v;
    for (const auto& r : r_.state[m].runs)
      if (r.ok)
        if (auto it = r.rung_bytes.find(rung); it != r.rung_bytes.end()) v.push_back(static_cast<double>(it->second));
    return median(std::move(v));
  }

  std::optional<double> ssim(int m, const std::string& rung) const {
    auto it = r_.state[m].ssim.find(rung);
    if (it == r_.state[m].ssim.end() || it->second.all < 0) return std::nullopt;
    return it->second.all;
  }

  /// What the spool builds are measured against: B, or C when B is left out.
  std::optional<method_id> reference() const {
    if (on(single_m)) return single_m;
    if (on(per_rung_m)) return per_rung_m;
    return std::nullopt;
  }

 private:
  const run_record* find(int m, int run) const {
    for (const auto& r : r_.state[m].runs)
      if (r.run == run) return &r;
    return nullptr;
  }

  const ladder_results& r_;
};

std::string per_run_text(const std::vector<std::optional<double>>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + fmt_opt(x, "{:.3f}");
  return s.empty() ? "–" : s;
}

json::value ratio_json(const std::vector<std::optional<double>>& per_run) {
  json::array runs;
  std::vector<double> present;
  for (const auto& x : per_run) {
    runs.push_back(num_or_null(x));
    if (x) present.push_back(*x);
  }
  return json::object{{"median", num_or_null(median(std::move(present)))}, {"runs", std::move(runs)}};
}

std::optional<double> change(const std::optional<double>& now, const std::optional<double>& before) {
  if (!now || !before || *before <= 0) return std::nullopt;
  return *now / *before - 1;
}

std::string order_text(const std::vector<method_id>& order) {
  std::string s;
  for (auto m : order) s += (s.empty() ? "" : ",") + std::string(methods[m].tag);
  return s;
}

std::string ladder_text() {
  std::string s;
  for (const auto& r : ladder)
    s += fmt::format("{}{} {}k/{}k", s.empty() ? "" : ", ", r.name, r.maxrate_k, r.bufsize_k);
  return s;
}

std::string decoder_text(const ffmpeg_reference& ref) {
  return ref.decoder_threads > 0 ? fmt::format("`-threads {}` before `-i`", ref.decoder_threads)
                                 : std::string("ffmpeg's own decoder threads (cores + 1)");
}

// ---------------------------------------------------------------------------------------------
// Markdown

std::string header_md(const ladder_results& r) {
  const auto& o = r.opt;
  std::string md = "# spool ladder benchmark\n\n";
  md += fmt::format("- machine: {} CPUs ({}), {:.1f} GB RAM; load average before {} / after {}\n", r.machine.nproc,
                    r.machine.cpu_model.empty() ? "unknown CPU" : r.machine.cpu_model, r.machine.mem_gb, r.load_before,
                    r.load_after);
  md += fmt::format("- libraries: {}\n", r.ffmpeg_libraries);
  md += fmt::format("- ffmpeg CLI: {} ({}); B and C decode with {}\n", r.ffmpeg_cli, o.ffmpeg.ffmpeg,
                    decoder_text(o.ffmpeg));
  const auto version = [](const std::string& v) { return v.empty() ? std::string("version unknown") : v; };
  if (o.on(spool_m)) md += fmt::format("- A spool: {} ({})\n", version(r.spool_version), o.spool);
  if (o.on(baseline_m))
    md += fmt::format("- A' spool baseline: {} ({})\n", version(r.baseline_version), o.baseline_spool);
  md += fmt::format("- source: {} — {}; {} frames\n", std::filesystem::path(r.source.path).filename().string(),
                    r.source.note, r.source.frames > 0 ? std::to_string(r.source.frames) : "?");
  md += fmt::format(
      "- ladder: {}; libx264 high {} crf {}, GOP {} frames (2 s) closed grid, {} s segments; AAC-LC 128k "
      "48 kHz stereo once\n",
      ladder_text(), x264_preset, crf, gop_frames, segment_s);
  if (o.on(spool_m))
    md += fmt::format(
        "- A runs `spool transcode SRC OUTDIR{}` (its default preset); the exact commands are in the JSON\n",
        o.spool_args.empty() ? "" : " " + join_command(o.spool_args));
  std::string orders;
  for (std::size_t i = 0; i < r.orders.size() && i < 4; ++i) orders += (i ? " / " : "") + order_text(r.orders[i]);
  if (r.orders.size() > 4) orders += " / ...";
  md += fmt::format(
      "- {} run(s), the order rotated per run ({}); figures are medians over the successful runs; SSIM is "
      "untimed, from the last run's output\n\n",
      o.runs, orders);
  return md;
}

std::string methods_md(const ladder_results& r, const figures& f) {
  std::string md = "| method | runs ok | wall s | CPU s | CPU util (cores) | peak RSS MB |\n";
  md += "|---|---:|---:|---:|---:|---:|\n";
  for (int m = 0; m < method_count; ++m) {
    if (!f.on(m)) continue;
    int ok = 0;
    for (const auto& run : r.state[m].runs) ok += run.ok;
    std::string rss = fmt_opt(f.med(m, rss_max), "{:.0f}");
    if (m == per_rung_m) rss = fmt::format("sum {} / max {}", fmt_opt(f.med(m, rss_sum), "{:.0f}"), rss);
    md += fmt::format("| {} | {}/{} | {} | {} | {} | {} |\n", methods[m].label, ok, r.state[m].runs.size(),
                      fmt_opt(f.med(m, wall)), fmt_opt(f.med(m, cpu)), fmt_opt(f.med(m, util)), rss);
  }
  return md;
}

struct rung_verdicts {
  bool bytes_ok = true, ssim_ok = true, bytes_known = true, ssim_known = true;
};

std::string rungs_md(const figures& f, rung_verdicts& v) {
  std::vector<int> shown;
  for (int m = 0; m < method_count; ++m)
    if (f.on(m)) shown.push_back(m);
  std::string head = "| rung |", rule = "|---|";
  for (int m : shown) head += fmt::format(" bytes {} |", methods[m].tag), rule += "---:|";
  head += " A/B bytes |", rule += "---:|";
  for (int m : shown) head += fmt::format(" SSIM {} |", methods[m].tag), rule += "---:|";
  head += " ΔSSIM A−B |", rule += "---:|";
  std::string md = "\n" + head + "\n" + rule + "\n";
  for (const auto& rung : ladder) {
    const auto ba = f.rung_bytes(spool_m, rung.name), bb = f.rung_bytes(single_m, rung.name);
    const auto sa = f.ssim(spool_m, rung.name), sb = f.ssim(single_m, rung.name);
    std::optional<double> ratio, delta;
    if (ba && bb && *bb > 0) ratio = *ba / *bb;
    if (sa && sb) delta = *sa - *sb;
    if (ratio)
      v.bytes_ok = v.bytes_ok && std::abs(*ratio - 1) <= target_bytes_tolerance;
    else
      v.bytes_known = false;
    if (delta)
      v.ssim_ok = v.ssim_ok && std::abs(*delta) <= target_ssim_delta;
    else
      v.ssim_known = false;
    md += fmt::format("| {} |", rung.name);
    for (int m : shown) md += fmt::format(" {} |", fmt_opt(f.rung_bytes(m, rung.name), "{:.0f}"));
    md += fmt::format(" {} |", fmt_opt(ratio, "{:.3f}"));
    for (int m : shown) md += fmt::format(" {} |", fmt_opt(f.ssim(m, rung.name), "{:.5f}"));
    md += fmt::format(" {} |\n", fmt_opt(delta, "{:+.5f}"));
  }
  return md;
}

std::string targets_md(const figures& f, const rung_verdicts& v) {
  const auto wall_ab = f.paired_ratio(spool_m, single_m, wall);
  const auto rss_a = f.on(spool_m) ? f.med(spool_m, rss_max) : std::nullopt;
  std::string md = "\n| ratio (median of per-run ratios) | value | target | verdict |\n";
  md += "|---|---:|---:|---|\n";
  md += fmt::format("| spool wall / B wall | {} | ≤ {:.2f} | {} |\n", fmt_opt(wall_ab, "{:.3f}"), target_wall_ratio,
                    verdict(wall_ab, wall_ab && *wall_ab <= target_wall_ratio));
  md +=
      fmt::format("| spool wall / C wall | {} | – | |\n", fmt_opt(f.paired_ratio(spool_m, per_rung_m, wall), "{:.3f}"));
  md += fmt::format("| C wall / B wall | {} | – | |\n", fmt_opt(f.paired_ratio(per_rung_m, single_m, wall), "{:.3f}"));
  md += fmt::format("| spool CPU / B CPU | {} | – | |\n", fmt_opt(f.paired_ratio(spool_m, single_m, cpu), "{:.3f}"));
  md +=
      fmt::format("| spool RSS / B RSS | {} | – | |\n", fmt_opt(f.paired_ratio(spool_m, single_m, rss_max), "{:.3f}"));
  md += fmt::format("| spool peak RSS MB | {} | ≤ {:.0f} | {} |\n", fmt_opt(rss_a, "{:.0f}"), target_rss_mb,
                    verdict(rss_a, rss_a && *rss_a <= target_rss_mb));
  md += fmt::format("| bytes A/B, every rung | see above | 1 ± {:.2f} | {} |\n", target_bytes_tolerance,
                    v.bytes_known ? (v.bytes_ok ? "met" : "**missed**") : "n/a");
  md += fmt::format("| ΔSSIM A−B, every rung | see above | ± {:.3f} | {} |\n", target_ssim_delta,
                    v.ssim_known ? (v.ssim_ok ? "met" : "**missed**") : "n/a");
  return md;
}

/// A and A' side by side: each build's ratios to the reference, and the new build over the baseline.
std::string builds_md(const ladder_results& r, const figures& f) {
  if (!f.on(spool_m) || !f.on(baseline_m)) return {};
  const auto ref = f.reference();
  const std::string ref_tag = ref ? methods[*ref].tag : "?";
  std::string md = "\n## spool builds side by side\n\n";
  md += fmt::format(
      "A is `{}`, A' (the baseline) is `{}`; both ran in every run, in the same rotation. Ratios are per run "
      "(that run's figure over the same run's {}), with their median.\n\n",
      r.opt.spool, r.opt.baseline_spool, ref_tag);
  md += fmt::format("| build | wall / {0} | wall / {0}, per run | CPU / {0} | CPU / {0}, per run |\n", ref_tag);
  md += "|---|---:|---|---:|---|\n";
  std::optional<double> wall_ratio[2], cpu_ratio[2];
  for (int i = 0; i < 2; ++i) {
    const int m = i == 0 ? spool_m : baseline_m;
    const auto w = ref ? f.per_run_ratio(m, *ref, wall) : std::vector<std::optional<double>>{};
    const auto c = ref ? f.per_run_ratio(m, *ref, cpu) : std::vector<std::optional<double>>{};
    wall_ratio[i] = ref ? f.paired_ratio(m, *ref, wall) : std::nullopt;
    cpu_ratio[i] = ref ? f.paired_ratio(m, *ref, cpu) : std::nullopt;
    md += fmt::format("| {} | {} | {} | {} | {} |\n", methods[m].label, fmt_opt(wall_ratio[i], "{:.3f}"),
                      per_run_text(w), fmt_opt(cpu_ratio[i], "{:.3f}"), per_run_text(c));
  }
  md += fmt::format("| A / A' | {} | {} | {} | {} |\n", fmt_opt(f.paired_ratio(spool_m, baseline_m, wall), "{:.3f}"),
                    per_run_text(f.per_run_ratio(spool_m, baseline_m, wall)),
                    fmt_opt(f.paired_ratio(spool_m, baseline_m, cpu), "{:.3f}"),
                    per_run_text(f.per_run_ratio(spool_m, baseline_m, cpu)));
  const auto pct = [](const std::optional<double>& v) { return v ? fmt::format("{:+.1f} %", *v * 100) : "–"; };
  md += fmt::format("\nspool/{0} wall ratio, A against A': {1} (median(A/{0}) / median(A'/{0}) − 1); CPU ratio: {2}.\n",
                    ref_tag, pct(change(wall_ratio[0], wall_ratio[1])), pct(change(cpu_ratio[0], cpu_ratio[1])));
  return md;
}

std::string runs_and_notes_md(const ladder_results& r, bool& failures) {
  std::string md = "\nPer-run wall seconds (position in the run's order, 1-minute load average at the start):";
  for (int m = 0; m < method_count; ++m) {
    if (!r.opt.on(m)) continue;
    md += fmt::format(" {}:", methods[m].tag);
    for (const auto& run : r.state[m].runs)
      md += run.ok ? fmt::format(" {:.2f} (#{}, {:.1f})", run.wall_s, run.position, run.load_before)
                   : std::string(" failed");
    md += ";";
  }
  md += "\n";
  std::string notes;
  for (int m = 0; m < method_count; ++m)
    for (const auto& run : r.state[m].runs)
      if (!run.ok) {
        failures = true;
        notes += fmt::format("- {} run {} failed: {}\n", methods[m].label, run.run, run.error);
      }
  for (int m = 0; m < method_count; ++m)
    for (const auto& [rung, s] : r.state[m].ssim) {
      if (!s.error.empty())
        notes += fmt::format("- SSIM {} {}: {}\n", methods[m].key, rung, s.error);
      else if (s.frames != s.rendition_frames || s.frames != r.source.frames)
        notes += fmt::format("- SSIM {} {}: frame counts differ (source {}, rendition {}, compared {})\n",
                             methods[m].key, rung, r.source.frames, s.rendition_frames, s.frames);
    }
  if (const int n = r.orders.empty() ? 1 : static_cast<int>(r.orders.front().size()); r.opt.runs % n != 0)
    notes +=
        fmt::format("- {} runs of {} methods: not every method held every position equally often\n", r.opt.runs, n);
  if (!notes.empty()) md += "\nNotes:\n" + notes;
  return md;
}

// ---------------------------------------------------------------------------------------------
// JSON

json::object method_json(const ladder_results& r, const figures& f, int m) {
  const auto& st = r.state[m];
  json::object mj;
  mj["label"] = methods[m].label;
  json::array cmds;
  for (const auto& c : st.commands) cmds.push_back(json::value(join_command(c)));
  mj["commands"] = cmds;
  json::array runs_j;
  for (const auto& run : st.runs) {
    json::object rb;
    for (const auto& [k, v] : run.rung_bytes) rb[k] = v;
    json::object rj{{"run", run.run},
                    {"position", run.position},
                    {"ok", run.ok},
                    {"wall_s", run.wall_s},
                    {"cpu_s", run.cpu_s()},
                    {"user_s", run.user_s},
                    {"sys_s", run.sys_s},
                    {"cpu_util", run.util()},
                    {"peak_rss_mb", run.rss_max_mb},
                    {"peak_rss_sum_mb", run.rss_sum_mb},
                    {"load_before", run.load_before},
                    {"rung_bytes", rb}};
    if (!run.ok) rj["error"] = run.error;
    if (!run.reported.is_null()) rj["reported"] = run.reported;
    runs_j.push_back(rj);
  }
  mj["runs"] = runs_j;
  mj["median"] = json::object{{"wall_s", num_or_null(f.med(m, wall))},
                              {"cpu_s", num_or_null(f.med(m, cpu))},
                              {"cpu_util", num_or_null(f.med(m, util))},
                              {"peak_rss_mb", num_or_null(f.med(m, rss_max))},
                              {"peak_rss_sum_mb", num_or_null(f.med(m, rss_sum))}};
  json::object rj;
  for (const auto& rung : ladder) {
    json::object one{{"bytes", num_or_null(f.rung_bytes(m, rung.name))}};
    if (auto it = st.ssim.find(rung.name); it != st.ssim.end()) {
      const auto& s = it->second;
      const auto known = [](double x) { return x >= 0 ? json::value(x) : json::value(nullptr); };
      one["ssim"] = known(s.all);
      one["ssim_y"] = known(s.y);
      one["ssim_min"] = known(s.min_all);
      one["frames_compared"] = s.frames;
      one["rendition_frames"] = s.rendition_frames;
      one["width"] = s.width;
      one["height"] = s.height;
      if (!s.error.empty()) one["ssim_error"] = s.error;
    }
    rj[rung.name] = one;
  }
  mj["rungs"] = rj;
  return mj;
}

/// Each spool build's wall and CPU ratios to the reference, and A over A'.
json::object builds_json(const ladder_results& r, const figures& f) {
  const auto ref = f.reference();
  const auto build = [&](int m, const std::string& binary, const std::string& version,
                         const std::vector<std::string>& args) -> json::value {
    if (!f.on(m)) return nullptr;
    json::array a;
    for (const auto& x : args) a.push_back(json::value(x));
    json::object b{{"method", methods[m].key}, {"binary", binary}, {"version", version}, {"args", a}};
    b["wall_over_reference"] = ref ? ratio_json(f.per_run_ratio(m, *ref, wall)) : json::value(nullptr);
    b["cpu_over_reference"] = ref ? ratio_json(f.per_run_ratio(m, *ref, cpu)) : json::value(nullptr);
    return b;
  };
  json::object doc{{"reference", ref ? json::value(methods[*ref].key) : json::value(nullptr)},
                   {"new", build(spool_m, r.opt.spool, r.spool_version, r.opt.spool_args)},
                   {"baseline", build(baseline_m, r.opt.baseline_spool, r.baseline_version, r.opt.baseline_args)}};
  if (f.on(spool_m) && f.on(baseline_m)) {
    json::object nb{{"wall", ratio_json(f.per_run_ratio(spool_m, baseline_m, wall))},
                    {"cpu", ratio_json(f.per_run_ratio(spool_m, baseline_m, cpu))}};
    if (ref) {
      nb["wall_over_reference_change"] =
          num_or_null(change(f.paired_ratio(spool_m, *ref, wall), f.paired_ratio(baseline_m, *ref, wall)));
      nb["cpu_over_reference_change"] =
          num_or_null(change(f.paired_ratio(spool_m, *ref, cpu), f.paired_ratio(baseline_m, *ref, cpu)));
    }
    doc["new_over_baseline"] = nb;
  } else {
    doc["new_over_baseline"] = nullptr;
  }
  return doc;
}

json::object report_json(const ladder_results& r, const figures& f, const rung_verdicts& v) {
  const auto& o = r.opt;
  json::object doc;
  doc["benchmark"] = "spool-bench-ladder";
  doc["machine"] = json::object{{"nproc", r.machine.nproc},
                                {"cpu_model", r.machine.cpu_model},
                                {"mem_gb", r.machine.mem_gb},
                                {"load_before", r.load_before},
                                {"load_after", r.load_after},
                                {"ffmpeg_libraries", r.ffmpeg_libraries},
                                {"ffmpeg_cli", r.ffmpeg_cli},
                                {"spool_version", r.spool_version},
                                {"spool_baseline_version", r.baseline_version}};
  doc["source"] = json::object{{"path", r.source.path},
                               {"note", r.source.note},
                               {"duration_s", num_or_null(r.source.duration_s)},
                               {"frames", r.source.frames},
                               {"generation_s", r.source.generation_s}};
  json::array rungs_j;
  for (const auto& rung : ladder)
    rungs_j.push_back(json::object{{"name", rung.name},
                                   {"height", rung.height},
                                   {"maxrate_kbps", rung.maxrate_k},
                                   {"bufsize_kbps", rung.bufsize_k}});
  json::array orders;
  for (const auto& order : r.orders) {
    json::array one;
    for (auto m : order) one.push_back(json::value(methods[m].key));
    orders.push_back(one);
  }
  doc["settings"] =
      json::object{{"runs", o.runs},
                   {"timeout_s", o.timeout_s},
                   {"codec", "libx264"},
                   {"profile", "high"},
                   {"preset", x264_preset},
                   {"crf", crf},
                   {"gop_frames", gop_frames},
                   {"segment_s", segment_s},
                   {"audio", "aac 128k 48000 Hz stereo"},
                   {"rungs", rungs_j},
                   {"ffmpeg_decoder_threads",
                    o.ffmpeg.decoder_threads > 0 ? json::value(o.ffmpeg.decoder_threads) : json::value("auto")},
                   {"order", orders}};
  json::object methods_j;
  for (int m = 0; m < method_count; ++m)
    if (f.on(m)) methods_j[methods[m].key] = method_json(r, f, m);
  doc["methods"] = methods_j;

  json::object per_rung;
  for (const auto& rung : ladder) {
    const auto ba = f.rung_bytes(spool_m, rung.name), bb = f.rung_bytes(single_m, rung.name);
    const auto sa = f.ssim(spool_m, rung.name), sb = f.ssim(single_m, rung.name);
    per_rung[rung.name] = json::object{
        {"bytes_ratio", num_or_null(ba && bb && *bb > 0 ? std::optional<double>(*ba / *bb) : std::nullopt)},
        {"ssim_delta", num_or_null(sa && sb ? std::optional<double>(*sa - *sb) : std::nullopt)}};
  }
  const auto wall_ab = f.paired_ratio(spool_m, single_m, wall);
  const auto rss_a = f.on(spool_m) ? f.med(spool_m, rss_max) : std::nullopt;
  doc["ratios"] = json::object{{"spool_wall_over_single", num_or_null(wall_ab)},
                               {"spool_wall_over_per_rung", num_or_null(f.paired_ratio(spool_m, per_rung_m, wall))},
                               {"per_rung_wall_over_single", num_or_null(f.paired_ratio(per_rung_m, single_m, wall))},
                               {"spool_cpu_over_single", num_or_null(f.paired_ratio(spool_m, single_m, cpu))},
                               {"spool_rss_over_single", num_or_null(f.paired_ratio(spool_m, single_m, rss_max))},
                               {"rungs", per_rung}};
  doc["spool_builds"] = builds_json(r, f);
  const auto met = [](bool known, bool ok) { return known ? json::value(ok) : json::value(nullptr); };
  doc["targets"] = json::object{{"spool_wall_over_single_max", target_wall_ratio},
                                {"spool_peak_rss_mb_max", target_rss_mb},
                                {"bytes_ratio_tolerance", target_bytes_tolerance},
                                {"ssim_delta_max", target_ssim_delta},
                                {"wall_met", met(wall_ab.has_value(), wall_ab && *wall_ab <= target_wall_ratio)},
                                {"rss_met", met(rss_a.has_value(), rss_a && *rss_a <= target_rss_mb)},
                                {"bytes_met", met(v.bytes_known, v.bytes_ok)},
                                {"ssim_met", met(v.ssim_known, v.ssim_ok)}};
  doc["ssim_seconds"] = r.ssim_s;
  return doc;
}

}  // namespace

ladder_report make_report(const ladder_results& r) {
  const figures f(r);
  ladder_report out;
  rung_verdicts v;
  out.markdown = header_md(r) + methods_md(r, f);
  out.markdown += rungs_md(f, v);
  out.markdown += targets_md(f, v);
  out.markdown += builds_md(r, f);
  out.markdown += runs_and_notes_md(r, out.failures);
  out.json = spool::to_json_text(report_json(r, f, v));
  return out;
}

}  // namespace spool_bench
