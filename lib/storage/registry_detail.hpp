#pragma once
// Internal: the built-in backends' factories, registered through the public register_scheme().
#include <spool/storage/store.hpp>

#include <string_view>

namespace spool::inline SPOOL_ABI_NAMESPACE::storage::detail {

result<location> make_local(std::string_view uri);
result<location> make_https(std::string_view uri);

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::storage::detail
