#pragma once
// Internal to the conformance suite: the recorder of failed checks and the helpers every clause's
// cases share.
#include <spool/test/queue_conformance.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <string>
#include <vector>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {

using namespace queue;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using where = std::source_location;

/// Slack for comparisons of wall-clock timestamps a backend reports (it may store milliseconds).
inline constexpr milliseconds timestamp_slack{50};

/// "lease_lost: message 42: ..." or "success".
std::string describe(const error& e);
template <class T>
error error_of(const result<T>& r) {
  return r ? error{} : r.error();
}

long long ms_since(steady::time_point t);
long long ms_between(clock::time_point a, clock::time_point b);

/// Records failures for one case.
class checker {
 public:
  checker(std::string test, std::vector<failure>& out) : test_(std::move(test)), out_(out) {}

  /// Records `what` unless `ok`; returns `ok`.
  bool operator()(bool ok, const std::string& what, where w = where::current());
  /// Expects success.
  bool ok(const error& e, const std::string& what, where w = where::current());
  template <class T>
  bool ok(const result<T>& r, const std::string& what, where w = where::current()) {
    return ok(error_of(r), what, w);
  }
  /// Expects exactly `want`.
  bool is(const error& e, errc want, const std::string& what, where w = where::current());
  template <class T>
  bool is(const result<T>& r, errc want, const std::string& what, where w = where::current()) {
    return is(error_of(r), want, what, w);
  }
  void fail(const std::string& what, where w = where::current());
  const std::string& test() const { return test_; }

 private:
  std::string test_;
  std::vector<failure>& out_;
};

outgoing_message msg(std::string body, milliseconds delay = 0ms, std::string dedup_key = {});

/// Receives with these options.
result<std::vector<delivery>> recv(queue_adapter& q, std::size_t max, milliseconds wait, milliseconds lease,
                                   const std::atomic<bool>* cancel = nullptr);

/// Receives until the queue returns nothing (wait 0), at most `limit` deliveries.
std::vector<delivery> drain(queue_adapter& q, checker& c, milliseconds lease, std::size_t limit = 1000);

/// Expects the queue to hand out nothing right now.
bool expect_nothing(queue_adapter& q, checker& c, const std::string& when, where w = where::current());

/// Expects the counters of stats() (when the backend declares stats; else true); the counts in `s_out`.
bool expect_stats(queue_adapter& q, checker& c, const std::string& when, std::int64_t visible, std::int64_t in_flight,
                  std::int64_t delayed, std::int64_t dead, queue_stats* s_out = nullptr, where w = where::current());

/// Expects the queue to be empty: nothing receivable and, with stats, every counter and oldest_age_s zero.
void expect_empty(queue_adapter& q, checker& c, const std::string& when, where w = where::current());

/// Sends one message; false (and a failure) if that fails.
bool send1(queue_adapter& q, checker& c, const outgoing_message& m, send_result& r, where w = where::current());

/// Sends a batch; false (and a failure) if that fails or does not give one result (with an id) per message.
bool send_n(queue_adapter& q, checker& c, const std::vector<outgoing_message>& msgs, std::vector<send_result>& r,
            where w = where::current());

/// Receives exactly one delivery (waiting up to `wait`); false (and a failure) otherwise.
bool recv1(queue_adapter& q, checker& c, delivery& d, milliseconds lease, milliseconds wait = 0ms,
           where w = where::current());

/// Every dead-letter record, read page by page (`page_size` at a time), checking each page's shape.
/// Empty when the backend has no dead-letter store.
std::vector<dead_letter_record> list_all(queue_adapter& q, checker& c, std::size_t page_size = 2,
                                         where w = where::current());

/// dead_letter through the backend's store; feature_unsupported when it has none.
error dead_letter(queue_adapter& q, const delivery& d, const std::string& reason, const std::string& last_error_json);

std::string first_difference(const std::string& got, const std::string& want);

/// A case of the suite.
using case_fn = void (*)(queue_adapter&, checker&);
test_case make_case(std::string name, std::string clause, std::string summary, case_fn f);

// The cases, by clause (one file each).
std::vector<test_case> delivery_cases();
std::vector<test_case> lease_cases();
std::vector<test_case> release_cases();
std::vector<test_case> batch_cases();
std::vector<test_case> dedup_and_limit_cases();
std::vector<test_case> dead_letter_and_stats_cases();
std::vector<test_case> declaration_cases();
std::vector<test_case> concurrency_cases();

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail
