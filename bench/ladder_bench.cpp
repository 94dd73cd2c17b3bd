// spool-bench-ladder: the default 4-rung ladder encoded three ways, interleaved per run:
//   A. spool transcode (the CLI as a black box),
//   B. one ffmpeg process with a split=4 filter graph (the strongest single-process CLI form),
//   C. four concurrent ffmpeg processes, one per rung, each decoding the input itself.
// Reports medians of wall time, CPU time, CPU utilisation and peak RSS, bytes and SSIM per rung,
// and spool's ratios against B side by side, as Markdown (also on stdout) and JSON.
#include "args.hpp"
#include "av_util.hpp"
#include "lecture_source.hpp"
#include "process.hpp"
#include "ssim.hpp"

extern "C" {
#include <libavfilter/avfilter.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/log.h>
#include <libswresample/swresample.h>
#include <libswscale/swscale.h>
}

#include <boost/json.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace spool_bench;

// ---------------------------------------------------------------------------------------------
// What is compared: spool's default "hls-ladder" preset, spelled out for ffmpeg.

struct rung_def {
  const char* name;
  int height;
  int maxrate_k;
  int bufsize_k;
};
constexpr rung_def ladder[] = {
    {"1080p", 1080, 5000, 10000},
    {"720p", 720, 3000, 6000},
    {"480p", 480, 1500, 3000},
    {"360p", 360, 800, 1600},
};
constexpr int rung_count = static_cast<int>(std::size(ladder));
constexpr int crf = 23;
constexpr const char* x264_preset = "veryfast";
constexpr int fps = 30;
constexpr int gop_frames = 60;  // 2 s at 30 fps
constexpr double segment_s = 6;

// The issue's targets.
constexpr double target_wall_ratio = 0.85;
constexpr double target_rss_mb = 300;
constexpr double target_bytes_tolerance = 0.05;
constexpr double target_ssim_delta = 0.003;

enum method_id { spool_m = 0, single_m = 1, per_rung_m = 2, method_count = 3 };

struct method_info {
  const char* key;    // JSON key and output directory
  const char* label;  // table label
};
constexpr method_info methods[method_count] = {
    {"spool", "A spool"},
    {"ffmpeg_single", "B ffmpeg, 1 process (split=4)"},
    {"ffmpeg_per_rung", "C ffmpeg, 4 processes"},
};

// ---------------------------------------------------------------------------------------------

struct options {
  std::string spool;
  std::string ffmpeg = "/usr/bin/ffmpeg";
  double duration_s = 120;
  int runs = 3;
  std::string out = "bench-out";
  std::string json_path, markdown_path;
  std::string source;  // use this file instead of generating the lecture clip
  std::vector<std::string> spool_args;  // appended to `spool transcode SRC OUTDIR`
  double timeout_s = 0;
  bool ssim = true;
  bool enabled[method_count] = {true, true, true};
};

constexpr const char* usage =
    "usage: spool-bench-ladder --spool PATH [--duration 120] [--runs 3] [--out bench-out]\n"
    "                          [--ffmpeg /usr/bin/ffmpeg] [--json FILE] [--markdown FILE]\n"
    "                          [--timeout SECONDS] [--source FILE] [--no-ssim] [--spool-args \"ARGS\"]\n"
    "                          [--methods spool,ffmpeg_single,ffmpeg_per_rung]\n";

struct run_record {
  int run = 0;
  bool ok = false;
  std::string error;
  double wall_s = 0, user_s = 0, sys_s = 0;
  double rss_max_mb = 0;  // the largest single process
  double rss_sum_mb = 0;  // summed over concurrent processes
  std::map<std::string, std::int64_t> rung_bytes;
  std::vector<std::string> logs;
  double load_before = 0;  // 1-minute load average when the run started
  json::value reported;  // what the tool said about itself (spool's result JSON), if anything

  double cpu_s() const { return user_s + sys_s; }
  double util() const { return wall_s > 0 ? cpu_s() / wall_s : 0; }
};

struct method_state {
  std::vector<std::vector<std::string>> commands;
  std::vector<run_record> runs;
  bool last_run_ok = false;
  std::map<std::string, ssim_score> ssim;
};

