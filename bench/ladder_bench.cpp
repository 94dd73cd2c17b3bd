// spool-bench-ladder: the default 4-rung ladder encoded several ways, interleaved per run:
//   A. spool transcode (the CLI as a black box),
//   A'. optionally a second spool build (--baseline-spool), to compare two builds side by side,
//   B. one ffmpeg process with a split=4 filter graph (the strongest single-process CLI form),
//   C. four concurrent ffmpeg processes, one per rung, each decoding the input itself.
// The order rotates from run to run. Reports medians of wall time, CPU time, CPU utilisation and
// peak RSS, bytes and SSIM per rung, and ratios paired per run, as Markdown (also on stdout) and JSON.
#include <boost/json.hpp>
#include <fmt/format.h>

extern "C" {
#include <libavutil/log.h>
}

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "args.hpp"
#include "ladder_run.hpp"
#include "ladder_settings.hpp"
#include "lecture_source.hpp"
#include "machine.hpp"
#include "process.hpp"
#include "report.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace spool_bench;

constexpr const char* usage =
    "usage: spool-bench-ladder --spool PATH [--baseline-spool PATH] [--duration 120] [--runs 3]\n"
    "                          [--out bench-out] [--ffmpeg /usr/bin/ffmpeg] [--ffmpeg-decoder-threads 1|auto]\n"
    "                          [--json FILE] [--markdown FILE] [--timeout SECONDS] [--source FILE] [--no-ssim]\n"
    "                          [--spool-args \"ARGS\"] [--baseline-args \"ARGS\"]\n"
    "                          [--methods spool,spool_baseline,ffmpeg_single,ffmpeg_per_rung]\n";

std::vector<std::string> split_words(const std::string& list) {
  std::vector<std::string> words;
  std::istringstream in(list);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

/// "b" names B, "a'" names A'.
bool same_tag(const std::string& item, std::string_view tag) {
  return std::equal(item.begin(), item.end(), tag.begin(), tag.end(), [](char x, char y) {
    return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
  });
}

/// Returns an error message, or an empty string.
std::string parse_options(int argc, char** argv, options& o) {
  bool methods_given = false, baseline_args_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto str = [&](std::string& target) {
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    const auto num = [&](auto& target) { return i + 1 < argc && parse_number(argv[++i], target); };
    std::string list;
    bool ok = true;
    if (a == "--spool") {
      ok = str(o.spool);
    } else if (a == "--baseline-spool") {
      ok = str(o.baseline_spool) && !o.baseline_spool.empty();
    } else if (a == "--ffmpeg") {
      ok = str(o.ffmpeg.ffmpeg);
    } else if (a == "--ffmpeg-decoder-threads") {
      ok = i + 1 < argc;
      if (ok && std::string_view(argv[i + 1]) == "auto") {
        o.ffmpeg.decoder_threads = 0;
        ++i;
      } else {
        ok = num(o.ffmpeg.decoder_threads) && o.ffmpeg.decoder_threads >= 1 && o.ffmpeg.decoder_threads <= 64;
      }
    } else if (a == "--out") {
      ok = str(o.out);
    } else if (a == "--json") {
      ok = str(o.json_path);
    } else if (a == "--markdown") {
      ok = str(o.markdown_path);
    } else if (a == "--source") {
      ok = str(o.source);
    } else if (a == "--duration") {
      ok = num(o.duration_s) && o.duration_s > 0 && o.duration_s <= 3600;
    } else if (a == "--runs") {
      ok = num(o.runs) && o.runs >= 1 && o.runs <= 50;
    } else if (a == "--timeout") {
      ok = num(o.timeout_s) && o.timeout_s > 0;
    } else if (a == "--no-ssim") {
      o.ssim = false;
    } else if (a == "--spool-args") {
      ok = str(list);
      o.spool_args = split_words(list);
    } else if (a == "--baseline-args") {
      ok = str(list);
      o.baseline_args = split_words(list);
      baseline_args_given = true;
    } else if (a == "--methods") {
      ok = str(list);
      methods_given = true;
      std::fill(std::begin(o.enabled), std::end(o.enabled), false);
      std::istringstream in(list);
      for (std::string item; ok && std::getline(in, item, ',');) {
        bool found = false;
        for (int m = 0; m < method_count; ++m)
          if (item == methods[m].key || same_tag(item, methods[m].tag)) o.enabled[m] = found = true;
        ok = found;
      }
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", usage);
      std::exit(0);
    } else {
      return fmt::format("unknown option {}", a);
    }
    if (!ok) return fmt::format("bad or missing value for {}", a);
  }
  if (!methods_given) o.enabled[baseline_m] = !o.baseline_spool.empty();
  if (o.on(spool_m) && o.spool.empty()) return "--spool PATH is required (or leave spool out with --methods)";
  if (o.on(baseline_m) && o.baseline_spool.empty()) return "--methods spool_baseline needs --baseline-spool PATH";
  if (!baseline_args_given) o.baseline_args = o.spool_args;
  if (o.json_path.empty()) o.json_path = (fs::path(o.out) / "ladder.json").string();
  if (o.markdown_path.empty()) o.markdown_path = (fs::path(o.out) / "ladder.md").string();
  if (o.timeout_s <= 0) o.timeout_s = 120 + 20 * o.duration_s;
  return {};
}

/// Run `run` (from 1) starts one method further along than the run before: A,B,C / B,C,A / C,A,B,
/// so that over the runs every method goes first, and last, as often as any other.
std::vector<method_id> run_order(const options& o, int run) {
  std::vector<method_id> enabled;
  for (int m = 0; m < method_count; ++m)
    if (o.on(m)) enabled.push_back(static_cast<method_id>(m));
  if (!enabled.empty())
    std::rotate(enabled.begin(),
                enabled.begin() + static_cast<std::ptrdiff_t>(static_cast<std::size_t>(run - 1) % enabled.size()),
                enabled.end());
  return enabled;
}

/// Natural order for segment names (seg_2 before seg_10 even without zero padding).
bool natural_less(const std::string& a, const std::string& b) {
  return a.size() != b.size() ? a.size() < b.size() : a < b;
}

/// A rung's media pieces in playback order: init segment(s) first, then the media segments.
std::vector<std::string> rung_media(const fs::path& dir, std::int64_t& bytes) {
  std::vector<std::string> init, segs;
  bytes = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    if (!e.is_regular_file(ec)) continue;
    const std::string name = e.path().filename().string();
    const std::string ext = e.path().extension().string();
    if (ext == ".m4s")
      segs.push_back(name);
    else if (ext == ".mp4" && name.rfind("init", 0) == 0)
      init.push_back(name);
    else
      continue;
    bytes += static_cast<std::int64_t>(e.file_size(ec));
  }
  std::sort(init.begin(), init.end(), natural_less);
  std::sort(segs.begin(), segs.end(), natural_less);
  std::vector<std::string> files;
  for (const auto& n : init) files.push_back((dir / n).string());
  for (const auto& n : segs) files.push_back((dir / n).string());
  return files;
}

