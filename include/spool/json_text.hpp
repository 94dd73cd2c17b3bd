#pragma once
// JSON as people write it. Boost.JSON prints every double in exponent form ("duration_s": 3E1);
// result.json, status.json, job messages and the CLI's output are read by people and by tools
// alike, so spool prints numbers the shortest way that reads back to the same value ("30",
// "0.1", "1e+300").
#include <spool/version.hpp>

#include <boost/json/value.hpp>

#include <string>

namespace spool::inline SPOOL_ABI_NAMESPACE {

/// Compact JSON text of `v`; a non-finite double (which JSON cannot express) is written as null.
SPOOL_API std::string to_json_text(const boost::json::value& v);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE
