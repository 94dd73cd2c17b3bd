#pragma once
// Internal: the schemes the aws layer adds to spool's registries; spool::aws::register_schemes()
// (spool/aws/aws.hpp) calls both. Each may be called again: a later call does nothing.
#include <spool/version.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

void register_sqs_scheme();  // sqs://REGION/ACCOUNT/QUEUE as a queue (sqs_uri.cpp)
void register_s3_scheme();   // s3://bucket/key as storage (s3_scheme.cpp)

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
