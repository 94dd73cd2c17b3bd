// spool-bench-queue: throughput and latency of the queue backends, mem:// and file://, through the
// adapter interface, next to the rate at which the same disk commits durable SQLite transactions
// (WAL, synchronous=FULL, one single-row INSERT each): the ceiling for single durable submits.
// Each run measures every backend and the reference side by side, because the machine is noisy;
// the table shows medians over the runs and ratios paired within each run.
#include <spool/job.hpp>
#include <spool/json_text.hpp>
#include <spool/queue/registry.hpp>

#include <boost/json.hpp>
#include <fmt/format.h>

#include <sqlite3.h>
#include <stdlib.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "args.hpp"
#include "machine.hpp"
#include "stats.hpp"

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
namespace q = spool::queue;
using steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

// The goals spool's queues are held to (bench/README.md).
constexpr double target_mem_e2e = 200'000;      // jobs/s, mem:// send -> receive -> ack
constexpr double target_file_single = 0.80;     // file:// single submits / raw durable commits
constexpr double target_file_batched = 20'000;  // jobs/s, file:// send_batch

struct options {
  bool mem = true, file = true;
  std::string dir;          // parent of the scratch directory
  std::optional<int> jobs;  // overrides every count below
  int mem_jobs = 200'000;
  int file_jobs = 3'000;           // raw commits, single submits, receive+ack, end to end
  int file_batched_jobs = 50'000;  // send_batch
  int batch = 100;
  int receive_batch = 0;  // 0 = caps().max_batch
  int runs = 3;
  bool json = false;
  bool dedup = false;
};

constexpr const char* usage =
    "usage: spool-bench-queue [--backend mem|file|all] [--dir DIR] [--jobs N] [--batch 100]\n"
    "                         [--receive-batch N] [--runs 3] [--dedup] [--json]\n";

// ---------------------------------------------------------------------------------------------
// Figures.

/// One measure in one run.
struct sample {
  double jobs_per_s = 0;
  std::optional<double> p50_us, p99_us;
};

/// One row of the table: a measure, its samples over the runs.
struct measure {
  std::string key;         // JSON key, e.g. "file.submit"
  std::string backend;     // "mem", "file" or "raw"
  std::string label;       // table label
  std::string latency_of;  // what p50/p99 time, or "" when the measure has none
  int jobs = 0;
  std::vector<sample> runs;
};

using spool_bench::median;

/// Nearest-rank percentile of durations in nanoseconds, in microseconds.
double percentile_us(std::vector<std::int64_t>& ns, double p) {
  if (ns.empty()) return 0;
  std::sort(ns.begin(), ns.end());
  auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(ns.size()) + 0.999999);
  rank = std::clamp<std::size_t>(rank, 1, ns.size());
  return static_cast<double>(ns[rank - 1]) / 1000.0;
}

std::int64_t ns_since(steady::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now() - t).count();
}
double seconds_since(steady::time_point t) { return std::chrono::duration<double>(steady::now() - t).count(); }

sample with_latency(double jobs_per_s, std::vector<std::int64_t>& ns) {
  return {jobs_per_s, percentile_us(ns, 50), percentile_us(ns, 99)};
}

/// 1234567.8 -> "1,234,568".
std::string grouped(double v) {
  std::string digits = fmt::format("{:.0f}", v);
  std::string out;
  const std::size_t start = digits[0] == '-' ? 1 : 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > start && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

using spool_bench::loadavg;

std::string fs_type(const fs::path& p) {
  struct statfs s {};
  if (::statfs(p.c_str(), &s) != 0) return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
    case 0xEF53: return "ext4";
    case 0x58465342: return "xfs";
    case 0x9123683E: return "btrfs";
    case 0x01021994: return "tmpfs";
    case 0x794c7630: return "overlayfs";
    case 0x2FC12FC1: return "zfs";
    default: return fmt::format("0x{:x}", static_cast<unsigned long>(s.f_type));
  }
}

[[noreturn]] void fail(const std::string& what, const spool::error_code& ec) {
  throw std::runtime_error(what + ": " + ec.message());
}

// ---------------------------------------------------------------------------------------------
// The workload: job specs as basic_job_queue::async_submit queues them.

std::string job_body(int i) {
  spool::job_spec j;
  j.input = fmt::format("/srv/uploads/2024/05/17/lecture-{:08d}.mp4", i);
  j.output = fmt::format("/srv/packages/courses/cs-101/lecture-{:08d}", i);
  j.metadata = {{"course", "cs-101"},
                {"uploader", "user-48151623"},
                {"upload_id", fmt::format("up-{:012d}", i)},
                {"title", "Week 7: hash tables and amortised analysis"}};
  return json::serialize(spool::to_json(j));
}

/// `n` messages with distinct bodies (and distinct dedup keys with --dedup); `salt` keeps keys
/// distinct between the measures that share a queue.
std::vector<q::outgoing_message> make_messages(int n, bool dedup, int salt) {
  std::vector<q::outgoing_message> v(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    v[static_cast<std::size_t>(i)].body = job_body(i);
    if (dedup) v[static_cast<std::size_t>(i)].dedup_key = fmt::format("upload-{}-{}", salt, i);
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// The reference: the disk's durable-commit rate for a single small row, as SQLite does it.

class raw_sqlite {
 public:
  explicit raw_sqlite(const fs::path& path) {
    check(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr));
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=FULL");
    exec("CREATE TABLE jobs (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)");
    begin_ = prepare("BEGIN IMMEDIATE");
    insert_ = prepare("INSERT INTO jobs (body) VALUES (?1)");
    commit_ = prepare("COMMIT");
  }
  ~raw_sqlite() {
    for (auto* s : {begin_, insert_, commit_}) sqlite3_finalize(s);
    sqlite3_close_v2(db_);
  }
  raw_sqlite(const raw_sqlite&) = delete;
  raw_sqlite& operator=(const raw_sqlite&) = delete;

  /// BEGIN IMMEDIATE; INSERT one row; COMMIT.
  void commit_one(const std::string& body) {
    step(begin_);
    sqlite3_bind_blob(insert_, 1, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
    step(insert_);
    step(commit_);
  }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW)
      throw std::runtime_error(std::string("raw SQLite: ") + (db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
  }
  void exec(const char* sql) { check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr)); }
  sqlite3_stmt* prepare(const char* sql) {
    sqlite3_stmt* s = nullptr;
    check(sqlite3_prepare_v2(db_, sql, -1, &s, nullptr));
    return s;
  }
  void step(sqlite3_stmt* s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    check(rc);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt *begin_ = nullptr, *insert_ = nullptr, *commit_ = nullptr;
};

/// Time and per-operation latencies, added up over the chunks of a measure.
struct timing {
  std::vector<std::int64_t> ns;
  double seconds = 0;

  sample result(std::size_t jobs) { return with_latency(static_cast<double>(jobs) / seconds, ns); }
};

using message_iter = std::vector<q::outgoing_message>::const_iterator;

/// One durable commit per message in [first, last).
void raw_commits(raw_sqlite& db, message_iter first, message_iter last, timing& t) {
  const auto t0 = steady::now();
  for (auto it = first; it != last; ++it) {
    const auto t1 = steady::now();
    db.commit_one(it->body);
    t.ns.push_back(ns_since(t1));
  }
  t.seconds += seconds_since(t0);
}

// ---------------------------------------------------------------------------------------------
// The measures on one backend.

/// Opens fresh, empty queues of one backend, and removes what they leave behind.
class backend {
 public:
  backend(std::string name, fs::path dir) : name_(std::move(name)), dir_(std::move(dir)) {}

  const std::string& name() const { return name_; }

  /// A fresh queue; open_again() opens the same one once more (a second connection for file://).
  std::shared_ptr<q::queue_adapter> open_fresh() {
    static int opened = 0;  // mem:// names live as long as the process: never reuse one
    count_ = ++opened;
    return open_again();
  }
  std::shared_ptr<q::queue_adapter> open_again() {
    const std::string uri = name_ == "mem" ? fmt::format("mem://bench-queue-{}-{}", ::getpid(), count_)
                                           : fmt::format("file://{}", (dir_ / db_name()).string());
    auto a = q::open_queue(uri);
    if (!a) fail("open " + uri + " (" + a.error().message + ")", a.error().code);
    return *a;
  }
  /// Deletes the last queue's files (file://); a mem:// queue must have been drained.
  void discard() {
    if (name_ != "file") return;
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(dir_ / (db_name() + suffix), ec);
  }

 private:
  std::string db_name() const { return fmt::format("{}-{}.db", name_, count_); }

  std::string name_;
  fs::path dir_;
  int count_ = 0;
};

std::size_t receive_batch(const options& o, q::queue_adapter& a) {
  const std::size_t max = std::max<std::size_t>(1, a.caps().max_batch);
  return o.receive_batch > 0 ? std::min<std::size_t>(max, static_cast<std::size_t>(o.receive_batch)) : max;
}

q::receive_options receive_opts(std::size_t batch, std::chrono::milliseconds wait) {
  q::receive_options r;
  r.max_messages = batch;
  r.wait = wait;
  r.lease = 600'000ms;
  return r;
}

/// One send per message in [first, last).
void sends(q::queue_adapter& a, message_iter first, message_iter last, timing& t) {
  const auto t0 = steady::now();
  for (auto it = first; it != last; ++it) {
    const auto t1 = steady::now();
    if (auto r = a.send(*it); !r) fail("send", r.error().code);
    t.ns.push_back(ns_since(t1));
  }
  t.seconds += seconds_since(t0);
}

/// send_batch of `batch` messages at a time; per-batch latency.
sample measure_submit_batch(q::queue_adapter& a, const std::vector<q::outgoing_message>& msgs, std::size_t batch) {
  std::vector<std::vector<q::outgoing_message>> parts;
  for (std::size_t i = 0; i < msgs.size(); i += batch)
    parts.emplace_back(msgs.begin() + static_cast<std::ptrdiff_t>(i),
                       msgs.begin() + static_cast<std::ptrdiff_t>(std::min(msgs.size(), i + batch)));
  std::vector<std::int64_t> ns;
  ns.reserve(parts.size());
  const auto t0 = steady::now();
  for (const auto& p : parts) {
    const auto t = steady::now();
    if (auto out = a.send_batch(p); !out) fail("send_batch", out.error().code);
    ns.push_back(ns_since(t));
  }
  const double s = seconds_since(t0);
  return with_latency(static_cast<double>(msgs.size()) / s, ns);
}

/// Receives `n` messages in batches and acks each; per-ack latency.
sample measure_receive_ack(q::queue_adapter& a, std::size_t n, std::size_t batch, double& seconds) {
  std::vector<std::int64_t> ns;
  ns.reserve(n);
  const auto opts = receive_opts(batch, 0ms);
  std::size_t done = 0;
  const auto t0 = steady::now();
  while (done < n) {
    auto received = a.receive(opts);
    if (!received) fail("receive", received.error().code);
    const auto& got = *received;
    if (got.empty()) throw std::runtime_error(fmt::format("receive: the queue ran dry after {} of {}", done, n));
    for (const auto& d : got) {
      const auto t = steady::now();
      if (auto e = a.ack(d)) fail("ack", e.code);
      ns.push_back(ns_since(t));
    }
    done += got.size();
  }
  seconds = seconds_since(t0);
  return with_latency(static_cast<double>(done) / seconds, ns);
}

/// Receives and acks until the queue is empty, untimed.
void drain(q::queue_adapter& a, std::size_t batch) {
  const auto opts = receive_opts(batch, 0ms);
  for (;;) {
    auto got = a.receive(opts);
    if (!got) fail("receive (drain)", got.error().code);
    if (got->empty()) return;
    for (const auto& d : *got)
      if (auto e = a.ack(d)) fail("ack (drain)", e.code);
  }
}

/// A producer thread sends every message, one send each, while a consumer thread receives (long
/// polls) and acks; from the start until the last ack.
sample measure_concurrent(q::queue_adapter& producer_q, q::queue_adapter& consumer_q,
                          const std::vector<q::outgoing_message>& msgs, std::size_t batch) {
  std::atomic<bool> go{false}, stop{false};
  std::string consumer_problem, producer_problem;  // each written by its own thread only
  std::size_t acked = 0;
  steady::time_point t0, t_end;
  {
    std::jthread consumer([&] {
      const auto opts = receive_opts(batch, 100ms);
      auto last_progress = steady::now();
      while (!go.load()) std::this_thread::yield();
      while (acked < msgs.size() && !stop.load()) {
        auto received = consumer_q.receive(opts);
        if (!received) {
          consumer_problem = "receive: " + received.error().what();
          break;
        }
        const auto& got = *received;
        for (const auto& d : got) {
          if (auto e = consumer_q.ack(d)) {
            consumer_problem = "ack: " + e.what();
            break;
          }
          ++acked;
        }
        if (!got.empty())
          last_progress = steady::now();
        else if (steady::now() - last_progress > 30s)
          consumer_problem = "no message for 30 s";
        if (!consumer_problem.empty()) break;
      }
      t_end = steady::now();
      stop = true;
    });
    std::jthread producer([&] {
      while (!go.load()) std::this_thread::yield();
      for (const auto& m : msgs) {
        if (stop.load()) return;
        if (auto r = producer_q.send(m); !r) {
          producer_problem = "send: " + r.error().what();
          stop = true;
          return;
        }
      }
    });
    t0 = steady::now();
    go = true;
  }
  if (!producer_problem.empty() || !consumer_problem.empty())
    throw std::runtime_error("producer and consumer: " + producer_problem + (producer_problem.empty() ? "" : "; ") +
                             consumer_problem);
  const double s = std::chrono::duration<double>(t_end - t0).count();
  return {static_cast<double>(acked) / s, std::nullopt, std::nullopt};
}

// ---------------------------------------------------------------------------------------------

class bench {
 public:
  explicit bench(options o) : o_(std::move(o)) {}

  int run() {
    if (int rc = make_scratch(); rc != 0) return rc;
    load_before_ = loadavg();
    const int mem_n = o_.jobs.value_or(o_.mem_jobs);
    const int file_n = o_.jobs.value_or(o_.file_jobs);
    const int file_batched_n = o_.jobs.value_or(o_.file_batched_jobs);
    body_bytes_ = job_body(0).size();

    if (o_.file) {
      add("raw.commit", "raw", "raw SQLite durable commit, one INSERT each", "commit", file_n);
      add_backend("file", file_n, file_batched_n);
    }
    if (o_.mem) add_backend("mem", mem_n, mem_n);

    for (int r = 1; r <= o_.runs; ++r) {
      if (!o_.json) fmt::print(stderr, "run {} of {}\n", r, o_.runs);
      // The backends take turns going first, so neither always inherits the other's leftovers
      // (page cache, allocator, the disk's write-back).
      const bool file_first = r % 2 == 1;
      if (o_.file && file_first) run_backend("file", file_n, file_batched_n, r);
      if (o_.mem) run_backend("mem", mem_n, mem_n, r);
      if (o_.file && !file_first) run_backend("file", file_n, file_batched_n, r);
    }
    load_after_ = loadavg();
    remove_scratch();
    if (o_.json)
      fmt::print("{}\n", spool::to_json_text(to_json()));
    else
      print_table();
    return 0;
  }

  void remove_scratch() {
    std::error_code ec;
    if (!scratch_.empty()) fs::remove_all(scratch_, ec);
    scratch_.clear();
  }

 private:
  int make_scratch() {
    const fs::path parent = o_.dir.empty() ? fs::path("/tmp") : fs::absolute(o_.dir);
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::string tmpl = (parent / "spool-bench-queue-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) {
      fmt::print(stderr, "spool-bench-queue: cannot create a directory in {}\n", parent.string());
      return 1;
    }
    scratch_ = tmpl;
    fs_type_ = fs_type(scratch_);
    return 0;
  }

  void add(const std::string& key, const std::string& b, const std::string& label, const std::string& latency_of,
           int jobs) {
    measure m;
    m.key = key;
    m.backend = b;
    m.label = label;
    m.latency_of = latency_of;
    m.jobs = jobs;
    index_[key] = measures_.size();
    measures_.push_back(std::move(m));
  }

  void add_backend(const std::string& b, int n, int batched_n) {
    const std::string scheme = b + "://";
    add(b + ".submit", b, scheme + " submit, one send per job", "send", n);
    add(b + ".submit_batch", b, fmt::format("{} submit, send_batch of {}", scheme, o_.batch), "send_batch", batched_n);
    add(b + ".receive_ack", b, scheme + " receive + ack", "ack", n);
    add(b + ".end_to_end_sequential", b, scheme + " end to end, one thread", "", n);
    add(b + ".end_to_end_concurrent", b, scheme + " end to end, producer + consumer", "", n);
  }

  measure& at(const std::string& key) { return measures_[index_.at(key)]; }

  void run_backend(const std::string& b, int n, int batched_n, int run) {
    backend be(b, scratch_);
    const auto msgs = make_messages(n, o_.dedup, run * 4);

    // Single submits (on file://, taking turns with the raw reference), then receive + ack of the
    // same jobs.
    const fs::path raw_db = scratch_ / fmt::format("raw-{}.db", run);
    double submit_s = 0, receive_s = 0;
    {
      auto a = be.open_fresh();
      const std::size_t rb = receive_batch(o_, *a);
      timing submit;
      submit.ns.reserve(msgs.size());
      if (b == "file") {
        // Chunks of the raw reference and of single submits take turns (who goes first alternates),
        // so that a burst of disk load from elsewhere hits both alike.
        raw_sqlite db(raw_db);
        timing raw;
        raw.ns.reserve(msgs.size());
        const std::size_t chunk = std::max<std::size_t>(1, msgs.size() / 12);
        for (std::size_t i = 0, k = 0; i < msgs.size(); i += chunk, ++k) {
          const auto first = msgs.begin() + static_cast<std::ptrdiff_t>(i);
          const auto last = msgs.begin() + static_cast<std::ptrdiff_t>(std::min(msgs.size(), i + chunk));
          if ((k + static_cast<std::size_t>(run)) % 2 == 0) raw_commits(db, first, last, raw);
          sends(*a, first, last, submit);
          if ((k + static_cast<std::size_t>(run)) % 2 == 1) raw_commits(db, first, last, raw);
        }
        at("raw.commit").runs.push_back(raw.result(msgs.size()));
      } else {
        sends(*a, msgs.begin(), msgs.end(), submit);
      }
      submit_s = submit.seconds;
      at(b + ".submit").runs.push_back(submit.result(msgs.size()));
      at(b + ".receive_ack").runs.push_back(measure_receive_ack(*a, msgs.size(), rb, receive_s));
      // The same jobs, sent and then received by one thread.
      at(b + ".end_to_end_sequential").runs.push_back({static_cast<double>(n) / (submit_s + receive_s), {}, {}});
      a.reset();
      be.discard();
    }
    std::error_code ec;
    for (const char* suffix : {"", "-wal", "-shm"}) fs::remove(raw_db.string() + suffix, ec);

    {
      const auto batched = make_messages(batched_n, o_.dedup, run * 4 + 1);
      auto a = be.open_fresh();
      at(b + ".submit_batch").runs.push_back(measure_submit_batch(*a, batched, static_cast<std::size_t>(o_.batch)));
      if (b == "mem") drain(*a, receive_batch(o_, *a));
      a.reset();
      be.discard();
    }
    {
      const auto e2e = make_messages(n, o_.dedup, run * 4 + 2);
      auto a = be.open_fresh();
      at(b + ".end_to_end_concurrent").runs.push_back(measure_concurrent(*a, *a, e2e, receive_batch(o_, *a)));
      a.reset();
      be.discard();
    }
  }

  // ---- report ----

  struct summary {
    std::optional<double> rate, p50, p99, vs_raw;
  };

  summary summarize(const measure& m) {
    summary s;
    std::vector<double> rate, p50, p99, ratio;
    const measure* raw = index_.count("raw.commit") ? &at("raw.commit") : nullptr;
    for (std::size_t i = 0; i < m.runs.size(); ++i) {
      rate.push_back(m.runs[i].jobs_per_s);
      if (m.runs[i].p50_us) p50.push_back(*m.runs[i].p50_us);
      if (m.runs[i].p99_us) p99.push_back(*m.runs[i].p99_us);
      if (raw && i < raw->runs.size() && raw->runs[i].jobs_per_s > 0)
        ratio.push_back(m.runs[i].jobs_per_s / raw->runs[i].jobs_per_s);
    }
    s.rate = median(rate);
    s.p50 = median(p50);
    s.p99 = median(p99);
    s.vs_raw = median(ratio);  // paired within each run
    return s;
  }

  struct target {
    std::string name;
    std::optional<double> value;
    double threshold = 0;
    bool ratio = false;
  };

  std::vector<target> targets() {
    std::vector<target> t;
    if (o_.mem) {
      t.push_back({"mem:// end to end, producer + consumer >= 200,000 jobs/s",
                   summarize(at("mem.end_to_end_concurrent")).rate, target_mem_e2e, false});
      t.push_back({"mem:// end to end, one thread >= 200,000 jobs/s", summarize(at("mem.end_to_end_sequential")).rate,
                   target_mem_e2e, false});
    }
    if (o_.file) {
      t.push_back({"file:// single submits >= 80% of raw durable commits", summarize(at("file.submit")).vs_raw,
                   target_file_single, true});
      t.push_back({"file:// batched submits >= 20,000 jobs/s", summarize(at("file.submit_batch")).rate,
                   target_file_batched, false});
    }
    return t;
  }

  // How a typical durable send compares with a typical bare commit, per run, median over runs. Stalls
  // of a busy disk sway rates (they add to the total time) far more than medians.
  std::optional<double> p50_ratio() {
    if (!o_.file) return std::nullopt;
    const measure& raw = at("raw.commit");
    const measure& send = at("file.submit");
    std::vector<double> ratio;
    for (std::size_t i = 0; i < raw.runs.size() && i < send.runs.size(); ++i)
      if (raw.runs[i].p50_us && send.runs[i].p50_us && *send.runs[i].p50_us > 0)
        ratio.push_back(*raw.runs[i].p50_us / *send.runs[i].p50_us);
    return median(ratio);
  }

  static std::string opt_fmt(const std::optional<double>& v, const char* spec) {
    return v ? fmt::format(fmt::runtime(spec), *v) : "-";
  }

  void print_table() {
    fmt::print("spool-bench-queue: {} run{}, medians; ratios are per-run {} / raw commit rate, median over runs\n",
               o_.runs, o_.runs == 1 ? "" : "s", "rate");
    fmt::print("scratch dir {} ({}), {} cores, load {} -> {}\n", scratch_parent(), fs_type_, cores(), load_before_,
               load_after_);
    fmt::print("body {} bytes (a job spec as JSON){}; receive batches of caps().max_batch{}\n\n", body_bytes_,
               o_.dedup ? ", with dedup keys" : ", no dedup keys",
               o_.receive_batch > 0 ? fmt::format(" capped at {}", o_.receive_batch) : std::string());
    fmt::print("{:<50} {:>7} {:>13} {:>10} {:>10} {:>11} {:>9}\n", "measure", "jobs", "jobs/s", "p50 us", "p99 us",
               "latency of", "x raw");
    fmt::print("{:-<50} {:->7} {:->13} {:->10} {:->10} {:->11} {:->9}\n", "", "", "", "", "", "", "");
    for (const auto& m : measures_) {
      auto s = summarize(m);
      fmt::print("{:<50} {:>7} {:>13} {:>10} {:>10} {:>11} {:>9}\n", m.label, grouped(m.jobs),
                 s.rate ? grouped(*s.rate) : "-", opt_fmt(s.p50, "{:.1f}"), opt_fmt(s.p99, "{:.1f}"),
                 m.latency_of.empty() ? "-" : m.latency_of, opt_fmt(s.vs_raw, "{:.2f}"));
    }
    fmt::print("\ntargets\n");
    for (const auto& t : targets()) {
      const bool met = t.value && *t.value >= t.threshold;
      fmt::print("  {:<58} {:>10}  {}\n", t.name,
                 t.value ? (t.ratio ? fmt::format("{:.2f}", *t.value) : grouped(*t.value)) : "-",
                 met ? "met" : "MISSED");
    }
    if (auto r = p50_ratio())
      fmt::print("  {:<58} {:>10}  (not a target: steadier than rates on a busy disk)\n",
                 "raw commit p50 / file:// send p50", fmt::format("{:.2f}", *r));
    fmt::print("\nper run, jobs/s:\n");
    for (const auto& m : measures_) {
      std::string line;
      for (const auto& r : m.runs) line += fmt::format(" {:>12}", grouped(r.jobs_per_s));
      fmt::print("  {:<48}{}\n", m.key, line);
    }
  }

  json::object to_json() {
    json::object root;
    root["machine"] = {{"cores", cores()},          {"scratch_dir", scratch_parent()},
                       {"filesystem", fs_type_},    {"load_before", load_before_},
                       {"load_after", load_after_}, {"sqlite", sqlite3_libversion()}};
    root["options"] = {{"runs", o_.runs},
                       {"batch", o_.batch},
                       {"receive_batch", o_.receive_batch},
                       {"dedup", o_.dedup},
                       {"body_bytes", body_bytes_}};
    json::array ms;
    for (const auto& m : measures_) {
      auto s = summarize(m);
      json::array runs;
      for (const auto& r : m.runs) {
        json::object o{{"jobs_per_s", r.jobs_per_s}};
        if (r.p50_us) o["p50_us"] = *r.p50_us;
        if (r.p99_us) o["p99_us"] = *r.p99_us;
        runs.push_back(std::move(o));
      }
      auto num = [](const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); };
      ms.push_back(json::object{{"key", m.key},
                                {"backend", m.backend},
                                {"label", m.label},
                                {"jobs", m.jobs},
                                {"latency_of", m.latency_of.empty() ? json::value(nullptr) : json::value(m.latency_of)},
                                {"median_jobs_per_s", num(s.rate)},
                                {"median_p50_us", num(s.p50)},
                                {"median_p99_us", num(s.p99)},
                                {"ratio_to_raw_commit", num(s.vs_raw)},
                                {"runs", std::move(runs)}});
    }
    root["measures"] = std::move(ms);
    json::array orders;  // as run(): file:// first in odd runs
    for (int r = 1; r <= o_.runs; ++r) {
      json::array one;
      if (o_.file && r % 2 == 1) one.push_back("file");
      if (o_.mem) one.push_back("mem");
      if (o_.file && r % 2 == 0) one.push_back("file");
      orders.push_back(std::move(one));
    }
    root["backend_order"] = std::move(orders);
    json::array ts;
    for (const auto& t : targets())
      ts.push_back(json::object{{"target", t.name},
                                {"value", t.value ? json::value(*t.value) : json::value(nullptr)},
                                {"threshold", t.threshold},
                                {"met", t.value && *t.value >= t.threshold}});
    root["targets"] = std::move(ts);
    if (auto r = p50_ratio()) root["raw_commit_p50_over_file_send_p50"] = *r;
    return root;
  }

  std::string scratch_parent() const { return o_.dir.empty() ? "/tmp" : fs::absolute(o_.dir).string(); }
  static long cores() { return ::sysconf(_SC_NPROCESSORS_ONLN); }

  options o_;
  fs::path scratch_;
  std::string fs_type_, load_before_, load_after_;
  std::size_t body_bytes_ = 0;
  std::vector<measure> measures_;
  std::map<std::string, std::size_t> index_;
};

