#pragma once
// Internal: sqs://REGION/ACCOUNT/QUEUE[?dead_letter_queue=NAME&message_group_id=GROUP] as options.
#include <spool/aws/sqs.hpp>
#include <spool/error.hpp>

#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::aws {

/// The options an sqs:// URI names (the rest — credentials, endpoint — from the environment).
result<sqs_options> parse_sqs_uri(std::string_view uri);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::aws
