#pragma once
// Checks of what this backend promises beyond the conformance suite: one UPDATE for many leases,
// queues that share a database without seeing each other, adapters (as separate processes would)
// sharing one queue, and URIs refused with the reason.
#include <spool/test/queue_conformance.hpp>

#include <string>
#include <vector>

namespace pgq {

/// Runs every check against the server `uri` names (a postgresql:// URI without queue=); each
/// check uses queues of its own, named with `prefix`.
std::vector<spool::test::conformance::failure> run_backend_checks(const std::string& uri, const std::string& prefix);

}  // namespace pgq
