// spool-bench-aws: spool's AWS paths against fauxqs (an SQS and S3 emulator) on 127.0.0.1, started
// here as a child process and stopped by its pid:
//   - SQS: submits one by one against send_batch of 10; receives of 1 against receives of 10, each
//     delivery acked;
//   - S3: publishing one package's files through spool's S3 store (open_package, put, put_manifest,
//     commit: what the engine does) against `aws s3 cp --recursive` of the same files;
//   - memory: the peak RSS of `spool transcode` publishing to S3 against publishing to a local folder.
// Every measure runs once per run, side by side, with the order alternating; the table shows medians
// over the runs and ratios paired within each run. No figure here is asserted anywhere.
#include <spool/aws/aws.hpp>
#include <spool/json_text.hpp>
#include <spool/queue/adapter.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "args.hpp"
#include "fauxqs_child.hpp"
#include "machine.hpp"
#include "process.hpp"
#include "stats.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace q = spool::queue;
namespace aws = spool::aws;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;
using spool_bench::median;

constexpr const char* bucket = "spool-bench";
constexpr const char* region = "us-east-1";
constexpr double memory_allowance_mb = 64;  // the goal: S3 peak RSS <= local peak RSS + this

struct options {
  std::string spool = "build/bin/spool";
  std::string make_sample = "build/bin/spool-make-sample";
  std::string tools = SPOOL_BENCH_AWS_TOOLS_DIR;
  std::string serve = SPOOL_BENCH_SOURCE_DIR "/tests/aws/tools/serve.mjs";
  std::string out = "bench-aws-out";
  std::string json_file;
  std::string source;   // empty: make a lecture clip
  std::string package;  // empty: transcode the source once
  int duration = 30;
  int messages = 2000;
  int runs = 3;
  double timeout = 600;
  bool sqs = true, s3 = true, memory = true;
};

constexpr const char* usage =
    "usage: spool-bench-aws [--spool build/bin/spool] [--make-sample build/bin/spool-make-sample]\n"
    "                       [--tools build/aws-tools] [--serve tests/aws/tools/serve.mjs] [--out bench-aws-out]\n"
    "                       [--json FILE] [--source FILE] [--package DIR] [--duration 30] [--messages 2000]\n"
    "                       [--runs 3] [--timeout 600] [--parts sqs,s3,memory]\n";

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

