#pragma once
// Internal: the built-in backends' registrations, each in its backend's file. The registry calls
// them on its first use, so a static libspool cannot drop them the way a linker drops an object
// file that registers itself from a static initialiser nobody references.
#include <spool/version.hpp>

namespace spool::inline SPOOL_ABI_NAMESPACE::queue::detail {

void register_memory_scheme();  // mem://name (memory_queue.cpp)
void register_file_scheme();    // file:///absolute/path (file_queue.cpp)

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::queue::detail
