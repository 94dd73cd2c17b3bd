#pragma once
// Submitting jobs: the one implementation behind basic_job_queue::async_submit and
// async_submit_batch, and the `spool submit` command. A job travels as the JSON of its job_spec;
// the queue's message id becomes the job's id.
#include <spool/job.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/version.hpp>

#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue {

/// What submitting one job did.
struct SPOOL_API submitted {
  std::string job_id;      ///< the queue's message id; empty when the job was not queued
  bool duplicate = false;  ///< its idempotency_key was seen before: job_id is the first job's, nothing new was queued
  std::string message;     ///< on failure, what went wrong, in words (basic_job_queue's completions fill it)
};

/// Checks `job` the way a worker will read it (its preset and plan included): errc::invalid_spec
/// with the reason for a job a worker would refuse. submit and submit_batch check every job with it;
/// call it yourself to refuse a job before a queue is even opened.
SPOOL_API error check_job(const job_spec& job);

/// Checks `job` as check_job does, serialises it and sends it with its idempotency_key as the dedup key. A job a worker
/// would refuse is errc::invalid_spec with the reason, and nothing is queued. A key seen before (for as long as the
/// backend remembers it, caps().dedup_window) queues nothing and gives the first job's id.
SPOOL_API result<submitted> submit(queue_adapter& q, const job_spec& job);

/// Submits several jobs, one entry per job, in order. Every job is checked first: one that a worker
/// would refuse fails the whole batch (its entry says why) and nothing is queued. The jobs then go
/// in one send_batch where the backend has it (caps().send_batch; with caps().atomic_send_batch all
/// of them or none, and on file:// in one durable commit), else in one send each: not atomic, so a
/// failure leaves the jobs before it queued and the ones after it not attempted. Idempotency keys
/// work as in submit, also between jobs of one batch.
SPOOL_API std::vector<result<submitted>> submit_batch(queue_adapter& q, const std::vector<job_spec>& jobs);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue
