#include <spool/json_text.hpp>
#include <spool/queue/submit.hpp>

#include <utility>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {
namespace {

// The message a job travels as, checked by the same parser the worker reads it with.
result<outgoing_message> message_for(const job_spec& job) {
  job_spec body = job;
  body.job_id.clear();  // the queue names the job
  outgoing_message m{to_json_text(to_json(body)), job.idempotency_key, milliseconds(0)};
  auto as_read = parse_job_spec(m.body);
  if (!as_read) return as_read.error();
  return m;
}

submitted from(send_result r) { return {std::move(r.message_id), r.duplicate, {}}; }

std::string ordinal(std::size_t i, std::size_t n) {
  return "job " + std::to_string(i + 1) + " of " + std::to_string(n);
}

}  // namespace

error check_job(const job_spec& job) {
  auto m = message_for(job);
  return m ? error{} : m.error();
}

result<submitted> submit(queue_adapter& q, const job_spec& job) {
  auto m = message_for(job);
  if (!m) return m.error();
  auto r = q.send(*m);
  if (!r) return r.error();
  return from(std::move(*r));
}

std::vector<result<submitted>> submit_batch(queue_adapter& q, const std::vector<job_spec>& jobs) {
  const std::size_t n = jobs.size();
  std::vector<result<submitted>> out;
  out.reserve(n);
  std::vector<outgoing_message> msgs;
  msgs.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    auto m = message_for(jobs[i]);
    if (!m) {
      // One bad job and nothing goes: each entry says which job it was.
      const error bad{m.error().code, ordinal(i, n) + ": " + m.error().what()};
      for (std::size_t k = 0; k < n; ++k)
        out.emplace_back(k == i ? bad : error{bad.code, "not queued: " + ordinal(i, n) + " is invalid"});
      return out;
    }
    msgs.push_back(std::move(*m));
  }
  if (q.caps().send_batch) {
    auto sent = q.send_batch(msgs);
    if (!sent) {
      for (std::size_t k = 0; k < n; ++k) out.emplace_back(sent.error());
      return out;
    }
    for (std::size_t k = 0; k < n; ++k) {
      if (k >= sent->size()) {
        out.emplace_back(error{errc::internal, "the " + std::string(q.type_name()) +
                                                   " queue backend's send_batch answered fewer entries than jobs"});
      } else if (auto& r = (*sent)[k]; r) {
        out.emplace_back(from(std::move(*r)));
      } else {
        out.emplace_back(error{r.error().code, ordinal(k, n) + ": " + r.error().what()});
      }
    }
    return out;
  }
  // No batch send: one at a time, stopping at the first failure.
  for (std::size_t k = 0; k < n; ++k) {
    auto r = q.send(msgs[k]);
    if (!r) {
      out.emplace_back(error{r.error().code, ordinal(k, n) + ": " + r.error().what()});
      for (std::size_t rest = k + 1; rest < n; ++rest)
        out.emplace_back(error{r.error().code, "not attempted: " + ordinal(k, n) + " failed before it"});
      return out;
    }
    out.emplace_back(from(std::move(*r)));
  }
  return out;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
