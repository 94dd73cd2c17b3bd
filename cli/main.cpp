// The spool command-line tool: probe and transcode, submit jobs to a queue and inspect it, with stable
// exit codes and a JSON error line.
#include <spool/job.hpp>
#include <spool/queue/registry.hpp>
#include <spool/json_text.hpp>
#include <spool/queue/submit.hpp>
#include <spool/spool.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <iostream>
#include <pthread.h>
#include <thread>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>


namespace {

namespace media = spool::media;

enum exit_code { ok = 0, usage_error = 2, refused = 3, failed = 4, interrupted = 130 };

std::atomic<bool> g_cancel{false};

extern "C" void on_signal(int) { g_cancel.store(true); }

constexpr const char* usage_text = R"(usage:
  spool probe IN
  spool transcode IN OUTDIR [--preset NAME] [--spec FILE] [--overwrite] [--quiet]
                  [--allow-https-host HOST]... [--https-ca-file FILE] [--allow-private-addresses]
                  [--max-duration S] [--deadline S] [--nice N] [--encoder-threads N] [--queue-frames N]
  spool submit --queue URI --input IN --output OUTDIR [--preset NAME | --spec FILE]
               [--idempotency-key KEY] [--metadata JSON]
  spool worker --queue URI [--concurrency N] [--min-concurrency N] [--jobs-per-worker X]
               [--lease S] [--grace S] [--poll S] [--max-attempts N] [--retry-base S]
               [--exit-when-idle] [--progress] [--quiet] [--nice N] [--encoder-threads N]
               [--allow-https-host HOST]... [--https-ca-file FILE] [--allow-private-addresses]
               [--max-duration S] [--deadline S]
  spool status OUTDIR
  spool queue stats --queue URI [--jobs-per-worker X]
  spool dlq list --queue URI
  spool dlq redrive --queue URI [--id JOB_ID]
  spool presets
  spool version

An https:// input is read only from a host named by --allow-https-host, over TLS with its certificate
verified against the system's CAs (or only those in --https-ca-file, a PEM bundle), and never from a
loopback, private or link-local address unless --allow-private-addresses is given.
Queues: mem://NAME (this process only) or file:///ABSOLUTE/PATH.db (durable, shared between processes).
submit prints the job id, which is the queue's message id; submitting again with the same
--idempotency-key queues nothing and prints the first job's id. Local input and output paths are
made absolute; the preset or spec is checked before anything is queued.
worker takes jobs from the queue until SIGTERM or SIGINT (then it drains: no new jobs, running
ones get --grace seconds, default 30, then are released for another worker; a second signal
releases them at once), or with --exit-when-idle until nothing is visible, delayed or in flight.
It prints each job's status as a JSON line when its state changes (--progress: every update) and
a final {"summary":{...}}. --min-concurrency below --concurrency lets it grow and shrink by depth.
status prints OUTDIR/status.json: {"job_id","state","attempt","progress","eta_s","error","updated_at"}.
queue stats prints {"visible","in_flight","delayed","dead","oldest_age_s","recommended_workers"};
the last is ceil((visible + in_flight) / jobs-per-worker), default 1 job per worker.
dlq list prints one JSON object per dead job and line:
  {"job_id","attempts","reason","error","sent_at","dead_at","job"}.
dlq redrive makes dead jobs (all, or the one named by --id) visible again and prints {"moved":N}.

exit codes: 0 ok, 2 usage, 3 input refused (input, policy, unsupported),
            4 resource, transient or internal failure, 130 interrupted.
On failure the last line on stderr is one JSON object: {"error":{"code","category","message"}}.
)";

int usage(const std::string& why) {
  if (!why.empty()) fmt::print(stderr, "spool: {}\n", why);
  fmt::print(stderr, "{}", usage_text);
  boost::json::object e{{"code", "usage"}, {"category", "usage"}, {"message", why.empty() ? "usage" : why}};
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
    case spool::category_kind::usage: return usage_error;
    default: return failed;
  }
}

int report_error(const spool::error& e) { return report_error(e.code, e.message); }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  // A file-size limit must surface as a typed error (EFBIG), not kill the process.
  std::signal(SIGXFSZ, SIG_IGN);
}

/// A whole, non-empty, finite number ("2", "0.5"); nothing may follow it.
bool parse_number(const std::string& text, double& out) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  out = std::strtod(text.c_str(), &end);
  return *end == '\0' && errno != ERANGE && std::isfinite(out);
}