std::optional<double> median(std::vector<double> v) {
  if (v.empty()) return std::nullopt;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+=./:,@") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string join_command(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + shell_quote(a);
  return s;
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

// ---------------------------------------------------------------------------------------------
// The three command lines.

std::vector<std::string> x264_args() {
  return {"-c:v", "libx264", "-profile:v", "high", "-preset", x264_preset, "-crf", std::to_string(crf),
          "-pix_fmt", "yuv420p", "-g", std::to_string(gop_frames), "-keyint_min", std::to_string(gop_frames),
          "-sc_threshold", "0", "-force_key_frames", "expr:gte(t,n_forced*2)"};
}

std::vector<std::string> aac_args() { return {"-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"}; }

std::vector<std::string> hls_args(const fs::path& dir_pattern) {
  return {"-f", "hls", "-hls_time", fmt::format("{}", segment_s), "-hls_playlist_type", "vod",
          "-hls_segment_type", "fmp4", "-hls_fmp4_init_filename", "init.mp4", "-hls_segment_filename",
          (dir_pattern / "seg_%05d.m4s").string()};
}

void append(std::vector<std::string>& to, const std::vector<std::string>& more) {
  to.insert(to.end(), more.begin(), more.end());
}

std::vector<std::string> ffmpeg_head(const options& o, const std::string& src) {
  return {o.ffmpeg, "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning", "-y", "-i", src};
}

std::vector<std::string> single_process_command(const options& o, const std::string& src, const fs::path& out) {
  auto a = ffmpeg_head(o, src);
  std::string graph = fmt::format("[0:v]split={}", rung_count);
  for (int i = 0; i < rung_count; ++i) graph += fmt::format("[s{}]", i);
  for (int i = 0; i < rung_count; ++i)
    graph += fmt::format(";[s{}]scale=-2:{}:flags=bicubic,fps={}[v{}]", i, ladder[i].height, fps, i);
  append(a, {"-filter_complex", graph});
  for (int i = 0; i < rung_count; ++i) append(a, {"-map", fmt::format("[v{}]", i)});
  append(a, {"-map", "0:a:0"});
  append(a, x264_args());
  for (int i = 0; i < rung_count; ++i)
    append(a, {fmt::format("-maxrate:v:{}", i), fmt::format("{}k", ladder[i].maxrate_k),
               fmt::format("-bufsize:v:{}", i), fmt::format("{}k", ladder[i].bufsize_k)});
  append(a, aac_args());
  append(a, hls_args(out / "%v"));
  std::string map;
  for (int i = 0; i < rung_count; ++i) map += fmt::format("v:{},name:{},agroup:aud ", i, ladder[i].name);
  map += "a:0,name:audio,agroup:aud";
  append(a, {"-master_pl_name", "master.m3u8", "-var_stream_map", map, (out / "%v" / "index.m3u8").string()});
  return a;
}

constexpr int audio_rung = rung_count - 1;  // C: the cheapest process also encodes the audio

std::vector<std::string> per_rung_command(const options& o, const std::string& src, const fs::path& out, int i) {
  auto a = ffmpeg_head(o, src);
  append(a, {"-map", "0:v:0", "-vf", fmt::format("scale=-2:{}:flags=bicubic,fps={}", ladder[i].height, fps)});
  append(a, x264_args());
  append(a, {"-maxrate", fmt::format("{}k", ladder[i].maxrate_k), "-bufsize", fmt::format("{}k", ladder[i].bufsize_k),
             "-an"});
  append(a, hls_args(out / ladder[i].name));
  a.push_back((out / ladder[i].name / "index.m3u8").string());
  if (i == audio_rung) {
    append(a, {"-map", "0:a:0", "-vn"});
    append(a, aac_args());
    append(a, hls_args(out / "audio"));
    a.push_back((out / "audio" / "index.m3u8").string());
  }
  return a;
}

// ---------------------------------------------------------------------------------------------

struct machine_info {
  long nproc = 0;
  std::string cpu_model;
  double mem_gb = 0;
  std::string load_before, load_after;
  std::string ffmpeg_libs;
  std::string ffmpeg_cli;
  std::string spool_version;
};

std::string lib_version(const char* name, unsigned v) {
  return fmt::format("{} {}.{}.{}", name, AV_VERSION_MAJOR(v), AV_VERSION_MINOR(v), AV_VERSION_MICRO(v));
}

std::string loadavg() {
  std::string s = read_file("/proc/loadavg");
  std::istringstream in(s);
  std::string a, b, c;
  in >> a >> b >> c;
  return a.empty() ? "" : a + " " + b + " " + c;
}

machine_info probe_machine(const options& o, const fs::path& scratch) {
  machine_info m;
  m.nproc = sysconf(_SC_NPROCESSORS_ONLN);
  std::istringstream cpu(read_file("/proc/cpuinfo"));
  for (std::string line; std::getline(cpu, line);) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) m.cpu_model = line.substr(line.find_first_not_of(' ', colon + 1));
      break;
    }
  }
  std::istringstream mem(read_file("/proc/meminfo"));
  for (std::string line; std::getline(mem, line);) {
    if (line.rfind("MemTotal:", 0) == 0) {
      m.mem_gb = std::strtod(line.c_str() + 9, nullptr) / (1024.0 * 1024.0);
      break;
    }
  }
  m.ffmpeg_libs = fmt::format("FFmpeg {}: {}, {}, {}, {}, {}, {}", av_version_info(),
                              lib_version("libavutil", avutil_version()), lib_version("libavcodec", avcodec_version()),
                              lib_version("libavformat", avformat_version()),
                              lib_version("libavfilter", avfilter_version()), lib_version("libswscale", swscale_version()),
                              lib_version("libswresample", swresample_version()));
  m.ffmpeg_cli = first_line(capture_output({o.ffmpeg, "-hide_banner", "-version"}, (scratch / "ffmpeg-version.txt").string()));
  if (o.enabled[spool_m])
    m.spool_version = first_line(capture_output({o.spool, "--version"}, (scratch / "spool-version.txt").string()));
  m.load_before = loadavg();
  return m;
}

