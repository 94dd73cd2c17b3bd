// spool::aws::register_schemes: the aws layer's entries in the queue and storage registries.
#include "aws/schemes.hpp"

#include <spool/aws/aws.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

void register_schemes() {
  register_sqs_scheme();
  register_s3_scheme();
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