struct parsed_args {
  std::vector<std::string> positional;
  std::string preset, spec_file;
  bool overwrite = false, quiet = false;
  std::vector<std::string> https_hosts;
  std::string https_ca_file;
  bool allow_private_addresses = false;
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
      if (!parse_number(v, out) || out < 0) {
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
    } else if (arg == "--https-ca-file") {
      if (!value(a.https_ca_file)) return false;
    } else if (arg == "--allow-private-addresses") {
      a.allow_private_addresses = true;
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

spool::input_policy make_policy(const parsed_args& a) {
  spool::input_policy p;
  p.https_hosts = a.https_hosts;
  p.https_ca_file = a.https_ca_file;
  p.https_allow_private_addresses = a.allow_private_addresses;
  if (a.max_duration >= 0) p.max_duration_s = a.max_duration;
  if (a.deadline > 0) p.deadline = std::chrono::seconds(static_cast<long long>(a.deadline));
  return p;
}

int cmd_probe(const parsed_args& a) {
  if (a.positional.size() != 1) return usage("probe takes one input");
  // Ctrl-C ends a probe stalled on a slow or silent server (exit 130).
  auto r = spool::probe(a.positional[0], make_policy(a), &g_cancel);
  if (!r) return report_error(r.error().code, r.error().what());
  fmt::print("{}\n", spool::to_json_text(media::to_json(*r)));
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
    auto p = spool::make_preset(a.preset);
    if (!p) return report_error(p.error().code, p.error().what());
    opt.plan = *std::move(p);
  }
  if (!a.spec_file.empty()) {
    std::ifstream f(a.spec_file);
    if (!f) return report_error(spool::errc::invalid_spec, "cannot read the spec file " + a.spec_file);
    std::stringstream ss;
    ss << f.rdbuf();
    auto p = spool::apply_spec(ss.str(), opt.plan);
    if (!p) return report_error(p.error().code, p.error().what());
    opt.plan = *std::move(p);
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
  auto ec = spool::transcode(a.positional[0], a.positional[1], opt, r, &g_cancel);
  if (tty && !a.quiet && ec) fmt::print(stderr, "\n");
  if (ec) return report_error(ec, r.error_detail);
  fmt::print("{}\n", spool::to_json_text(media::to_json(r)));
  return ok;
}

// ---- queue commands ----

struct queue_args {
  std::string queue, input, output, preset, spec_file, idempotency_key, metadata, id, jobs_per_worker;
  bool has_metadata = false;
};

/// Parses `--name value` options for a queue command; only the names in `allowed` are accepted.
bool parse_queue_args(int argc, char** argv, int first, const std::vector<std::string>& allowed, queue_args& a,
                      std::string& why) {
  std::map<std::string, std::string*> slots{{"--queue", &a.queue},
                                            {"--input", &a.input},
                                            {"--output", &a.output},
                                            {"--preset", &a.preset},
                                            {"--spec", &a.spec_file},
                                            {"--idempotency-key", &a.idempotency_key},
                                            {"--metadata", &a.metadata},
                                            {"--id", &a.id},
                                            {"--jobs-per-worker", &a.jobs_per_worker}};
  for (int i = first; i < argc; ++i) {
    std::string arg = argv[i];
    bool known = false;
    for (const auto& n : allowed) known = known || n == arg;
    if (!known) {
      why = (arg.size() > 1 && arg[0] == '-') ? "unknown option " + arg : "unexpected argument '" + arg + "'";
      return false;
    }
    if (i + 1 >= argc) {
      why = arg + " needs a value";
      return false;
    }
    *slots.at(arg) = argv[++i];
    if (arg == "--metadata") a.has_metadata = true;
  }
  if (a.queue.empty()) {
    why = "--queue URI is required";
    return false;
  }
  return true;
}

/// A local path made absolute; a URI (scheme://...) is kept as given.
std::string absolute_if_local(const std::string& p) {
  if (p.find("://") != std::string::npos) return p;
  return std::filesystem::absolute(std::filesystem::path(p)).lexically_normal().string();
}

/// Parsed JSON, or null when the text is empty or not JSON.
boost::json::value json_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  boost::system::error_code jec;
  auto v = boost::json::parse(text, jec);
  if (jec) return nullptr;
  return v;
}

int open_queue(const std::string& uri, std::shared_ptr<spool::queue::queue_adapter>& q) {
  auto opened = spool::queue::open_queue(uri);
  if (!opened) return report_error(opened.error());
  q = std::move(*opened);
  return ok;
}

int cmd_submit(int argc, char** argv) {
  queue_args a;
  std::string why;
  if (!parse_queue_args(argc, argv, 2,
                        {"--queue", "--input", "--output", "--preset", "--spec", "--idempotency-key", "--metadata"},
                        a, why))
    return usage(why);
  if (a.input.empty()) return usage("submit needs --input");
  if (a.output.empty()) return usage("submit needs --output");

  spool::job_spec job;
  job.input = absolute_if_local(a.input);
  job.output = absolute_if_local(a.output);
  job.idempotency_key = a.idempotency_key;
  boost::json::value overrides;
  if (!a.spec_file.empty()) {
    std::ifstream f(a.spec_file);
    if (!f) return report_error(spool::errc::invalid_spec, "cannot read the spec file " + a.spec_file);
    std::stringstream ss;
    ss << f.rdbuf();
    boost::system::error_code jec;
    auto v = boost::json::parse(ss.str(), jec);
    if (jec) return report_error(spool::errc::invalid_spec, "the spec file is not valid JSON: " + jec.message());
    if (!v.is_object()) return report_error(spool::errc::invalid_spec, "the spec file must hold a JSON object");
    overrides = std::move(v);
  }
  if (a.has_metadata) {
    boost::system::error_code jec;
    job.metadata = boost::json::parse(a.metadata, jec);
    if (jec) return report_error(spool::errc::invalid_spec, "--metadata is not valid JSON: " + jec.message());
  }
  // Resolved now, so the worker encodes exactly this; a bad preset or spec is refused before anything
  // is queued.
  auto plan = spool::resolve_plan(a.preset.empty() ? "hls-ladder" : a.preset, overrides.is_null() ? nullptr : &overrides);
  if (!plan) return report_error(plan.error().code, plan.error().what());
  job.plan = *std::move(plan);
  // Refused here, before a queue is even opened (or created), as a worker would refuse it.
  if (auto e = spool::queue::check_job(job)) return report_error(e);

  std::shared_ptr<spool::queue::queue_adapter> q;
  if (int rc = open_queue(a.queue, q)) return rc;
  auto submitted = spool::queue::submit(*q, job);
  if (!submitted) return report_error(submitted.error());
  const auto& sent = *submitted;
  // No status is written here: the job's status is the worker's, from the moment one takes it
  // (spool::queue::submit, which basic_job_queue::async_submit runs as well, writes none either).
  fmt::print("{}\n", sent.job_id);
  return ok;
}

int cmd_queue(int argc, char** argv) {
  if (argc < 3) return usage("queue needs a subcommand (stats)");
  std::string sub = argv[2];
  if (sub != "stats") return usage("unknown queue subcommand '" + sub + "'");
  queue_args a;
  std::string why;
  if (!parse_queue_args(argc, argv, 3, {"--queue", "--jobs-per-worker"}, a, why)) return usage(why);
  spool::queue::scaling_policy policy;
  if (!a.jobs_per_worker.empty()) {
    if (!parse_number(a.jobs_per_worker, policy.jobs_per_worker) || !(policy.jobs_per_worker > 0))
      return usage("--jobs-per-worker needs a positive number");
  }
  std::shared_ptr<spool::queue::queue_adapter> q;
  if (int rc = open_queue(a.queue, q)) return rc;
  auto counted = q->stats();
  if (!counted) return report_error(counted.error());
  const auto& st = *counted;
  boost::json::object o{{"visible", st.visible},
                        {"in_flight", st.in_flight},
                        {"delayed", st.delayed},
                        {"dead", st.dead},
                        {"oldest_age_s", st.oldest_age_s},
                        {"recommended_workers", spool::queue::recommended_workers(st, policy)}};
  fmt::print("{}\n", boost::json::serialize(o));
  return ok;
}

int cmd_dlq(int argc, char** argv) {
  if (argc < 3) return usage("dlq needs a subcommand (list or redrive)");
  std::string sub = argv[2];
  if (sub != "list" && sub != "redrive") return usage("unknown dlq subcommand '" + sub + "'");
  queue_args a;
  std::string why;
  std::vector<std::string> allowed{"--queue"};
  if (sub == "redrive") allowed.emplace_back("--id");
  if (!parse_queue_args(argc, argv, 3, allowed, a, why)) return usage(why);
  std::shared_ptr<spool::queue::queue_adapter> q;
  if (int rc = open_queue(a.queue, q)) return rc;
  auto* store = q->dead_letters();
  if (!store)
    return report_error({spool::errc::feature_unsupported,
                         "the " + std::string(q->type_name()) + " queue backend has no dead-letter store"});
  if (sub == "redrive") {
    auto moved = store->redrive(a.id);
    if (!moved) return report_error(moved.error());
    fmt::print("{}\n", boost::json::serialize(boost::json::object{{"moved", *moved}}));
    return ok;
  }
  // A page at a time: a long dead-letter queue is never all in memory.
  std::string after;
  do {
    auto page = store->list_dead(after, 100);
    if (!page) return report_error(page.error());
    for (const auto& d : page->records) {
      boost::json::object o{{"job_id", d.message_id},
                            {"attempts", d.receive_count},
                            {"reason", d.reason},
                            {"error", json_or_null(d.last_error_json)},
                            {"sent_at", spool::to_iso8601(d.sent_at)},
                            {"dead_at", spool::to_iso8601(d.dead_at)},
                            {"job", json_or_null(d.body)}};
      fmt::print("{}\n", boost::json::serialize(o));
    }
    after = std::move(page->next);
  } while (!after.empty());
  return ok;
}


int cmd_status(int argc, char** argv) {
  if (argc != 3) return usage("status takes one output directory");
  auto st = spool::read_status(argv[2]);
  if (!st) return report_error(st.error().code, st.error().what());
  if (!*st) return report_error(spool::errc::input_unreadable, std::string("no status at ") + argv[2]);
  fmt::print("{}\n", spool::to_json_text(spool::to_json(**st)));
  return ok;
}

struct worker_args {
  std::string queue;
  spool::worker_options options;
  bool progress = false, quiet = false;
};

bool parse_worker_args(int argc, char** argv, worker_args& a, std::string& why) {
  auto& o = a.options;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    auto number = [&](double& out, double min) {
      if (i + 1 >= argc) {
        why = arg + " needs a value";
        return false;
      }
      if (!parse_number(argv[++i], out) || !(out >= min)) {
        why = fmt::format("{} needs a number of at least {}", arg, min);
        return false;
      }
      return true;
    };
    auto ms = [](double s) { return std::chrono::milliseconds(static_cast<long long>(s * 1000)); };
    double v = 0;
    if (arg == "--queue") {
      if (i + 1 >= argc) {
        why = "--queue needs a value";
        return false;
      }
      a.queue = argv[++i];
    } else if (arg == "--concurrency" || arg == "--min-concurrency" || arg == "--max-attempts") {
      if (!number(v, 1)) return false;
      (arg == "--concurrency" ? o.concurrency : arg == "--min-concurrency" ? o.min_concurrency : o.retry.max_attempts) =
          static_cast<int>(v);
    } else if (arg == "--jobs-per-worker") {
      if (!number(o.scaling.jobs_per_worker, 0.001)) return false;
    } else if (arg == "--lease") {
      if (!number(v, 1)) return false;
      o.lease = ms(v);
    } else if (arg == "--grace") {
      if (!number(v, 0)) return false;
      o.drain_grace = ms(v);
    } else if (arg == "--poll") {
      if (!number(v, 0)) return false;
      o.poll_wait = ms(v);
    } else if (arg == "--retry-base") {
      if (!number(v, 0)) return false;
      o.retry.base = ms(v);
    } else if (arg == "--nice" || arg == "--encoder-threads") {
      if (!number(v, 0)) return false;
      (arg == "--nice" ? o.encode_nice : o.encoder_threads) = static_cast<int>(v);
    } else if (arg == "--allow-https-host") {
      if (i + 1 >= argc) {
        why = arg + " needs a value";
        return false;
      }
      o.policy.https_hosts.emplace_back(argv[++i]);
    } else if (arg == "--https-ca-file") {
      if (i + 1 >= argc) {
        why = arg + " needs a value";
        return false;
      }
      o.policy.https_ca_file = argv[++i];
    } else if (arg == "--allow-private-addresses") {
      o.policy.https_allow_private_addresses = true;
    } else if (arg == "--max-duration") {
      if (!number(o.policy.max_duration_s, 0)) return false;
    } else if (arg == "--deadline") {
      if (!number(v, 1)) return false;
      o.policy.deadline = std::chrono::seconds(static_cast<long long>(v));
    } else if (arg == "--exit-when-idle") {
      o.exit_when_idle = true;
    } else if (arg == "--progress") {
      a.progress = true;
    } else if (arg == "--quiet" || arg == "-q") {
      a.quiet = true;
    } else {
      why = (arg.size() > 1 && arg[0] == '-') ? "unknown option " + arg : "unexpected argument '" + arg + "'";
      return false;
    }
  }
  if (a.queue.empty()) {
    why = "--queue URI is required";
    return false;
  }
  if (o.min_concurrency > o.concurrency) {
    why = "--min-concurrency is above --concurrency";
    return false;
  }
  return true;
}

