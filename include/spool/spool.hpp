#pragma once
// Everything public in spool.
#include <spool/error.hpp>
#include <spool/media/plan.hpp>
#include <spool/media/policy.hpp>
#include <spool/media/probe.hpp>
#include <spool/media/transcode.hpp>
#include <spool/media/transcoder.hpp>
#include <spool/version.hpp>