std::string fixed(const std::optional<double>& v, int digits) {
  return v ? fmt::format("{:.{}f}", *v, digits) : std::string("-");
}
json::value num(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

/// Runs one child to the end (inheriting this process's environment); throws when it fails.
spool_bench::child_result run_one(std::vector<std::string> argv, const fs::path& log_stem, double timeout_s) {
  double wall = 0;
  bool interrupted = false;
  spool_bench::child_spec c{std::move(argv), log_stem.string() + ".stdout.txt", log_stem.string() + ".stderr.txt"};
  auto r = spool_bench::run_children({c}, timeout_s, wall, interrupted);
  if (interrupted) fail("interrupted");
  if (!r[0].ok())
    fail(fmt::format("{} failed ({}); see {}.stderr.txt", spool_bench::join_command(c.argv), r[0].error,
                     log_stem.string()));
  return r[0];
}

/// One measure's value in each run, in the order of the runs.
struct series {
  std::string key, label, unit;
  std::vector<double> runs;
  std::optional<double> med() const { return median(runs); }
};

class bench {
 public:
  explicit bench(options o) : o_(std::move(o)) {}

  int run() {
    out_ = fs::absolute(o_.out);
    fs::create_directories(out_ / "logs");
    set_environment();
    load_before_ = spool_bench::loadavg();
    spool_bench::fauxqs_child fauxqs(o_.serve, o_.tools, out_ / "logs" / "fauxqs.stderr.txt");
    endpoint_ = fauxqs.endpoint();
    ::setenv("AWS_ENDPOINT_URL", endpoint_.c_str(), 1);  // for the spool children
    fmt::print(stderr, "fauxqs at {} (pid {})\n", endpoint_, fauxqs.pid());
    if (o_.s3 || o_.memory) {
      aws_cli({"s3", "mb", fmt::format("s3://{}", bucket)}, "mb");
      prepare_media();
    }
    for (int r = 1; r <= o_.runs; ++r) {
      fmt::print(stderr, "run {} of {}\n", r, o_.runs);
      if (o_.sqs) run_sqs(r);
      if (o_.s3) run_s3(r);
      if (o_.memory) run_memory(r);
    }
    load_after_ = spool_bench::loadavg();
    fauxqs.stop();
    print_table();
    if (!o_.json_file.empty()) {
      std::ofstream(o_.json_file) << spool::to_json_text(to_json()) << "\n";
    }
    return 0;
  }

 private:
  // Credentials and region for spool and the AWS CLI alike; nothing from the user's own files.
  void set_environment() {
    for (const char* v : {"AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS"})
      ::unsetenv(v);
    const std::string none = (out_ / "no-aws-config").string();
    const std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", "bench"},
                                                 {"AWS_SECRET_ACCESS_KEY", "bench-secret"},
                                                 {"AWS_REGION", region},
                                                 {"AWS_DEFAULT_REGION", region},
                                                 {"AWS_CONFIG_FILE", none},
                                                 {"AWS_SHARED_CREDENTIALS_FILE", none},
                                                 {"AWS_EC2_METADATA_DISABLED", "true"}};
    for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
  }

  spool_bench::child_result aws_cli(std::vector<std::string> args, const std::string& log) {
    std::vector<std::string> argv{"aws"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--endpoint-url", endpoint_});
    return run_one(std::move(argv), out_ / "logs" / ("aws-" + log), 120);
  }

  series& at(const std::string& key, const std::string& label, const std::string& unit) {
    for (auto& s : series_)
      if (s.key == key) return s;
    series_.push_back({key, label, unit, {}});
    return series_.back();
  }

  // ---------------------------------------------------------------------------------------------
  // SQS.

  std::shared_ptr<q::queue_adapter> fresh_queue(const std::string& name) {
    aws_cli({"sqs", "create-queue", "--queue-name", name}, "create-queue-" + name);
    aws::sqs_options so;
    so.queue_name = name;
    so.account_id = "000000000000";
    so.region = region;
    so.endpoint = endpoint_;
    so.credentials = aws::static_credentials({"bench", "bench-secret", {}, std::nullopt, "bench"});
    auto a = aws::make_sqs_queue(so);
    if (!a) fail("open SQS queue " + name + ": " + a.error().what());
    return *a;
  }

  std::vector<q::outgoing_message> messages() const {
    std::vector<q::outgoing_message> v(static_cast<std::size_t>(o_.messages));
    for (int i = 0; i < o_.messages; ++i)
      v[static_cast<std::size_t>(i)].body = fmt::format(
          R"({{"input":"s3://uploads/2026/11/lecture-{:08d}.mp4","output":"s3://packages/cs-101/lecture-{:08d}/",)"
          R"("metadata":{{"course":"cs-101","upload_id":"up-{:012d}"}}}})",
          i, i, i);
    return v;
  }

  /// Messages per second; `batch` 1 sends one by one, more uses send_batch.
  double timed_send(q::queue_adapter& a, const std::vector<q::outgoing_message>& msgs, std::size_t batch) {
    const auto t0 = steady::now();
    if (batch == 1) {
      for (const auto& m : msgs)
        if (auto r = a.send(m); !r) fail("SQS send: " + r.error().what());
    } else {
      for (std::size_t i = 0; i < msgs.size(); i += batch) {
        std::vector<q::outgoing_message> part(
            msgs.begin() + static_cast<std::ptrdiff_t>(i),
            msgs.begin() + static_cast<std::ptrdiff_t>(std::min(msgs.size(), i + batch)));
        auto r = a.send_batch(part);
        if (!r) fail("SQS send_batch: " + r.error().what());
        for (const auto& each : *r)
          if (!each) fail("SQS send_batch entry: " + each.error().what());
      }
    }
    return static_cast<double>(msgs.size()) / seconds_since(t0);
  }

  /// Receives every message with max_messages = `batch` and acks each; messages per second.
  double timed_receive_ack(q::queue_adapter& a, std::size_t n, std::size_t batch) {
    q::receive_options ro;
    ro.max_messages = batch;
    ro.wait = 1000ms;  // a short long poll: an empty answer means the queue is really dry
    ro.lease = 600'000ms;
    std::size_t done = 0, receives = 0;
    int empty = 0;
    const auto t0 = steady::now();
    while (done < n) {
      auto got = a.receive(ro);
      if (!got) fail("SQS receive: " + got.error().what());
      if (got->empty() && ++empty >= 3) fail(fmt::format("SQS receive: the queue ran dry after {} of {}", done, n));
      for (const auto& d : *got)
        if (auto e = a.ack(d)) fail("SQS ack: " + e.what());
      done += got->size();
      ++receives;
    }
    const double rate = static_cast<double>(done) / seconds_since(t0);
    at(fmt::format("sqs.receive{}_per_call", batch), fmt::format("SQS receive max {}: messages per receive", batch),
       "msgs")
        .runs.push_back(static_cast<double>(done) / static_cast<double>(receives));
    return rate;
  }

  void run_sqs(int r) {
    const auto msgs = messages();
    auto one = [&] {
      auto a = fresh_queue(fmt::format("bench-single-{}", r));
      at("sqs.send_single", "SQS submit, one send each", "msg/s").runs.push_back(timed_send(*a, msgs, 1));
      at("sqs.receive1_ack", "SQS receive max 1 + ack each", "msg/s")
          .runs.push_back(timed_receive_ack(*a, msgs.size(), 1));
    };
    auto ten = [&] {
      auto a = fresh_queue(fmt::format("bench-batch-{}", r));
      at("sqs.send_batch10", "SQS submit, send_batch of 10", "msg/s").runs.push_back(timed_send(*a, msgs, 10));
      at("sqs.receive10_ack", "SQS receive max 10 + ack each", "msg/s")
          .runs.push_back(timed_receive_ack(*a, msgs.size(), 10));
    };
    if (r % 2) {
      one();
      ten();
    } else {
      ten();
      one();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The package to publish, and the S3 publish.

  void prepare_media() {
    source_ = o_.source;
    if (source_.empty()) {
      source_ = (out_ / fmt::format("lecture-{}s.mp4", o_.duration)).string();
      if (!fs::exists(source_)) {
        fmt::print(stderr, "making a {} s lecture clip\n", o_.duration);
        run_one({o_.make_sample, source_, "--duration", std::to_string(o_.duration)}, out_ / "logs" / "make-sample",
                o_.timeout);
      }
    }
    package_ = o_.package.empty() ? out_ / "package" : fs::path(o_.package);
    if (o_.package.empty() && o_.s3) {
      fs::remove_all(package_);
      fmt::print(stderr, "transcoding the package to publish\n");
      run_one({o_.spool, "transcode", source_, package_.string()}, out_ / "logs" / "transcode-package", o_.timeout);
    }
    if (o_.s3) {
      for (const auto& e : fs::recursive_directory_iterator(package_)) {
        if (!e.is_regular_file()) continue;
        files_.push_back(fs::relative(e.path(), package_).generic_string());
        package_bytes_ += e.file_size();
      }
      std::sort(files_.begin(), files_.end());
      if (files_.empty()) fail("the package " + package_.string() + " is empty");
    }
  }

  static bool is_manifest(const std::string& name) {
    return name.ends_with(".m3u8") || name.ends_with(".mpd") || name == "result.json";
  }

  // The progressive MP4 ("720p.mp4" at the top): the engine hands it over with put_file, and the sink
  // may move it away, so it gets a copy of its own in the engine's place (made before the clock runs).
  static bool is_progressive(const std::string& name) {
    return name.ends_with(".mp4") && name.find('/') == std::string::npos;
  }
  fs::path workspace_copy(const std::string& name) const { return out_ / "workspace" / name; }

  /// Publishes the package's files under `prefix` as the engine does: files, then manifests,
  /// result.json last, then commit.
  double spool_publish(spool::storage::store& s3, const std::string& prefix) {
    fs::create_directories(out_ / "workspace");
    for (const auto& name : files_)
      if (is_progressive(name))
        fs::copy_file(package_ / name, workspace_copy(name), fs::copy_options::overwrite_existing);
    const auto t0 = steady::now();
    auto sink = s3.open_package(fmt::format("{}/{}", bucket, prefix), {});
    if (!sink) fail("open_package: " + sink.error().what());
    std::vector<std::string> manifests;
    for (const auto& name : files_) {
      if (is_manifest(name)) {
        manifests.push_back(name);
        continue;
      }
      spool::error e;
      if (is_progressive(name)) {
        e = (*sink)->put_file(name, workspace_copy(name));
      } else {
        const fs::path p = package_ / name;
        std::ifstream in(p, std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        e = (*sink)->put(name, std::as_bytes(std::span(bytes.data(), bytes.size())));
      }
      if (e) fail("put " + name + ": " + e.what());
    }
    std::stable_partition(manifests.begin(), manifests.end(), [](const auto& n) { return n != "result.json"; });
    for (const auto& name : manifests) {
      std::ifstream in(package_ / name, std::ios::binary);
      const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (auto e = (*sink)->put_manifest(name, text)) fail("put_manifest " + name + ": " + e.what());
    }
    if (auto e = (*sink)->commit()) fail("commit: " + e.what());
    return seconds_since(t0);
  }

  /// Objects and bytes under `prefix`, as the AWS CLI lists them.
  std::pair<std::size_t, std::uintmax_t> listed(const std::string& prefix) {
    aws_cli({"s3", "ls", "--recursive", fmt::format("s3://{}/{}/", bucket, prefix)}, "ls-" + prefix);
    std::ifstream in(out_ / "logs" / ("aws-ls-" + prefix + ".stdout.txt"));
    std::size_t n = 0;
    std::uintmax_t bytes = 0;
    std::string date, time;
    std::uintmax_t size = 0;
    std::string key;
    while (in >> date >> time >> size && std::getline(in, key)) {
      ++n;
      bytes += size;
    }
    return {n, bytes};
  }

  void run_s3(int r) {
    if (!s3_) {
      aws::s3_options so;
      so.region = region;
      so.endpoint = endpoint_;
      so.path_style = true;
      so.credentials = aws::static_credentials({"bench", "bench-secret", {}, std::nullopt, "bench"});
      auto s = aws::make_s3_store(so);
      if (!s) fail("make_s3_store: " + s.error().what());
      s3_ = *s;
    }
    const std::string sp = fmt::format("spool-{}", r), cp = fmt::format("cli-{}", r);
    double spool_s = 0, cli_s = 0;
    auto by_spool = [&] { spool_s = spool_publish(*s3_, sp); };
    auto by_cli = [&] {
      cli_s = aws_cli({"s3", "cp", "--recursive", "--only-show-errors", package_.string(),
                       fmt::format("s3://{}/{}/", bucket, cp)},
                      "cp-" + cp)
                  .wall_s;
    };
    if (r % 2) {
      by_spool();
      by_cli();
    } else {
      by_cli();
      by_spool();
    }
    // The CLI's own start-up, which every `aws s3 cp` pays: one HeadBucket.
    const double startup = aws_cli({"s3api", "head-bucket", "--bucket", bucket}, "startup").wall_s;
    at("s3.spool", "S3 publish, spool store", "s").runs.push_back(spool_s);
    at("s3.cli", "S3 publish, aws s3 cp --recursive", "s").runs.push_back(cli_s);
    at("s3.cli_startup", "aws CLI start-up + one request", "s").runs.push_back(startup);
    at("s3.spool_over_cli", "S3 publish time, spool / aws CLI", "x").runs.push_back(spool_s / cli_s);
    if (r == 1) {
      listed_spool_ = listed(sp);
      listed_cli_ = listed(cp);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Peak memory of a worker publishing to S3 against publishing locally.

  void run_memory(int r) {
    const fs::path local = out_ / fmt::format("mem-local-{}", r);
    fs::remove_all(local);
    spool_bench::child_result lr, sr;
    auto to_local = [&] {
      lr = run_one({o_.spool, "transcode", source_, local.string()}, out_ / "logs" / fmt::format("mem-local-{}", r),
                   o_.timeout);
    };
    auto to_s3 = [&] {
      sr = run_one({o_.spool, "transcode", source_, fmt::format("s3://{}/transcode-{}/", bucket, r),
                    "--allow-s3-bucket", bucket},
                   out_ / "logs" / fmt::format("mem-s3-{}", r), o_.timeout);
    };
    if (r % 2) {
      to_local();
      to_s3();
    } else {
      to_s3();
      to_local();
    }
    fs::remove_all(local);
    at("mem.local_rss", "transcode to a local folder, peak RSS", "MB").runs.push_back(lr.max_rss_mb);
    at("mem.s3_rss", "transcode to S3, peak RSS", "MB").runs.push_back(sr.max_rss_mb);
    at("mem.s3_minus_local", "peak RSS, S3 - local", "MB").runs.push_back(sr.max_rss_mb - lr.max_rss_mb);
    at("mem.local_wall", "transcode to a local folder, wall", "s").runs.push_back(lr.wall_s);
    at("mem.s3_wall", "transcode to S3, wall", "s").runs.push_back(sr.wall_s);
  }

  // ---------------------------------------------------------------------------------------------
  // Report.

  const series* find(const std::string& key) const {
    for (const auto& s : series_)
      if (s.key == key) return &s;
    return nullptr;
  }

  void print_table() const {
    fmt::print("# spool-bench-aws\n\n");
    fmt::print("{} run{}, medians; fauxqs on 127.0.0.1; {} cores; load {} -> {}\n\n", o_.runs, o_.runs == 1 ? "" : "s",
               spool_bench::probe_machine().nproc, load_before_, load_after_);
    if (o_.sqs)
      fmt::print("SQS: {} messages of about {} bytes per measure, a fresh queue each\n", o_.messages,
                 messages().front().body.size());
    if (o_.s3)
      fmt::print("S3: package {} ({} files, {:.1f} MB); source {}\n", package_.string(), files_.size(),
                 static_cast<double>(package_bytes_) / 1e6, source_);
    fmt::print("\n| measure | median | unit | per run |\n|---|---:|---|---|\n");
    for (const auto& s : series_) {
      std::string runs;
      for (double v : s.runs) runs += fmt::format("{}{:.3f}", runs.empty() ? "" : " ", v);
      const int digits = s.unit == "msg/s" ? 0 : s.unit == "MB" || s.unit == "msgs" ? 1 : 3;
      fmt::print("| {} | {} | {} | {} |\n", s.label, fixed(s.med(), digits), s.unit, runs);
    }
    auto ratio = [&](const char* a, const char* b) -> std::optional<double> {
      const auto* x = find(a);
      const auto* y = find(b);
      if (!x || !y) return std::nullopt;
      std::vector<double> v;
      for (std::size_t i = 0; i < x->runs.size() && i < y->runs.size(); ++i) v.push_back(x->runs[i] / y->runs[i]);
      return median(v);
    };
    // a / (b - c) per run: spool against the CLI's time without its start-up.
    auto ratio_minus = [&](const char* a, const char* b, const char* c) -> std::optional<double> {
      const auto *x = find(a), *y = find(b), *z = find(c);
      if (!x || !y || !z) return std::nullopt;
      std::vector<double> v;
      for (std::size_t i = 0; i < x->runs.size() && i < y->runs.size() && i < z->runs.size(); ++i)
        if (y->runs[i] > z->runs[i]) v.push_back(x->runs[i] / (y->runs[i] - z->runs[i]));
      return median(v);
    };
    fmt::print("\n| ratio (median of per-run ratios) | value |\n|---|---:|\n");
    if (o_.sqs) {
      fmt::print("| SQS submit, send_batch of 10 / one by one | {} |\n",
                 fixed(ratio("sqs.send_batch10", "sqs.send_single"), 2));
      fmt::print("| SQS receive 10 / receive 1 (with acks) | {} |\n",
                 fixed(ratio("sqs.receive10_ack", "sqs.receive1_ack"), 2));
    }
    if (o_.s3) {
      const auto r = find("s3.spool_over_cli")->med();
      fmt::print("| S3 publish, spool / aws s3 cp (goal <= 1.00) | {} {} |\n", fixed(r, 2),
                 r && *r <= 1.0 ? "met" : "MISSED");
      fmt::print("| S3 publish, spool / (aws s3 cp - aws CLI start-up) (not the goal) | {} |\n",
                 fixed(ratio_minus("s3.spool", "s3.cli", "s3.cli_startup"), 2));
    }
    if (o_.memory) {
      const auto d = find("mem.s3_minus_local")->med();
      fmt::print("| peak RSS S3 - local, MB (goal <= {:.0f}) | {} {} |\n", memory_allowance_mb, fixed(d, 1),
                 d && *d <= memory_allowance_mb ? "met" : "MISSED");
    }
    if (o_.s3)
      fmt::print(
          "\nrun 1 as listed by `aws s3 ls`: spool {} objects / {} bytes, aws CLI {} objects / {} bytes "
          "(local: {} files / {} bytes)\n",
          listed_spool_.first, listed_spool_.second, listed_cli_.first, listed_cli_.second, files_.size(),
          package_bytes_);
  }

  json::object to_json() const {
    json::object root;
    const auto m = spool_bench::probe_machine();
    root["machine"] = {
        {"cores", m.nproc}, {"cpu", m.cpu_model}, {"load_before", load_before_}, {"load_after", load_after_}};
    root["options"] = {{"runs", o_.runs},
                       {"messages", o_.messages},
                       {"duration_s", o_.duration},
                       {"source", source_},
                       {"package", package_.string()},
                       {"package_files", files_.size()},
                       {"package_bytes", package_bytes_}};
    json::array ms;
    for (const auto& s : series_) {
      json::array runs(s.runs.begin(), s.runs.end());
      ms.push_back(json::object{
          {"key", s.key}, {"label", s.label}, {"unit", s.unit}, {"median", num(s.med())}, {"runs", std::move(runs)}});
    }
    root["measures"] = std::move(ms);
    if (o_.s3)
      root["listed_run_1"] = {{"spool_objects", listed_spool_.first},
                              {"spool_bytes", listed_spool_.second},
                              {"cli_objects", listed_cli_.first},
                              {"cli_bytes", listed_cli_.second}};
    return root;
  }

  options o_;
  fs::path out_;
  std::string endpoint_, source_, load_before_, load_after_;
  fs::path package_;
  std::vector<std::string> files_;
  std::uintmax_t package_bytes_ = 0;
  std::shared_ptr<spool::storage::store> s3_;
  std::pair<std::size_t, std::uintmax_t> listed_spool_, listed_cli_;
  std::deque<series> series_;  // at() hands out references that must outlive later additions
};

using spool_bench::parse_number;

std::string parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const bool has = i + 1 < argc;
    const auto text = [&](std::string& t) { return has && !(t = argv[++i]).empty(); };
    const auto number = [&](auto& t, double lo, double hi) {
      return has && parse_number(argv[++i], t) && t >= lo && t <= hi;
    };
    bool ok = true;
    if (a == "--spool")
      ok = text(o.spool);
    else if (a == "--make-sample")
      ok = text(o.make_sample);
    else if (a == "--tools")
      ok = text(o.tools);
    else if (a == "--serve")
      ok = text(o.serve);
    else if (a == "--out")
      ok = text(o.out);
    else if (a == "--json")
      ok = text(o.json_file);
    else if (a == "--source")
      ok = text(o.source);
    else if (a == "--package")
      ok = text(o.package);
    else if (a == "--duration")
      ok = number(o.duration, 1, 3600);
    else if (a == "--messages")
      ok = number(o.messages, 10, 1'000'000);
    else if (a == "--runs")
      ok = number(o.runs, 1, 50);
    else if (a == "--timeout")
      ok = number(o.timeout, 1, 86400);
    else if (a == "--parts") {
      std::string v;
      ok = text(v);
      o.sqs = v.find("sqs") != std::string::npos;
      o.s3 = v.find("s3") != std::string::npos;
      o.memory = v.find("memory") != std::string::npos;
      ok = ok && (o.sqs || o.s3 || o.memory);
    } else if (a == "-h" || a == "--help") {
      fmt::print("{}", usage);
      std::exit(0);
    } else {
      return fmt::format("unknown option {}", a);
    }
    if (!ok) return fmt::format("bad or missing value for {}", a);
  }
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  options o;
  if (auto err = parse_options(argc, argv, o); !err.empty()) {
    fmt::print(stderr, "spool-bench-aws: {}\n{}", err, usage);
    return 2;
  }
  try {
    return bench(std::move(o)).run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "spool-bench-aws: {}\n", e.what());
    return 1;
  }
}
