#include "core/faults.hpp"

namespace spool::inline SPOOL_ABI_NAMESPACE::detail {

fault_hooks& faults() {
  static fault_hooks f;
  return f;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::detail
