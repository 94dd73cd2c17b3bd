#pragma once
// Internal: the aws layer's queue URI schemes, registered with spool::queue::register_scheme.
#include <spool/version.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

void register_sqs_scheme();  // sqs://REGION/ACCOUNT/QUEUE (sqs_uri.cpp)

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
