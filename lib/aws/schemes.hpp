#pragma once
// Internal: the aws layer's queue URI schemes, registered with spool::queue::register_scheme.
#include <spool/version.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// sqs://REGION/ACCOUNT/QUEUE as a queue backend (sqs_uri.cpp), with endpoint and credentials from the
/// environment. Once; later calls do nothing.
void register_sqs_scheme();

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
