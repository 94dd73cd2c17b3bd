#include "worker/faults.hpp"

namespace spool::detail {

worker_faults& faults() {
  static worker_faults f;
  return f;
}

}  // namespace spool::detail