int cmd_worker(int argc, char** argv) {
  worker_args a;
  std::string why;
  if (!parse_worker_args(argc, argv, a, why)) return usage(why);

  // Signals are taken by one thread with sigwait, so every other thread (jobs, encoders) runs with
  // them blocked and the worker sees them as plain events.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  std::shared_ptr<spool::queue::queue_adapter> q;
  if (int rc = open_queue(a.queue, q)) return rc;

  auto out_mutex = std::make_shared<std::mutex>();
  auto last_state = std::make_shared<std::map<std::string, spool::job_state>>();
  if (!a.quiet)
    a.options.on_status = [out_mutex, last_state, progress = a.progress](const spool::job_status& s) {
      std::lock_guard lock(*out_mutex);
      auto it = last_state->find(s.job_id);
      bool changed = it == last_state->end() || it->second != s.state;
      if (!changed && !progress) return;
      (*last_state)[s.job_id] = s.state;
      fmt::print("{}\n", boost::json::serialize(spool::to_json(s)));
      std::fflush(stdout);
    };

  // Shared with the signal thread, which may outlive run().
  auto worker = std::make_shared<spool::worker_runtime>(q, a.options);
  std::thread signals([worker, set] {
    int sig = 0;
    for (int n = 0; sigwait(&set, &sig) == 0; ++n) {
      if (n == 0) {
        fmt::print(stderr, "spool worker: draining (signal {}); a second signal releases running jobs now\n", sig);
        worker->drain();
      } else {
        worker->stop();
      }
    }
  });
  signals.detach();

  spool::worker_summary sum;
  auto ec = worker->run(sum);
  if (!ec) {
    std::lock_guard lock(*out_mutex);
    fmt::print("{}\n", boost::json::serialize(boost::json::object{
                           {"summary",
                            {{"succeeded", sum.succeeded},
                             {"already_complete", sum.already_complete},
                             {"retried", sum.retried},
                             {"dead", sum.dead},
                             {"released", sum.released},
                             {"lease_lost", sum.lease_lost}}}}));
    std::fflush(stdout);
  }
  if (ec == spool::errc::invalid_argument)
    return report_error(ec, fmt::format("the queue cannot grant a {:g} s lease with {:g} s heartbeats (its most: {:g} s)",
                                        a.options.lease.count() / 1000.0,
                                        (a.options.heartbeat.count() > 0 ? a.options.heartbeat : a.options.lease / 3).count() / 1000.0,
                                        q->caps().max_lease.count() / 1000.0));
  if (ec == spool::errc::out_of_memory) return report_error(ec, "cannot start the worker's heartbeat thread");
  if (ec) return report_error(ec, "the queue cannot be used");
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
    for (const auto& n : spool::preset_names()) {
      fmt::print("{}\t{}\n", n, spool::to_json_text(spool::to_json(*spool::make_preset(n))));
    }
    return ok;
  }
  install_signals();
  if (cmd == "status") return cmd_status(argc, argv);
  if (cmd == "submit" || cmd == "queue" || cmd == "dlq" || cmd == "worker") {
    media::set_ffmpeg_log_level(std::getenv("SPOOL_AV_LOG") ? media::ffmpeg_log::info : media::ffmpeg_log::error);
    try {
      if (cmd == "worker") return cmd_worker(argc, argv);
      if (cmd == "submit") return cmd_submit(argc, argv);
      if (cmd == "queue") return cmd_queue(argc, argv);
      return cmd_dlq(argc, argv);
    } catch (const std::exception& e) {
      return report_error(spool::errc::internal, e.what());
    }
  }
  // FFmpeg's own chatter is noise here: spool reports every failure itself.
  media::set_ffmpeg_log_level(std::getenv("SPOOL_AV_LOG") ? media::ffmpeg_log::info : media::ffmpeg_log::error);
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