class bench {
 public:
  explicit bench(options o) { r_.opt = std::move(o); }

  int run() {
    auto& o = r_.opt;
    std::error_code ec;
    out_ = fs::absolute(o.out);
    logs_ = out_ / "logs";
    fs::create_directories(logs_, ec);
    if (ec) return fail("cannot create " + logs_.string() + ": " + ec.message());
    for (auto [spool, option] : {std::pair{&o.spool, "--spool"}, std::pair{&o.baseline_spool, "--baseline-spool"}}) {
      if (spool->empty()) continue;
      if (spool->find('/') != std::string::npos) *spool = fs::absolute(*spool).string();
      if (access(spool->c_str(), X_OK) != 0) return fail(fmt::format("{} {} is not an executable", option, *spool));
    }
    if (o.ffmpeg.ffmpeg.find('/') != std::string::npos && access(o.ffmpeg.ffmpeg.c_str(), X_OK) != 0)
      return fail("ffmpeg is not an executable: " + o.ffmpeg.ffmpeg + " (scripts/install-deps.sh bench installs it)");

    probe_versions();
    if (r_.ffmpeg_cli.empty()) return fail("cannot run " + o.ffmpeg.ffmpeg + " -version");
    if (int rc = prepare_source(); rc != 0) return rc;

    const std::size_t per_run = run_order(o, 1).size();
    if (per_run > 1 && o.runs % static_cast<int>(per_run) != 0)
      fmt::print(stderr, "note: with {} methods, a multiple of {} runs puts each first equally often\n", per_run,
                 per_run);
    for (int run = 1; run <= o.runs; ++run) {
      const auto order = run_order(o, run);
      r_.orders.push_back(order);
      for (std::size_t i = 0; i < order.size(); ++i)
        if (!run_method(order[i], run, static_cast<int>(i) + 1)) {
          fmt::print(stderr, "spool-bench-ladder: interrupted\n");
          return 130;
        }
    }
    r_.load_after = loadavg();
    if (o.ssim) score_ssim();
    return write_report();
  }

