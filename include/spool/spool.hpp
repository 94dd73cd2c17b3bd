#pragma once
// Everything public in spool.
#include <spool/error.hpp>
#include <spool/job.hpp>
#include <spool/media/log.hpp>
#include <spool/plan.hpp>
#include <spool/input_policy.hpp>
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>
#include <spool/media/transcoder.hpp>
#include <spool/queue/adapter.hpp>
#include <spool/queue/job_queue.hpp>
#include <spool/queue/registry.hpp>
#include <spool/queue/retry.hpp>
#include <spool/queue/scaling.hpp>
#include <spool/version.hpp>
#include <spool/worker/status.hpp>
#include <spool/worker/worker.hpp>
