// submit, queue stats, dlq list and redrive, status: putting jobs on a queue and looking at it.
#include <spool/job.hpp>
#include <spool/queue/registry.hpp>
#include <spool/queue/submit.hpp>
#include <spool/spool.hpp>

#include <boost/json/parse.hpp>
#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "args.hpp"
#include "report.hpp"

namespace spool::cli {
namespace {

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

class submit_command final : public command {
 public:
  po::options_description options() override {
    auto d = option_group("options");
    d.add_options()  //
        ("input", text(input_)->value_name("IN")->required(),
         "the input: a local path, an https:// URL or s3://BUCKET/KEY")  //
        ("output", text(output_)->value_name("OUTDIR")->required(),
         "where the worker writes the package: a local folder or s3://BUCKET/PREFIX/")  //
        ("idempotency-key", text(idempotency_key_)->value_name("KEY"),
         "resubmitting with the same KEY queues nothing; prints the first id")  //
        ("metadata", text(metadata_)->value_name("JSON"), "any JSON, carried with the job into its status");
    d.add(queue_options(queue_));
    d.add(plan_options(preset_, spec_file_));
    return d;
  }

  int run(const std::vector<std::string>&) override {
    spool::job_spec job;
    job.input = absolute_if_local(input_);
    job.output = absolute_if_local(output_);
    job.idempotency_key = idempotency_key_;
    boost::json::value overrides;
    if (!spec_file_.empty()) {
      std::ifstream f(spec_file_);
      if (!f) return report_error(errc::invalid_spec, "cannot read the spec file " + spec_file_);
      std::stringstream ss;
      ss << f.rdbuf();
      boost::system::error_code jec;
      auto v = boost::json::parse(ss.str(), jec);
      if (jec) return report_error(errc::invalid_spec, "the spec file is not valid JSON: " + jec.message());
      if (!v.is_object()) return report_error(errc::invalid_spec, "the spec file must hold a JSON object");
      overrides = std::move(v);
    }
    if (metadata_) {
      boost::system::error_code jec;
      job.metadata = boost::json::parse(*metadata_, jec);
      if (jec) return report_error(errc::invalid_spec, "--metadata is not valid JSON: " + jec.message());
    }
    // Resolved now, so the worker encodes exactly this; a bad preset or spec is refused before
    // anything is queued.
    auto plan =
        spool::resolve_plan(preset_.empty() ? "hls-ladder" : preset_, overrides.is_null() ? nullptr : &overrides);
    if (!plan) return report_error(plan.error().code, plan.error().what());
    job.plan = *std::move(plan);
    // Refused here, before a queue is even opened (or created), as a worker would refuse it.
    if (auto e = spool::queue::check_job(job)) return report_error(e);

    auto q = spool::queue::open_queue(queue_);
    if (!q) return report_error(q.error());
    auto submitted = spool::queue::submit(**q, job);
    if (!submitted) return report_error(submitted.error());
    // No status is written here: the job's status is the worker's, from the moment one takes it.
    fmt::print("{}\n", submitted->job_id);
    return ok;
  }

 private:
  std::string queue_, input_, output_, idempotency_key_, spec_file_;
  std::string preset_ = "hls-ladder";
  std::optional<std::string> metadata_;
};

class queue_stats_command final : public command {
 public:
  po::options_description options() override {
    auto d = option_group("options");
    d.add_options()  //
        ("jobs-per-worker", number(policy_.jobs_per_worker)->value_name("X")->above(0),
         "the backlog one worker may carry, for recommended_workers");
    d.add(queue_options(queue_));
    return d;
  }

  int run(const std::vector<std::string>&) override {
    auto q = spool::queue::open_queue(queue_);
    if (!q) return report_error(q.error());
    auto counted = (*q)->stats();
    if (!counted) return report_error(counted.error());
    const auto& st = *counted;
    print_json(boost::json::object{{"visible", st.visible},
                                   {"in_flight", st.in_flight},
                                   {"delayed", st.delayed},
                                   {"dead", st.dead},
                                   {"oldest_age_s", st.oldest_age_s},
                                   {"recommended_workers", spool::queue::recommended_workers(st, policy_)}});
    return ok;
  }