 private:
  int fail(const std::string& why) {
    fmt::print(stderr, "spool-bench-ladder: {}\n", why);
    return 2;
  }

  void probe_versions() {
    const auto& o = r_.opt;
    r_.machine = probe_machine();
    r_.load_before = loadavg();
    r_.ffmpeg_libraries = ffmpeg_library_versions();
    const auto version = [&](const std::string& program, const char* flag, const char* scratch) {
      return first_line(capture_output({program, flag}, (logs_ / scratch).string()));
    };
    r_.ffmpeg_cli = version(o.ffmpeg.ffmpeg, "-version", "ffmpeg-version.txt");
    if (o.on(spool_m)) r_.spool_version = version(o.spool, "--version", "spool-version.txt");
    if (o.on(baseline_m)) r_.baseline_version = version(o.baseline_spool, "--version", "baseline-version.txt");
  }

  int prepare_source() {
    const auto& o = r_.opt;
    auto& src = r_.source;
    if (!o.source.empty()) {
      src.path = fs::absolute(o.source).string();
      src.note = "given with --source";
      std::error_code ec;
      if (!fs::is_regular_file(src.path, ec)) return fail("no such source file: " + src.path);
      return 0;
    }
    lecture_spec spec;
    spec.duration_s = o.duration_s;
    src.duration_s = spec.duration_s;
    src.path = (out_ / fmt::format("lecture-{}p{}-{}s.mp4", spec.height, spec.fps, o.duration_s)).string();
    fmt::print(stderr, "generating the {:g} s {}x{}@{} lecture source: {}\n", spec.duration_s, spec.width, spec.height,
               spec.fps, src.path);
    const auto t0 = std::chrono::steady_clock::now();
    if (auto e = make_lecture(src.path, spec); !e.empty()) return fail("cannot make the source: " + e);
    src.generation_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    src.note = fmt::format(
        "synthetic lecture (slides every {:g} s, camera inset, speech-like audio), libx264 crf {} {}, AAC 160k",
        spec.slide_s, spec.crf, spec.preset);
    return 0;
  }

  fs::path method_dir(method_id m) const { return out_ / methods[m].key; }

  std::vector<child_spec> children_of(method_id m, int run) {
    const auto& o = r_.opt;
    const fs::path dir = method_dir(m);
    const auto log = [&](const std::string& suffix) {
      return (logs_ / fmt::format("{}-run{}{}", methods[m].key, run, suffix)).string();
    };
    std::error_code ec;
    std::vector<child_spec> children;
    switch (m) {
      case spool_m:
      case baseline_m: {
        // spool creates the directory itself and requires that it does not exist.
        std::vector<std::string> argv{m == spool_m ? o.spool : o.baseline_spool, "transcode", r_.source.path,
                                      dir.string()};
        const auto& extra = m == spool_m ? o.spool_args : o.baseline_args;
        argv.insert(argv.end(), extra.begin(), extra.end());
        children.push_back({std::move(argv), log(".stdout.json"), log(".stderr.txt")});
        break;
      }
      case single_m:
        for (const auto& rung : ladder) fs::create_directories(dir / rung.name, ec);
        fs::create_directories(dir / "audio", ec);
        children.push_back(
            {single_process_command(o.ffmpeg, r_.source.path, dir), log(".stdout.txt"), log(".stderr.txt")});
        break;
      case per_rung_m:
        for (int i = 0; i < rung_count; ++i) {
          fs::create_directories(dir / ladder[i].name, ec);
          children.push_back({per_rung_command(o.ffmpeg, r_.source.path, dir, i),
                              log(fmt::format("-{}.stdout.txt", ladder[i].name)),
                              log(fmt::format("-{}.stderr.txt", ladder[i].name))});
        }
        fs::create_directories(dir / "audio", ec);
        break;
      default: break;
    }
    return children;
  }

