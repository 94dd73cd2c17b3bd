// probe, transcode, presets, version: the commands that work on media directly, in this process.
#include <spool/json_text.hpp>
#include <spool/spool.hpp>

#include <fmt/format.h>

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <memory>
#include <sstream>

#include "args.hpp"
#include "report.hpp"

namespace spool::cli {
namespace {

namespace media = spool::media;

constexpr const char* input_policy_note =
    R"(An https:// input is read only from a host named by --allow-https-host, over TLS with its certificate
verified against the system's CAs (or only those in --https-ca-file, a PEM bundle), and never from a
loopback, private or link-local address unless --allow-private-addresses is given.
)";

class probe_command final : public command {
 public:
  po::options_description options() override {
    auto d = option_group("options");
    d.add(input_policy_options(policy_));
    return d;
  }
  int run(const std::vector<std::string>& operands) override {
    // Ctrl-C ends a probe stalled on a slow or silent server (exit 130).
    auto r = spool::probe(operands[0], policy_, &cancel_requested());
    if (!r) return report_error(r.error().code, r.error().what());
    print_json(media::to_json(*r));
    return ok;
  }

 private:
  input_policy policy_;
};

std::string bar(double fraction, int width) {
  int filled = static_cast<int>(fraction * width);
  return std::string(static_cast<std::size_t>(filled), '#') +
         std::string(static_cast<std::size_t>(width - filled), '.');
}

/// Progress on stderr: a bar redrawn in place on a terminal, a line every 2 s otherwise.
std::function<void(const media::progress&)> progress_printer(bool tty) {
  auto last_line = std::make_shared<std::chrono::steady_clock::time_point>();
  auto playable = std::make_shared<double>(0);
  return [tty, last_line, playable](const media::progress& p) {
    if (p.playable_s > *playable) {
      // A growing package: how much of it players can play now.
      fmt::print(stderr, "{}playable {:.1f}s\n", tty ? "\r" : "", p.playable_s);
      *playable = p.playable_s;
    }
    if (tty) {
      fmt::print(stderr, "\r[{}] {:5.1f}%  {:.1f}x  eta {}   ", bar(p.fraction, 30), p.fraction * 100, p.speed,
                 p.eta_s >= 0 ? fmt::format("{:.0f}s", p.eta_s) : std::string("?"));
      if (p.fraction >= 1) fmt::print(stderr, "\n");
      return;
    }
    auto now = std::chrono::steady_clock::now();
    if (p.fraction < 1 && now - *last_line < std::chrono::seconds(2)) return;
    *last_line = now;
    fmt::print(stderr, "progress {:.1f}% out_time={:.1f}s speed={:.2f}x eta={:.0f}s\n", p.fraction * 100, p.out_time_s,
               p.speed, p.eta_s);
  };
}

class transcode_command final : public command {
 public:
  po::options_description options() override {
    auto d = option_group("options");
    d.add_options()                                                               //
        ("overwrite", flag(opt_.overwrite), "replace what OUTDIR already holds")  //
        ("quiet,q", flag(quiet_), "no progress on stderr")                        //
        ("queue-frames", number(opt_.queue_frames),
         "frames queued between the pipeline's stages; 0 keeps the default")  //
        ("publish", text(publish_)->value_name("MODE"),
         "atomic (OUTDIR appears whole when done, the default) or progressive (playable from the first "
         "segments, growing as they come); overrides the plan's packaging.publish")  //
        ("remux", text(remux_)->value_name("WHEN"),
         "on (the top rung is the source's own video when it is fit to be, copied without re-encoding) or off "
         "(every rung encoded, the default); overrides the plan's video.remux");
    d.add(plan_options(preset_, spec_file_));
    d.add(encoder_options(opt_.encode_nice, opt_.encode_idle, opt_.encoder_threads));
    d.add(input_policy_options(opt_.policy));
    return d;
  }

  int run(const std::vector<std::string>& operands) override {
    if (opt_.queue_frames == 0) opt_.queue_frames = media::transcode_options{}.queue_frames;
    if (!preset_.empty()) {
      auto p = spool::make_preset(preset_);
      if (!p) return report_error(p.error().code, p.error().what());
      opt_.plan = *std::move(p);
    }
    if (!spec_file_.empty()) {
      std::ifstream f(spec_file_);
      if (!f) return report_error(errc::invalid_spec, "cannot read the spec file " + spec_file_);
      std::stringstream ss;
      ss << f.rdbuf();
      auto p = spool::apply_spec(ss.str(), opt_.plan);
      if (!p) return report_error(p.error().code, p.error().what());
      opt_.plan = *std::move(p);
    }
    if (!publish_.empty()) {
      if (publish_ != "atomic" && publish_ != "progressive")
        return report_error(errc::invalid_argument, "--publish takes atomic or progressive, not '" + publish_ + "'");
      opt_.plan.packaging.publish = publish_;
    }
    if (!remux_.empty()) {
      if (remux_ != "on" && remux_ != "off")
        return report_error(errc::invalid_argument, "--remux takes on or off, not '" + remux_ + "'");
      opt_.plan.video.remux = remux_;
    }
    bool tty = ::isatty(STDERR_FILENO) != 0;
    if (!quiet_) {
      opt_.progress_interval = std::chrono::milliseconds(tty ? 250 : 500);
      opt_.on_progress = progress_printer(tty);
    }
    media::transcode_result r;
    auto ec = spool::transcode(operands[0], operands[1], opt_, r, &cancel_requested());
    if (tty && !quiet_ && ec) fmt::print(stderr, "\n");
    if (ec) return report_error(ec, r.error_detail);
    // The finished package, published: all of it plays now.
    if (!quiet_ && r.publish == "progressive") fmt::print(stderr, "playable {:.1f}s\n", r.duration_s);
    print_json(media::to_json(r));
    return ok;
  }

 private:
  media::transcode_options opt_;
  std::string preset_, spec_file_, publish_, remux_;
  bool quiet_ = false;
};

class presets_command final : public command {
 public:
  po::options_description options() override { return option_group("options"); }
  int run(const std::vector<std::string>&) override {
    for (const auto& n : spool::preset_names())
      fmt::print("{}\t{}\n", n, spool::to_json_text(spool::to_json(*spool::make_preset(n))));
    return ok;
  }
};

class version_command final : public command {
 public:
  po::options_description options() override { return option_group("options"); }
  int run(const std::vector<std::string>&) override {
    fmt::print("spool {}\n", spool::version_string());
    return ok;
  }
};

constexpr command_entry table[] = {
    {"probe", "IN", "Prints what IN holds (container, streams, duration) as JSON.", input_policy_note,
     make_command<probe_command>},
    {"transcode", "IN OUTDIR", "Encodes IN into an HLS + DASH ladder in OUTDIR; prints the result as JSON.",
     input_policy_note, make_command<transcode_command>},
    {"presets", "", "Lists the presets, each as its name and its plan spec in JSON.", "",
     make_command<presets_command>},
    {"version", "", "Prints spool's version.", "", make_command<version_command>},
};

}  // namespace

std::span<const command_entry> media_commands() { return table; }

}  // namespace spool::cli
