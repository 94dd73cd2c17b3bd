// The conformance suite must catch a backend that breaks the contract. Each mutant below is mem://
// broken in one way, behind a queue_wrapper; the cases named for it must report failures, and the
// same cases pass on mem:// itself (the control), so the failures come from the mutation.
#include <spool/queue/registry.hpp>
#include <spool/test/faulty_queue.hpp>
#include <spool/test/queue_conformance.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "queue_helpers.hpp"

namespace q = spool::queue;
namespace conf = spool::test::conformance;
using namespace std::chrono_literals;
using spool::errc;
using spool::error;
using spool::result;

namespace {

enum class mutation {
  none,
  stale_ack_accepted,      // claims fencing, but an ack with a stale receipt "succeeds"
  receipt_per_message,     // one receipt for every delivery of a message
  lease_never_expires,     // every lease is the longest there is
  count_stuck_at_one,      // receive_count never grows
  send_delay_ignored,      // a delayed send is visible at once
  nack_delay_ignored,      // a nack's delay is dropped
  dedup_ignored,           // claims dedup, forgets every key
  one_at_a_time,           // receive never returns more than one
  cancel_ignored,          // a long poll does not see the cancel flag
  no_long_poll,            // receive never waits
  release_counts,          // claims uncounted_release, but release is a nack
  stats_off_by_one,        // one more visible message than there is
  page_limit_ignored,      // list_dead returns up to ten times the limit
  page_restarts,           // list_dead ignores `after`
  batch_not_atomic,        // claims atomic_send_batch, stores up to the bad message
  declared_stats_missing,  // declares stats, answers feature_unsupported
  undeclared_stats_works,  // does not declare stats, answers anyway
  unsupported_unnamed,     // an undeclared send_batch answers feature_unsupported without saying what
  limits_clamped,          // a delay over the limit is clamped instead of refused
  bodies_cut_at_nul,       // bodies end at their first NUL byte
  delivered_twice,         // each delivery appears twice in a receive
  dead_letter_drops,       // dead_letter acks: the record is lost
};

class mutant : public spool::test::queue_wrapper {
 public:
  mutant(std::shared_ptr<q::queue_adapter> inner, mutation m) : queue_wrapper(std::move(inner)), m_(m) {}

  q::capabilities caps() const noexcept override {
    auto c = queue_wrapper::caps();
    if (m_ == mutation::undeclared_stats_works) c.stats = false;
    if (m_ == mutation::unsupported_unnamed) c.send_batch = c.atomic_send_batch = false;
    return c;
  }

  result<q::send_result> send(const q::outgoing_message& m) override {
    auto copy = m;
    if (m_ == mutation::send_delay_ignored) copy.delay = 0ms;
    if (m_ == mutation::dedup_ignored) copy.dedup_key.clear();
    if (m_ == mutation::limits_clamped) copy.delay = std::min(copy.delay, caps().max_delay);
    if (m_ == mutation::bodies_cut_at_nul) copy.body = copy.body.substr(0, copy.body.find('\0'));
    return queue_wrapper::send(copy);
  }

  result<std::vector<result<q::send_result>>> send_batch(const std::vector<q::outgoing_message>& msgs) override {
    if (m_ == mutation::unsupported_unnamed) return error{errc::feature_unsupported};
    if (m_ == mutation::batch_not_atomic) {
      std::vector<result<q::send_result>> out;
      for (const auto& m : msgs) {
        auto r = send(m);
        if (!r) return r.error();
        out.push_back(std::move(r));
      }
      return out;
    }
    if (m_ != mutation::dedup_ignored) return queue_wrapper::send_batch(msgs);
    auto copy = msgs;
    for (auto& m : copy) m.dedup_key.clear();
    return queue_wrapper::send_batch(copy);
  }

  result<std::vector<q::delivery>> receive(const q::receive_options& options,
                                           const std::atomic<bool>* cancel) override {
    auto o = options;
    if (m_ == mutation::lease_never_expires && o.lease <= caps().max_lease) o.lease = caps().max_lease;
    if (m_ == mutation::one_at_a_time) o.max_messages = 1;
    if (m_ == mutation::cancel_ignored) cancel = nullptr;
    if (m_ == mutation::no_long_poll) o.wait = 0ms;
    auto got = queue_wrapper::receive(o, cancel);
    if (!got) return got;
    std::vector<q::delivery> out;
    for (auto d : *got) {
      if (m_ == mutation::count_stuck_at_one) d.receive_count = 1;
      if (m_ == mutation::receipt_per_message) {
        std::lock_guard lock(mutex_);
        real_receipt_[d.message_id] = d.receipt;
        d.receipt = "r-" + d.message_id;
      }
      out.push_back(d);
      if (m_ == mutation::delivered_twice) out.push_back(d);
    }
    return out;
  }