  /// Returns false when interrupted.
  bool run_method(method_id m, int run, int position) {
    const fs::path dir = method_dir(m);
    std::error_code ec;
    fs::remove_all(dir, ec);
    const auto children = children_of(m, run);
    auto& st = r_.state[m];
    if (st.commands.empty())
      for (const auto& c : children) st.commands.push_back(c.argv);

    double wall = 0;
    bool interrupted = false;
    run_record rec;
    rec.run = run;
    rec.position = position;
    rec.load_before = load1();
    const auto results = run_children(children, r_.opt.timeout_s, wall, interrupted);
    if (interrupted) return false;

    rec.ok = true;
    rec.wall_s = wall;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& res = results[i];
      rec.user_s += res.user_s;
      rec.sys_s += res.sys_s;
      rec.rss_sum_mb += res.max_rss_mb;
      rec.rss_max_mb = std::max(rec.rss_max_mb, res.max_rss_mb);
      if (!res.ok()) {
        rec.ok = false;
        if (!rec.error.empty()) rec.error += "; ";
        rec.error += fmt::format("process {}: {} (see {})", i + 1, res.error, children[i].stderr_path);
      }
    }
    if (rec.ok) {
      for (const auto& rung : ladder) {
        std::int64_t bytes = 0;
        if (rung_media(dir / rung.name, bytes).empty()) {
          rec.ok = false;
          rec.error += fmt::format("no media files in {}; ", (dir / rung.name).string());
        }
        rec.rung_bytes[rung.name] = bytes;
      }
    }
    if (m == spool_m || m == baseline_m) {
      boost::system::error_code jec;
      auto v = json::parse(read_text(children[0].stdout_path), jec);
      if (!jec) rec.reported = std::move(v);
    }
    st.last_run_ok = rec.ok;
    fmt::print(stderr, "run {}/{} #{} {:<32} wall {:7.2f} s  cpu {:7.2f} s  util {:4.2f}  rss {:7.1f} MB{}  {}\n", run,
               r_.opt.runs, position, methods[m].label, rec.wall_s, rec.cpu_s(), rec.util(), rec.rss_max_mb,
               results.size() > 1 ? fmt::format(" (sum {:.1f})", rec.rss_sum_mb) : "",
               rec.ok ? "ok" : "FAILED: " + rec.error);
    st.runs.push_back(std::move(rec));
    return true;
  }

  void score_ssim() {
    std::vector<ssim_job> jobs;
    std::vector<std::pair<int, std::string>> keys;
    for (int m = 0; m < method_count; ++m) {
      if (!r_.opt.on(m) || !r_.state[m].last_run_ok) continue;
      for (const auto& rung : ladder) {
        std::int64_t bytes = 0;
        jobs.push_back({fmt::format("{}/{}", methods[m].key, rung.name),
                        rung_media(method_dir(static_cast<method_id>(m)) / rung.name, bytes)});
        keys.emplace_back(m, rung.name);
      }
    }
    if (jobs.empty()) return;
    fmt::print(stderr, "computing SSIM of {} renditions against the source (untimed)...\n", jobs.size());
    const auto t0 = std::chrono::steady_clock::now();
    std::string error;
    const auto scores = compute_ssim(r_.source.path, jobs, out_.string(), r_.source.frames, error);
    r_.ssim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!error.empty()) fmt::print(stderr, "spool-bench-ladder: SSIM: {}\n", error);
    for (std::size_t i = 0; i < scores.size() && i < keys.size(); ++i) {
      r_.state[keys[i].first].ssim[keys[i].second] = scores[i];
      if (!scores[i].error.empty())
        fmt::print(stderr, "spool-bench-ladder: SSIM of {}: {}\n", scores[i].label, scores[i].error);
    }
    fmt::print(stderr, "SSIM done in {:.1f} s\n", r_.ssim_s);
  }

  int write_report() {
    const auto& o = r_.opt;
    const auto report = make_report(r_);
    std::error_code ec;
    for (const auto& p : {o.json_path, o.markdown_path})
      if (fs::path(p).has_parent_path()) fs::create_directories(fs::path(p).parent_path(), ec);
    {
      std::ofstream j(o.json_path, std::ios::trunc);
      j << report.json << "\n";
      if (!j) return fail("cannot write " + o.json_path);
    }
    {
      std::ofstream md(o.markdown_path, std::ios::trunc);
      md << report.markdown;
      if (!md) return fail("cannot write " + o.markdown_path);
    }
    fmt::print("{}", report.markdown);
    std::fflush(stdout);
    fmt::print(stderr, "wrote {} and {}\n", o.json_path, o.markdown_path);
    return report.failures ? 1 : 0;
  }

  ladder_results r_;
  fs::path out_, logs_;
};

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (auto e = parse_options(argc, argv, o); !e.empty()) {
    fmt::print(stderr, "spool-bench-ladder: {}\n{}", e, usage);
    return 2;
  }
  av_log_set_level(AV_LOG_ERROR);
  return bench(std::move(o)).run();
}