using spool_bench::parse_number;

/// Returns an error message, or an empty string.
std::string parse_options(int argc, char** argv, options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto num = [&](int& target, int lo, int hi) {
      return i + 1 < argc && parse_number(argv[++i], target) && target >= lo && target <= hi;
    };
    bool ok = true;
    if (a == "--backend") {
      const std::string_view v = i + 1 < argc ? argv[++i] : "";
      o.mem = v == "mem" || v == "all";
      o.file = v == "file" || v == "all";
      ok = o.mem || o.file;
    } else if (a == "--dir") {
      ok = i + 1 < argc;
      if (ok) o.dir = argv[++i];
    } else if (a == "--jobs") {
      int n = 0;
      ok = num(n, 1, 100'000'000);
      o.jobs = n;
    } else if (a == "--batch") {
      ok = num(o.batch, 1, 100'000);
    } else if (a == "--receive-batch") {
      ok = num(o.receive_batch, 1, 100'000);
    } else if (a == "--runs") {
      ok = num(o.runs, 1, 50);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--dedup") {
      o.dedup = true;
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
    fmt::print(stderr, "spool-bench-queue: {}\n{}", err, usage);
    return 2;
  }
  bench b(std::move(o));
  try {
    return b.run();
  } catch (const std::exception& e) {
    b.remove_scratch();
    fmt::print(stderr, "spool-bench-queue: {}\n", e.what());
    return 1;
  }
}