  error ack(const q::delivery& d) override {
    auto e = queue_wrapper::ack(real(d));
    if (m_ == mutation::stale_ack_accepted && e.code == errc::lease_lost) return {};
    return e;
  }
  error nack(const q::delivery& d, std::chrono::milliseconds delay) override {
    if (m_ == mutation::nack_delay_ignored && delay <= caps().max_delay) delay = 0ms;
    if (m_ == mutation::limits_clamped) delay = std::min(delay, caps().max_delay);
    return queue_wrapper::nack(real(d), delay);
  }
  error release(const q::delivery& d) override {
    if (m_ == mutation::release_counts) return queue_wrapper::nack(real(d), 0ms);
    return queue_wrapper::release(real(d));
  }
  result<q::clock::time_point> extend(const q::delivery& d, std::chrono::milliseconds lease) override {
    return queue_wrapper::extend(real(d), lease);
  }
  result<q::queue_stats> stats() override {
    if (m_ == mutation::declared_stats_missing) return unsupported("stats");
    auto s = queue_wrapper::stats();
    if (s && m_ == mutation::stats_off_by_one) ++s->visible;
    return s;
  }

  error dead_letter(const q::delivery& d, const std::string& reason, const std::string& last_error_json) override {
    if (m_ == mutation::dead_letter_drops) return queue_wrapper::ack(real(d));
    return queue_wrapper::dead_letter(real(d), reason, last_error_json);
  }
  result<q::dead_letter_page> list_dead(std::string_view after, std::size_t limit) override {
    if (m_ == mutation::page_limit_ignored) limit *= 10;
    if (m_ == mutation::page_restarts) after = {};
    return queue_wrapper::list_dead(after, limit);
  }

 private:
  // The backend's receipt behind a mutated one.
  q::delivery real(q::delivery d) {
    if (m_ != mutation::receipt_per_message) return d;
    std::lock_guard lock(mutex_);
    if (auto it = real_receipt_.find(d.message_id); it != real_receipt_.end() && d.receipt == "r-" + d.message_id)
      d.receipt = it->second;
    return d;
  }

  mutation m_;
  std::mutex mutex_;
  std::map<std::string, std::string> real_receipt_;
};

// Runs the named cases on fresh mutants; returns the failures.
std::vector<conf::failure> run(mutation m, const std::set<std::string>& names) {
  std::vector<conf::failure> all;
  std::set<std::string> found;
  for (const auto& c : conf::cases()) {
    if (!names.count(c.name)) continue;
    found.insert(c.name);
    mutant queue(q::make_memory_queue(queue_test::unique("mutant")), m);
    auto f = conf::run_case(c, queue);
    all.insert(all.end(), f.begin(), f.end());
  }
  REQUIRE(found == names);  // no misspelt case name
  return all;
}

// The mutation is caught by (at least one of) `names`, which pass without it.
void caught_by(mutation m, const std::set<std::string>& names) {
  auto control = run(mutation::none, names);
  INFO("without the mutation:\n" << conf::to_string(control));
  CHECK(control.empty());
  auto failures = run(m, names);
  INFO("with it:\n" << conf::to_string(failures));
  CHECK_FALSE(failures.empty());
}

}  // namespace

TEST_CASE("Queue::Conformance::Mutants: fencing", "[queue][conformance][mutation]") {
  caught_by(mutation::stale_ack_accepted, {"lease_expiry_redelivers"});
  caught_by(mutation::stale_ack_accepted, {"double_ack_is_lease_lost"});
  caught_by(mutation::receipt_per_message, {"lease_expiry_redelivers"});
}

TEST_CASE("Queue::Conformance::Mutants: leases and counts", "[queue][conformance][mutation]") {
  caught_by(mutation::lease_never_expires, {"lease_expiry_redelivers"});
  caught_by(mutation::count_stuck_at_one, {"nack_zero_redelivers_at_once"});
  caught_by(mutation::release_counts, {"release_gives_back"});
}

TEST_CASE("Queue::Conformance::Mutants: delays", "[queue][conformance][mutation]") {
  caught_by(mutation::send_delay_ignored, {"send_delay"});
  caught_by(mutation::nack_delay_ignored, {"nack_delay"});
  caught_by(mutation::limits_clamped, {"limits_refused"});
}

TEST_CASE("Queue::Conformance::Mutants: delivery and long poll", "[queue][conformance][mutation]") {
  caught_by(mutation::one_at_a_time, {"batch_receive"});
  caught_by(mutation::cancel_ignored, {"long_poll_cancel"});
  caught_by(mutation::no_long_poll, {"long_poll_wakes_on_send"});
  caught_by(mutation::bodies_cut_at_nul, {"binary_bodies"});
  caught_by(mutation::delivered_twice, {"batch_receive"});
}

TEST_CASE("Queue::Conformance::Mutants: dedup and batches", "[queue][conformance][mutation]") {
  caught_by(mutation::dedup_ignored, {"dedup_key"});
  caught_by(mutation::dedup_ignored, {"send_batch_dedup"});
  caught_by(mutation::batch_not_atomic, {"send_batch_all_or_nothing"});
}

TEST_CASE("Queue::Conformance::Mutants: dead letters and stats", "[queue][conformance][mutation]") {
  caught_by(mutation::stats_off_by_one, {"send_receive_ack"});
  caught_by(mutation::page_limit_ignored, {"dead_letter_paging"});
  caught_by(mutation::page_restarts, {"dead_letter_paging"});
  caught_by(mutation::dead_letter_drops, {"dead_letter_and_redrive"});
}

TEST_CASE("Queue::Conformance::Mutants: declarations", "[queue][conformance][mutation]") {
  caught_by(mutation::declared_stats_missing, {"declared_operations_work"});
  caught_by(mutation::undeclared_stats_works, {"undeclared_operations_unsupported"});
  caught_by(mutation::unsupported_unnamed, {"undeclared_operations_unsupported"});
}
