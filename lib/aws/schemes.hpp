#pragma once
// Internal: the storage and queue schemes the aws layer adds to spool's registries.

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// s3://bucket/key as storage, with region, endpoint and credentials from the environment. Once;
/// later calls do nothing.
void register_s3_scheme();

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
