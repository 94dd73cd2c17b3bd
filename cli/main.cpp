// The spool command-line tool: probe and transcode, with stable exit codes and a JSON error line.
#include <spool/spool.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

extern "C" {
#include <libavutil/log.h>
}

namespace {

namespace media = spool::media;

enum exit_code { ok = 0, usage_error = 2, refused = 3, failed = 4, interrupted = 130 };

std::atomic<bool> g_cancel{false};

extern "C" void on_signal(int) { g_cancel.store(true); }

constexpr const char* usage_text = R"(usage:
  spool probe IN
  spool transcode IN OUTDIR [--preset NAME] [--spec FILE] [--overwrite] [--quiet]
                  [--allow-https-host HOST]... [--max-duration S] [--deadline S] [--nice N]
                  [--encoder-threads N] [--queue-frames N]
  spool presets
  spool version

exit codes: 0 ok, 2 usage, 3 input refused (input, policy, unsupported),
            4 resource, transient or internal failure, 130 interrupted.
On failure the last line on stderr is one JSON object: {"error":{"code","category","message"}}.
)";

int usage(const std::string& why) {
  if (!why.empty()) fmt::print(stderr, "spool: {}\n", why);
  fmt::print(stderr, "{}", usage_text);
  boost::json::object e{{"code", "usage"}, {"category", "input"}, {"message", why.empty() ? "usage" : why}};
  fmt::print(stderr, "{}\n", boost::json::serialize(boost::json::object{{"error", e}}));
  return usage_error;
}

int report_error(const spool::error_code& ec, const std::string& detail) {
  auto kind = spool::kind_of(ec);
  std::string message = detail.empty() ? ec.message() : detail;
  fmt::print(stderr, "spool: {}\n", message);
  boost::json::object e{{"code", spool::code_name(ec)}, {"category", std::string(spool::to_string(kind))},
                        {"message", message}};
  fmt::print(stderr, "{}\n", boost::json::serialize(boost::json::object{{"error", e}}));
  switch (kind) {
    case spool::category_kind::input:
    case spool::category_kind::policy:
    case spool::category_kind::unsupported: return refused;
    case spool::category_kind::cancelled: return interrupted;
    default: return failed;
  }
}

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A file-size limit must surface as a typed error (EFBIG), not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
}

struct parsed_args {
  std::vector<std::string> positional;
  std::string preset, spec_file;
  bool overwrite = false, quiet = false;
  std::vector<std::string> https_hosts;
  double max_duration = -1, deadline = -1;
  int nice = -1;
  int encoder_threads = -1, queue_frames = -1;
};

bool parse(int argc, char** argv, int first, parsed_args& a, std::string& why) {
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= argc) {
        why = arg + " needs a value";
        return false;
      }
      out = argv[++i];
      return true;
    };
    auto number = [&](double& out) {
      std::string v;
      if (!value(v)) return false;
      try {
        std::size_t used = 0;
        out = std::stod(v, &used);
        if (used != v.size() || out < 0) throw std::invalid_argument(v);
      } catch (const std::exception&) {
        why = arg + " needs a non-negative number";
        return false;
      }
      return true;
    };
    std::string s;
    double d = 0;
    if (arg == "--preset") {
      if (!value(a.preset)) return false;
    } else if (arg == "--spec") {
      if (!value(a.spec_file)) return false;
    } else if (arg == "--overwrite") {
      a.overwrite = true;
    } else if (arg == "--quiet" || arg == "-q") {
      a.quiet = true;
    } else if (arg == "--allow-https-host") {
      if (!value(s)) return false;
      a.https_hosts.push_back(s);
    } else if (arg == "--max-duration") {
      if (!number(a.max_duration)) return false;
    } else if (arg == "--deadline") {
      if (!number(a.deadline)) return false;
    } else if (arg == "--nice") {
      if (!number(d)) return false;
      a.nice = static_cast<int>(d);
    } else if (arg == "--encoder-threads" || arg == "--queue-frames") {
      if (!number(d)) return false;
      (arg == "--encoder-threads" ? a.encoder_threads : a.queue_frames) = static_cast<int>(d);
    } else if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      why = "unknown option " + arg;
      return false;
    } else {
      a.positional.push_back(arg);
    }
  }
  return true;
}

