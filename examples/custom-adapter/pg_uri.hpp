#pragma once
// postgresql:// URIs: libpq's own connection URIs, plus two parameters of the queue's that are taken
// out before the rest reaches libpq.
//
//   postgresql://spool@db.internal:5432/jobs?queue=uploads&pool=8&sslmode=verify-full
//
//   queue  the queue's name (default "default"): many queues share one database's tables
//   pool   the most connections one adapter opens (default 16): a long poll holds one while it waits
#include <spool/error.hpp>

#include <cstddef>
#include <string>
#include <string_view>

namespace pgq {

struct queue_address {
  std::string conninfo;  ///< the URI without queue= and pool=, for PQconnectdb
  std::string queue = "default";
  std::size_t pool_size = 16;
};

/// Splits a postgresql:// URI. A URI libpq would refuse, an empty or overlong queue name or a pool
/// size outside 1..256 is errc::invalid_argument, with the reason.
spool::result<queue_address> parse_queue_uri(std::string_view uri);

/// `uri` naming the queue `name` instead (appends or replaces queue=).
std::string with_queue(std::string_view uri, std::string_view name);

}  // namespace pgq
