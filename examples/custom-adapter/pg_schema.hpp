#pragma once
#include "pg_connection.hpp"

namespace pgq {

/// Creates the queue's tables, indexes and sequences where they are missing; every queue of a
/// database shares them. Safe to run from many processes at once.
spool::error create_schema(connection& c);

}  // namespace pgq