 private:
  std::string queue_;
  spool::queue::scaling_policy policy_;
};

/// dlq list and dlq redrive: the dead-letter store of the queue, where the backend has one.
class dlq_command final : public command {
 public:
  explicit dlq_command(bool redrive) : redrive_(redrive) {}

  po::options_description options() override {
    auto d = option_group("options");
    if (redrive_) d.add_options()("id", text(id_)->value_name("JOB_ID"), "only this job; all dead jobs without it");
    d.add(queue_options(queue_));
    return d;
  }

  int run(const std::vector<std::string>&) override {
    auto q = spool::queue::open_queue(queue_);
    if (!q) return report_error(q.error());
    auto* store = (*q)->dead_letters();
    if (!store)
      return report_error({errc::feature_unsupported,
                           "the " + std::string((*q)->type_name()) + " queue backend has no dead-letter store"});
    if (redrive_) {
      auto moved = store->redrive(id_);
      if (!moved) return report_error(moved.error());
      print_json(boost::json::object{{"moved", *moved}});
      return ok;
    }
    // A page at a time: a long dead-letter queue is never all in memory.
    std::string after;
    do {
      auto page = store->list_dead(after, 100);
      if (!page) return report_error(page.error());
      for (const auto& d : page->records)
        print_json(boost::json::object{{"job_id", d.message_id},
                                       {"attempts", d.receive_count},
                                       {"reason", d.reason},
                                       {"error", json_or_null(d.last_error_json)},
                                       {"sent_at", spool::to_iso8601(d.sent_at)},
                                       {"dead_at", spool::to_iso8601(d.dead_at)},
                                       {"job", json_or_null(d.body)}});
      after = std::move(page->next);
    } while (!after.empty());
    return ok;
  }

 private:
  bool redrive_;
  std::string queue_, id_;
};

class status_command final : public command {
 public:
  po::options_description options() override { return option_group("options"); }
  int run(const std::vector<std::string>& operands) override {
    auto st = spool::read_status(operands[0]);
    if (!st) return report_error(st.error().code, st.error().what());
    if (!*st) return report_error(errc::input_unreadable, "no status at " + operands[0]);
    print_json(spool::to_json(**st));
    return ok;
  }
};

constexpr command_entry table[] = {
    {"submit", "", "Checks a job and puts it on the queue; prints its job id (the queue's message id).",
     R"(Local input and output paths are made absolute; the preset (default hls-ladder) and the spec are
resolved and checked before anything is queued. A mem:// queue lives in this process only; a
file:// queue is durable and shared between processes.
)",
     make_command<submit_command>},
    {"status", "OUTDIR", "Prints the job status the worker keeps in OUTDIR/status.json.",
     R"(status prints {"job_id","state","attempt","progress","eta_s","error","updated_at"}.
)",
     make_command<status_command>},
    {"queue stats", "", "Prints the queue's counts and the workers it calls for as JSON.",
     R"(It prints {"visible","in_flight","delayed","dead","oldest_age_s","recommended_workers"};
the last is ceil((visible + in_flight) / jobs-per-worker).
)",
     make_command<queue_stats_command>},
    {"dlq list", "", "Prints the dead-lettered jobs, one JSON object a line.",
     R"(Each line is {"job_id","attempts","reason","error","sent_at","dead_at","job"}.
)",
     [] { return std::unique_ptr<command>(std::make_unique<dlq_command>(false)); }},
    {"dlq redrive", "", "Makes dead jobs visible again and prints {\"moved\":N}.", "",
     [] { return std::unique_ptr<command>(std::make_unique<dlq_command>(true)); }},
};

}  // namespace

std::span<const command_entry> queue_commands() { return table; }

}  // namespace spool::cli