// ---------------------------------------------------------------------------------------------

using spool_bench::parse_number;

/// Returns an error message, or an empty string.
std::string parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto str = [&](std::string& target) {
      if (i + 1 >= argc) return false;
      target = argv[++i];
      return true;
    };
    const auto num = [&](auto& target) { return i + 1 < argc && parse_number(argv[++i], target); };
    bool ok = true;
    if (a == "--spool") ok = str(o.spool);
    else if (a == "--ffmpeg") ok = str(o.ffmpeg);
    else if (a == "--out") ok = str(o.out);
    else if (a == "--json") ok = str(o.json_path);
    else if (a == "--markdown") ok = str(o.markdown_path);
    else if (a == "--source") ok = str(o.source);
    else if (a == "--duration") ok = num(o.duration_s) && o.duration_s > 0 && o.duration_s <= 3600;
    else if (a == "--runs") ok = num(o.runs) && o.runs >= 1 && o.runs <= 50;
    else if (a == "--timeout") ok = num(o.timeout_s) && o.timeout_s > 0;
    else if (a == "--no-ssim") o.ssim = false;
    else if (a == "--spool-args") {
      std::string list;
      ok = str(list);
      std::istringstream in(list);
      for (std::string item; in >> item;) o.spool_args.push_back(item);
    }
    else if (a == "--methods") {
      std::string list;
      ok = str(list);
      std::fill(std::begin(o.enabled), std::end(o.enabled), false);
      std::istringstream in(list);
      for (std::string item; ok && std::getline(in, item, ',');) {
        bool found = false;
        for (int m = 0; m < method_count; ++m)
          if (item == methods[m].key || item == std::string(1, static_cast<char>('A' + m)) ||
              item == std::string(1, static_cast<char>('a' + m))) {
            o.enabled[m] = found = true;
          }
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
  if (o.enabled[spool_m] && o.spool.empty()) return "--spool PATH is required (or leave spool out with --methods)";
  if (o.json_path.empty()) o.json_path = (fs::path(o.out) / "ladder.json").string();
  if (o.markdown_path.empty()) o.markdown_path = (fs::path(o.out) / "ladder.md").string();
  if (o.timeout_s <= 0) o.timeout_s = 120 + 20 * o.duration_s;
  return {};
}

std::string fmt_opt(const std::optional<double>& v, const char* spec = "{:.2f}") {
  return v ? fmt::format(fmt::runtime(spec), *v) : "–";
}

json::value num_or_null(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

// ---------------------------------------------------------------------------------------------

class bench {
 public:
  explicit bench(options o) : o_(std::move(o)) {}

  int run() {
    std::error_code ec;
    out_ = fs::absolute(o_.out);
    logs_ = out_ / "logs";
    fs::create_directories(logs_, ec);
    if (ec) return fail("cannot create " + logs_.string() + ": " + ec.message());
    if (o_.enabled[spool_m]) {
      if (o_.spool.find('/') != std::string::npos) o_.spool = fs::absolute(o_.spool).string();
      if (access(o_.spool.c_str(), X_OK) != 0) return fail("spool is not an executable: " + o_.spool);
    }
    if (o_.ffmpeg.find('/') != std::string::npos && access(o_.ffmpeg.c_str(), X_OK) != 0)
      return fail("ffmpeg is not an executable: " + o_.ffmpeg);

    machine_ = probe_machine(o_, logs_);
    if (machine_.ffmpeg_cli.empty()) return fail("cannot run " + o_.ffmpeg + " -version");
    if (int rc = prepare_source(); rc != 0) return rc;

    for (int r = 1; r <= o_.runs; ++r) {
      for (int m = 0; m < method_count; ++m) {
        if (!o_.enabled[m]) continue;
        if (!run_method(static_cast<method_id>(m), r)) {
          fmt::print(stderr, "spool-bench-ladder: interrupted\n");
          return 130;
        }
      }
    }
    machine_.load_after = loadavg();
    if (o_.ssim) score_ssim();
    return report();
  }

 private:
  int fail(const std::string& why) {
    fmt::print(stderr, "spool-bench-ladder: {}\n", why);
    return 2;
  }

  int prepare_source() {
    if (!o_.source.empty()) {
      source_ = fs::absolute(o_.source).string();
      source_note_ = "given with --source";
      std::error_code ec;
      if (!fs::is_regular_file(source_, ec)) return fail("no such source file: " + source_);
      return 0;
    }
    spec_.duration_s = o_.duration_s;
    source_ = (out_ / fmt::format("lecture-{}p{}-{}s.mp4", spec_.height, spec_.fps, o_.duration_s)).string();
    fmt::print(stderr, "generating the {:g} s {}x{}@{} lecture source: {}\n", spec_.duration_s, spec_.width,
               spec_.height, spec_.fps, source_);
    const auto t0 = std::chrono::steady_clock::now();
    if (auto e = make_lecture(source_, spec_); !e.empty()) return fail("cannot make the source: " + e);
    source_gen_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    source_note_ = fmt::format("synthetic lecture (slides every {:g} s, camera inset, speech-like audio), "
                               "libx264 crf {} {}, AAC 160k",
                               spec_.slide_s, spec_.crf, spec_.preset);
    return 0;
  }

  fs::path method_dir(method_id m) const { return out_ / methods[m].key; }

  /// Returns false when interrupted.
  bool run_method(method_id m, int r) {
    const fs::path dir = method_dir(m);
    std::error_code ec;
    fs::remove_all(dir, ec);
    std::vector<child_spec> children;
    const auto log = [&](const std::string& suffix) { return (logs_ / fmt::format("{}-run{}{}", methods[m].key, r, suffix)).string(); };
    switch (m) {
      case spool_m:
        // spool creates the directory itself and requires that it does not exist.
        {
          std::vector<std::string> argv{o_.spool, "transcode", source_, dir.string()};
          append(argv, o_.spool_args);
          children.push_back({std::move(argv), log(".stdout.json"), log(".stderr.txt")});
        }
        break;
      case single_m:
        for (const auto& rung : ladder) fs::create_directories(dir / rung.name, ec);
        fs::create_directories(dir / "audio", ec);
        children.push_back({single_process_command(o_, source_, dir), log(".stdout.txt"), log(".stderr.txt")});
        break;
      case per_rung_m:
        for (int i = 0; i < rung_count; ++i) {
          fs::create_directories(dir / ladder[i].name, ec);
          children.push_back({per_rung_command(o_, source_, dir, i), log(fmt::format("-{}.stdout.txt", ladder[i].name)),
                              log(fmt::format("-{}.stderr.txt", ladder[i].name))});
        }
        fs::create_directories(dir / "audio", ec);
        break;
      default:
        break;
    }
    auto& st = state_[m];
    if (st.commands.empty())
      for (const auto& c : children) st.commands.push_back(c.argv);

    double wall = 0;
    bool interrupted = false;
    const double load = std::strtod(loadavg().c_str(), nullptr);
    const auto results = run_children(children, o_.timeout_s, wall, interrupted);
    if (interrupted) return false;

    run_record rec;
    rec.run = r;
    rec.ok = true;
    rec.wall_s = wall;
    rec.load_before = load;
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& res = results[i];
      rec.user_s += res.user_s;
      rec.sys_s += res.sys_s;
      rec.rss_sum_mb += res.max_rss_mb;
      rec.rss_max_mb = std::max(rec.rss_max_mb, res.max_rss_mb);
      rec.logs.push_back(children[i].stderr_path);
      if (!res.ok()) {
        rec.ok = false;
        if (!rec.error.empty()) rec.error += "; ";
        rec.error += fmt::format("process {}: {} (see {})", i + 1, res.error, children[i].stderr_path);
      }
    }
    if (rec.ok) {
      for (const auto& rung : ladder) {
        std::int64_t bytes = 0;
        const auto files = rung_media(dir / rung.name, bytes);
        if (files.empty()) {
          rec.ok = false;
          rec.error += fmt::format("no media files in {}; ", (dir / rung.name).string());
        }
        rec.rung_bytes[rung.name] = bytes;
      }
    }
    if (m == spool_m) {
      boost::system::error_code jec;
      auto v = json::parse(read_file(children[0].stdout_path), jec);
      if (!jec) rec.reported = std::move(v);
    }
    st.last_run_ok = rec.ok;
    fmt::print(stderr, "run {}/{}  {:<32} wall {:7.2f} s  cpu {:7.2f} s  util {:4.2f}  rss {:7.1f} MB{}  {}\n", r,
               o_.runs, methods[m].label, rec.wall_s, rec.cpu_s(), rec.util(), rec.rss_max_mb,
               results.size() > 1 ? fmt::format(" (sum {:.1f})", rec.rss_sum_mb) : "",
               rec.ok ? "ok" : "FAILED: " + rec.error);
    st.runs.push_back(std::move(rec));
    return true;
  }

  void score_ssim() {
    std::vector<ssim_job> jobs;
    std::vector<std::pair<int, std::string>> keys;
    for (int m = 0; m < method_count; ++m) {
      if (!o_.enabled[m] || !state_[m].last_run_ok) continue;
      for (const auto& rung : ladder) {
        std::int64_t bytes = 0;
        jobs.push_back({fmt::format("{}/{}", methods[m].key, rung.name), rung_media(method_dir(static_cast<method_id>(m)) / rung.name, bytes)});
        keys.emplace_back(m, rung.name);
      }
    }
    if (jobs.empty()) return;
    fmt::print(stderr, "computing SSIM of {} renditions against the source (untimed)...\n", jobs.size());
    const auto t0 = std::chrono::steady_clock::now();
    std::string error;
    const auto scores = compute_ssim(source_, jobs, out_.string(), source_frames_, error);
    ssim_s_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!error.empty()) fmt::print(stderr, "spool-bench-ladder: SSIM: {}\n", error);
    for (std::size_t i = 0; i < scores.size() && i < keys.size(); ++i) {
      state_[keys[i].first].ssim[keys[i].second] = scores[i];
      if (!scores[i].error.empty())
        fmt::print(stderr, "spool-bench-ladder: SSIM of {}: {}\n", scores[i].label, scores[i].error);
    }
    fmt::print(stderr, "SSIM done in {:.1f} s\n", ssim_s_);
  }

  // --- figures ---

  template <class F>
  std::optional<double> med(int m, F f) const {
    std::vector<double> v;
    for (const auto& r : state_[m].runs)
      if (r.ok) v.push_back(f(r));
    return median(std::move(v));
  }

  /// Median over runs of a per-run ratio A/B: runs are interleaved, so each pair shares the noise.
  template <class F>
  std::optional<double> paired_ratio(int a, int b, F f) const {
    std::vector<double> v;
    for (const auto& ra : state_[a].runs)
      for (const auto& rb : state_[b].runs)
        if (ra.run == rb.run && ra.ok && rb.ok && f(rb) > 0) v.push_back(f(ra) / f(rb));
    return median(std::move(v));
  }

  std::optional<double> rung_bytes(int m, const std::string& rung) const {
    return med(m, [&](const run_record& r) {
      auto it = r.rung_bytes.find(rung);
      return it == r.rung_bytes.end() ? 0.0 : static_cast<double>(it->second);
    });
  }

  std::optional<double> ssim(int m, const std::string& rung) const {
    auto it = state_[m].ssim.find(rung);
    if (it == state_[m].ssim.end() || it->second.all < 0) return std::nullopt;
    return it->second.all;
  }

  static std::string verdict(const std::optional<double>& v, bool ok) { return v ? (ok ? "met" : "**missed**") : "n/a"; }

  bool any(int m) const { return o_.enabled[m]; }

  int report() {
    const auto wall = [](const run_record& r) { return r.wall_s; };
    const auto cpu = [](const run_record& r) { return r.cpu_s(); };
    const auto util = [](const run_record& r) { return r.util(); };
    const auto rss_max = [](const run_record& r) { return r.rss_max_mb; };
    const auto rss_sum = [](const run_record& r) { return r.rss_sum_mb; };

    std::string md;
    md += "# spool ladder benchmark\n\n";
    md += fmt::format("- machine: {} CPUs ({}), {:.1f} GB RAM; load average before {} / after {}\n", machine_.nproc,
                      machine_.cpu_model.empty() ? "unknown CPU" : machine_.cpu_model, machine_.mem_gb,
                      machine_.load_before, machine_.load_after);
    md += fmt::format("- libraries: {}\n", machine_.ffmpeg_libs);
    md += fmt::format("- ffmpeg CLI: {} ({})\n", machine_.ffmpeg_cli, o_.ffmpeg);
    if (any(spool_m))
      md += fmt::format("- spool: {} ({})\n", machine_.spool_version.empty() ? "version unknown" : machine_.spool_version,
                        o_.spool);
    md += fmt::format("- source: {} — {}; {} frames\n", fs::path(source_).filename().string(), source_note_,
                      source_frames_ > 0 ? std::to_string(source_frames_) : "?");
    md += fmt::format("- ladder: {}; libx264 high {} crf {}, GOP {} frames (2 s) closed grid, {} s segments; AAC-LC 128k "
                      "48 kHz stereo once\n",
                      [] {
                        std::string s;
                        for (const auto& r : ladder)
                          s += fmt::format("{}{} {}k/{}k", s.empty() ? "" : ", ", r.name, r.maxrate_k, r.bufsize_k);
                        return s;
                      }(),
                      x264_preset, crf, gop_frames, segment_s);
    if (any(spool_m))
      md += fmt::format("- A runs `spool transcode SRC OUTDIR{}` (its default preset); the exact commands are in the JSON\n",
                        o_.spool_args.empty() ? "" : " " + join_command(o_.spool_args));
    md += fmt::format("- {} run(s), interleaved A,B,C per run; figures are medians over the successful runs; "
                      "SSIM is untimed, from the last run's output\n\n",
                      o_.runs);

    md += "| method | runs ok | wall s | CPU s | CPU util (cores) | peak RSS MB |\n";
    md += "|---|---:|---:|---:|---:|---:|\n";
    for (int m = 0; m < method_count; ++m) {
      if (!any(m)) continue;
      int ok = 0;
      for (const auto& r : state_[m].runs) ok += r.ok;
      std::string rss = fmt_opt(med(m, rss_max), "{:.0f}");
      if (m == per_rung_m) rss = fmt::format("sum {} / max {}", fmt_opt(med(m, rss_sum), "{:.0f}"), rss);
      md += fmt::format("| {} | {}/{} | {} | {} | {} | {} |\n", methods[m].label, ok, state_[m].runs.size(),
                        fmt_opt(med(m, wall)), fmt_opt(med(m, cpu)), fmt_opt(med(m, util)), rss);
    }

    md += "\n| rung | bytes A | bytes B | bytes C | A/B bytes | SSIM A | SSIM B | SSIM C | ΔSSIM A−B |\n";
    md += "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    bool bytes_all_ok = true, ssim_all_ok = true, bytes_known = true, ssim_known = true;
    for (const auto& rung : ladder) {
      const auto ba = any(spool_m) ? rung_bytes(spool_m, rung.name) : std::nullopt;
      const auto bb = any(single_m) ? rung_bytes(single_m, rung.name) : std::nullopt;
      const auto bc = any(per_rung_m) ? rung_bytes(per_rung_m, rung.name) : std::nullopt;
      const auto sa = ssim(spool_m, rung.name), sb = ssim(single_m, rung.name), sc = ssim(per_rung_m, rung.name);
      std::optional<double> ratio, delta;
      if (ba && bb && *bb > 0) ratio = *ba / *bb;
      if (sa && sb) delta = *sa - *sb;
      if (ratio) bytes_all_ok = bytes_all_ok && std::abs(*ratio - 1) <= target_bytes_tolerance;
      else bytes_known = false;
      if (delta) ssim_all_ok = ssim_all_ok && std::abs(*delta) <= target_ssim_delta;
      else ssim_known = false;
      md += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", rung.name, fmt_opt(ba, "{:.0f}"),
                        fmt_opt(bb, "{:.0f}"), fmt_opt(bc, "{:.0f}"), fmt_opt(ratio, "{:.3f}"), fmt_opt(sa, "{:.5f}"),
                        fmt_opt(sb, "{:.5f}"), fmt_opt(sc, "{:.5f}"), fmt_opt(delta, "{:+.5f}"));
    }

    const auto wall_ab = paired_ratio(spool_m, single_m, wall);
    const auto wall_ac = paired_ratio(spool_m, per_rung_m, wall);
    const auto wall_cb = paired_ratio(per_rung_m, single_m, wall);
    const auto cpu_ab = paired_ratio(spool_m, single_m, cpu);
    const auto rss_ab = paired_ratio(spool_m, single_m, rss_max);
    const auto rss_a = any(spool_m) ? med(spool_m, rss_max) : std::nullopt;

    md += "\n| ratio (median of per-run ratios) | value | target | verdict |\n";
    md += "|---|---:|---:|---|\n";
    md += fmt::format("| spool wall / B wall | {} | ≤ {:.2f} | {} |\n", fmt_opt(wall_ab, "{:.3f}"), target_wall_ratio,
                      verdict(wall_ab, wall_ab && *wall_ab <= target_wall_ratio));
    md += fmt::format("| spool wall / C wall | {} | – | |\n", fmt_opt(wall_ac, "{:.3f}"));
    md += fmt::format("| C wall / B wall | {} | – | |\n", fmt_opt(wall_cb, "{:.3f}"));
    md += fmt::format("| spool CPU / B CPU | {} | – | |\n", fmt_opt(cpu_ab, "{:.3f}"));
    md += fmt::format("| spool RSS / B RSS | {} | – | |\n", fmt_opt(rss_ab, "{:.3f}"));
    md += fmt::format("| spool peak RSS MB | {} | ≤ {:.0f} | {} |\n", fmt_opt(rss_a, "{:.0f}"), target_rss_mb,
                      verdict(rss_a, rss_a && *rss_a <= target_rss_mb));
    md += fmt::format("| bytes A/B, every rung | see above | 1 ± {:.2f} | {} |\n", target_bytes_tolerance,
                      bytes_known ? (bytes_all_ok ? "met" : "**missed**") : "n/a");
    md += fmt::format("| ΔSSIM A−B, every rung | see above | ± {:.3f} | {} |\n", target_ssim_delta,
                      ssim_known ? (ssim_all_ok ? "met" : "**missed**") : "n/a");

    md += "\nPer-run wall seconds (1-minute load average at the start):";
    for (int m = 0; m < method_count; ++m) {
      if (!any(m)) continue;
      md += fmt::format(" {}:", std::string(methods[m].label).substr(0, 1));
      for (const auto& r : state_[m].runs)
        md += r.ok ? fmt::format(" {:.2f} ({:.1f})", r.wall_s, r.load_before) : std::string(" failed");
      md += ";";
    }
    md += "\n";
    bool failures = false;
    std::string notes;
    for (int m = 0; m < method_count; ++m)
      for (const auto& r : state_[m].runs)
        if (!r.ok) {
          failures = true;
          notes += fmt::format("- {} run {} failed: {}\n", methods[m].label, r.run, r.error);
        }
    for (int m = 0; m < method_count; ++m)
      for (const auto& [rung, s] : state_[m].ssim) {
        if (!s.error.empty())
          notes += fmt::format("- SSIM {} {}: {}\n", methods[m].key, rung, s.error);
        else if (s.frames != s.rendition_frames || s.frames != source_frames_)
          notes += fmt::format("- SSIM {} {}: frame counts differ (source {}, rendition {}, compared {})\n",
                               methods[m].key, rung, source_frames_, s.rendition_frames, s.frames);
      }
    if (!notes.empty()) md += "\nNotes:\n" + notes;

    // --- JSON ---
    json::object doc;
    doc["benchmark"] = "spool-bench-ladder";
    doc["machine"] = json::object{{"nproc", machine_.nproc},
                                  {"cpu_model", machine_.cpu_model},
                                  {"mem_gb", machine_.mem_gb},
                                  {"load_before", machine_.load_before},
                                  {"load_after", machine_.load_after},
                                  {"ffmpeg_libraries", machine_.ffmpeg_libs},
                                  {"ffmpeg_cli", machine_.ffmpeg_cli},
                                  {"spool_version", machine_.spool_version}};
    doc["source"] = json::object{{"path", source_},
                                 {"note", source_note_},
                                 {"duration_s", o_.source.empty() ? json::value(spec_.duration_s) : json::value(nullptr)},
                                 {"frames", source_frames_},
                                 {"generation_s", source_gen_s_}};
    json::array rungs_j;
    for (const auto& r : ladder)
      rungs_j.push_back(json::object{{"name", r.name}, {"height", r.height}, {"maxrate_kbps", r.maxrate_k},
                                     {"bufsize_kbps", r.bufsize_k}});
    doc["settings"] = json::object{{"runs", o_.runs},
                                   {"timeout_s", o_.timeout_s},
                                   {"codec", "libx264"},
                                   {"profile", "high"},
                                   {"preset", x264_preset},
                                   {"crf", crf},
                                   {"gop_frames", gop_frames},
                                   {"segment_s", segment_s},
                                   {"audio", "aac 128k 48000 Hz stereo"},
                                   {"rungs", rungs_j}};
    json::object methods_j;
    for (int m = 0; m < method_count; ++m) {
      if (!any(m)) continue;
      const auto& st = state_[m];
      json::object mj;
      mj["label"] = methods[m].label;
      json::array cmds;
      for (const auto& c : st.commands) cmds.push_back(json::value(join_command(c)));
      mj["commands"] = cmds;
      json::array runs_j;
      for (const auto& r : st.runs) {
        json::object rb;
        for (const auto& [k, v] : r.rung_bytes) rb[k] = v;
        json::object rj{{"run", r.run},         {"ok", r.ok},           {"wall_s", r.wall_s},
                        {"cpu_s", r.cpu_s()},   {"user_s", r.user_s},   {"sys_s", r.sys_s},
                        {"cpu_util", r.util()}, {"peak_rss_mb", r.rss_max_mb}, {"peak_rss_sum_mb", r.rss_sum_mb},
                        {"load_before", r.load_before},
                        {"rung_bytes", rb}};
        if (!r.ok) rj["error"] = r.error;
        if (!r.reported.is_null()) rj["reported"] = r.reported;
        runs_j.push_back(rj);
      }
      mj["runs"] = runs_j;
      mj["median"] = json::object{{"wall_s", num_or_null(med(m, wall))},
                                  {"cpu_s", num_or_null(med(m, cpu))},
                                  {"cpu_util", num_or_null(med(m, util))},
                                  {"peak_rss_mb", num_or_null(med(m, rss_max))},
                                  {"peak_rss_sum_mb", num_or_null(med(m, rss_sum))}};
      json::object rj;
      for (const auto& rung : ladder) {
        json::object one{{"bytes", num_or_null(rung_bytes(m, rung.name))}};
        if (auto it = st.ssim.find(rung.name); it != st.ssim.end()) {
          const auto& s = it->second;
          one["ssim"] = s.all >= 0 ? json::value(s.all) : json::value(nullptr);
          one["ssim_y"] = s.y >= 0 ? json::value(s.y) : json::value(nullptr);
          one["ssim_min"] = s.min_all >= 0 ? json::value(s.min_all) : json::value(nullptr);
          one["frames_compared"] = s.frames;
          one["rendition_frames"] = s.rendition_frames;
          one["width"] = s.width;
          one["height"] = s.height;
          if (!s.error.empty()) one["ssim_error"] = s.error;
        }
        rj[rung.name] = one;
      }
      mj["rungs"] = rj;
      methods_j[methods[m].key] = mj;
    }
    doc["methods"] = methods_j;
    json::object per_rung_ratios;
    for (const auto& rung : ladder) {
      const auto ba = rung_bytes(spool_m, rung.name), bb = rung_bytes(single_m, rung.name);
      const auto sa = ssim(spool_m, rung.name), sb = ssim(single_m, rung.name);
      per_rung_ratios[rung.name] =
          json::object{{"bytes_ratio", num_or_null(ba && bb && *bb > 0 ? std::optional<double>(*ba / *bb) : std::nullopt)},
                       {"ssim_delta", num_or_null(sa && sb ? std::optional<double>(*sa - *sb) : std::nullopt)}};
    }
    doc["ratios"] = json::object{{"spool_wall_over_single", num_or_null(wall_ab)},
                                 {"spool_wall_over_per_rung", num_or_null(wall_ac)},
                                 {"per_rung_wall_over_single", num_or_null(wall_cb)},
                                 {"spool_cpu_over_single", num_or_null(cpu_ab)},
                                 {"spool_rss_over_single", num_or_null(rss_ab)},
                                 {"rungs", per_rung_ratios}};
    doc["targets"] = json::object{
        {"spool_wall_over_single_max", target_wall_ratio},
        {"spool_peak_rss_mb_max", target_rss_mb},
        {"bytes_ratio_tolerance", target_bytes_tolerance},
        {"ssim_delta_max", target_ssim_delta},
        {"wall_met", wall_ab ? json::value(*wall_ab <= target_wall_ratio) : json::value(nullptr)},
        {"rss_met", rss_a ? json::value(*rss_a <= target_rss_mb) : json::value(nullptr)},
        {"bytes_met", bytes_known ? json::value(bytes_all_ok) : json::value(nullptr)},
        {"ssim_met", ssim_known ? json::value(ssim_all_ok) : json::value(nullptr)}};
    doc["ssim_seconds"] = ssim_s_;

    std::error_code ec;
    for (const auto& p : {o_.json_path, o_.markdown_path})
      if (fs::path(p).has_parent_path()) fs::create_directories(fs::path(p).parent_path(), ec);
    {
      std::ofstream j(o_.json_path, std::ios::trunc);
      j << json::serialize(doc) << "\n";
      if (!j) return fail("cannot write " + o_.json_path);
    }
    {
      std::ofstream mdf(o_.markdown_path, std::ios::trunc);
      mdf << md;
      if (!mdf) return fail("cannot write " + o_.markdown_path);
    }
    fmt::print("{}", md);
    std::fflush(stdout);
    fmt::print(stderr, "wrote {} and {}\n", o_.json_path, o_.markdown_path);
    return failures ? 1 : 0;
  }

  options o_;
  fs::path out_, logs_;
  machine_info machine_;
  lecture_spec spec_;
  std::string source_, source_note_;
  double source_gen_s_ = 0, ssim_s_ = 0;
  std::int64_t source_frames_ = 0;
  method_state state_[method_count];
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
