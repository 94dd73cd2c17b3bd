#pragma once
// spool on AWS: Amazon SQS as a queue backend (sqs://REGION/ACCOUNT/QUEUE, docs/sqs.md) and Amazon S3
// as storage (s3://bucket/key, docs/s3.md), with credentials, region and endpoints found the way the
// AWS CLI finds them (credentials.hpp, config.hpp). docs/aws.md deploys it.
#include <spool/aws/config.hpp>
#include <spool/aws/credentials.hpp>
#include <spool/aws/presign.hpp>
#include <spool/aws/s3.hpp>
#include <spool/aws/sqs.hpp>
#include <spool/version.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// Adds sqs:// to the queue schemes (spool::queue::open_queue) and s3:// to the storage schemes
/// (spool::storage::resolve, so jobs may read from and publish to S3). Call it once at start, before
/// opening queues or running a worker; calling it again does nothing. The backends are made when a
/// URI is first opened, reading the environment then.
SPOOL_API void register_schemes();

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