media::input_policy make_policy(const parsed_args& a) {
  media::input_policy p;
  p.https_hosts = a.https_hosts;
  if (a.max_duration >= 0) p.max_duration_s = a.max_duration;
  if (a.deadline > 0) p.deadline = std::chrono::seconds(static_cast<long long>(a.deadline));
  return p;
}

int cmd_probe(const parsed_args& a) {
  if (a.positional.size() != 1) return usage("probe takes one input");
  media::probe_result r;
  std::string detail;
  if (auto ec = media::probe(a.positional[0], make_policy(a), r, &detail)) return report_error(ec, detail);
  fmt::print("{}\n", boost::json::serialize(media::to_json(r)));
  return ok;
}

std::string bar(double fraction, int width) {
  int filled = static_cast<int>(fraction * width);
  return std::string(static_cast<std::size_t>(filled), '#') + std::string(static_cast<std::size_t>(width - filled), '.');
}

int cmd_transcode(const parsed_args& a) {
  if (a.positional.size() != 2) return usage("transcode takes an input and an output directory");
  media::transcode_options opt;
  opt.policy = make_policy(a);
  opt.overwrite = a.overwrite;
  if (a.nice >= 0) opt.encode_nice = a.nice;
  if (a.encoder_threads >= 0) opt.encoder_threads = a.encoder_threads;
  if (a.queue_frames > 0) opt.queue_frames = a.queue_frames;
  if (!a.preset.empty()) {
    if (media::make_preset(a.preset, opt.plan))
      return report_error(spool::errc::invalid_spec, "unknown preset '" + a.preset + "'");
  }
  if (!a.spec_file.empty()) {
    std::ifstream f(a.spec_file);
    if (!f) return report_error(spool::errc::invalid_spec, "cannot read the spec file " + a.spec_file);
    std::stringstream ss;
    ss << f.rdbuf();
    std::string detail;
    if (auto ec = media::apply_spec(ss.str(), opt.plan, &detail)) return report_error(ec, detail);
  }
  bool tty = ::isatty(STDERR_FILENO) != 0;
  if (!a.quiet) {
    auto last_line = std::make_shared<std::chrono::steady_clock::time_point>();
    opt.progress_interval = std::chrono::milliseconds(tty ? 250 : 500);
    opt.on_progress = [tty, last_line](const media::progress& p) {
      if (tty) {
        fmt::print(stderr, "\r[{}] {:5.1f}%  {:.1f}x  eta {}   ", bar(p.fraction, 30), p.fraction * 100, p.speed,
                   p.eta_s >= 0 ? fmt::format("{:.0f}s", p.eta_s) : std::string("?"));
        if (p.fraction >= 1) fmt::print(stderr, "\n");
        return;
      }
      auto now = std::chrono::steady_clock::now();
      if (p.fraction < 1 && now - *last_line < std::chrono::seconds(2)) return;
      *last_line = now;
      fmt::print(stderr, "progress {:.1f}% out_time={:.1f}s speed={:.2f}x eta={:.0f}s\n", p.fraction * 100,
                 p.out_time_s, p.speed, p.eta_s);
    };
  }
  media::transcode_result r;
  auto ec = media::transcode(a.positional[0], a.positional[1], opt, r, &g_cancel);
  if (tty && !a.quiet && ec) fmt::print(stderr, "\n");
  if (ec) return report_error(ec, r.error_detail);
  fmt::print("{}\n", boost::json::serialize(media::to_json(r)));
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage("");
  std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    fmt::print("{}", usage_text);
    return ok;
  }
  if (cmd == "version" || cmd == "--version") {
    fmt::print("spool {}\n", spool::version_string());
    return ok;
  }
  if (cmd == "presets") {
    for (const auto& n : media::preset_names()) {
      media::plan p;
      media::make_preset(n, p);
      fmt::print("{}\t{}\n", n, boost::json::serialize(media::to_json(p)));
    }
    return ok;
  }
  install_signals();
  // FFmpeg's own chatter is noise here: spool reports every failure itself.
  av_log_set_level(std::getenv("SPOOL_AV_LOG") ? AV_LOG_INFO : AV_LOG_ERROR);
  parsed_args a;
  std::string why;
  if (!parse(argc, argv, 2, a, why)) return usage(why);
  try {
    if (cmd == "probe") return cmd_probe(a);
    if (cmd == "transcode") return cmd_transcode(a);
  } catch (const std::exception& e) {
    return report_error(spool::errc::internal, e.what());
  }
  return usage("unknown command '" + cmd + "'");
}
