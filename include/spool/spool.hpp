#pragma once
// Everything public in spool, layer by layer.
// The vocabulary every layer shares:
#include <spool/error.hpp>
#include <spool/input_policy.hpp>
#include <spool/io.hpp>
#include <spool/job.hpp>
#include <spool/json_text.hpp>
#include <spool/package_layout.hpp>
#include <spool/plan.hpp>
#include <spool/version.hpp>
// Storage: where inputs come from and packages go.
#include <spool/storage/store.hpp>
// The queue.
#include <spool/queue/adapter.hpp>
#include <spool/queue/job_queue.hpp>
#include <spool/queue/registry.hpp>
#include <spool/queue/retry.hpp>
#include <spool/queue/scaling.hpp>
#include <spool/queue/submit.hpp>
// The media engine.
#include <spool/media/chunks.hpp>
#include <spool/media/log.hpp>
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>
// What composes them: transcoding between locations, the worker.
#include <spool/storage/status.hpp>
#include <spool/transcode.hpp>
#include <spool/transcoder.hpp>
#include <spool/worker/worker.hpp>
