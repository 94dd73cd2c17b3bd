#include "core/faults.hpp"

namespace spool::detail {

fault_hooks& faults() {
  static fault_hooks f;
  return f;
}

}  // namespace spool::detail
