#include "test/conformance/check.hpp"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <set>
#include <sstream>

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail {

std::string describe(const error& e) {
  if (!e) return "success";
  return code_name(e.code) + " (" + e.what() + ")";
}

long long ms_since(steady::time_point t) { return std::chrono::duration_cast<milliseconds>(steady::now() - t).count(); }

long long ms_between(clock::time_point a, clock::time_point b) {
  return std::chrono::duration_cast<milliseconds>(b - a).count();
}

bool checker::operator()(bool ok, const std::string& what, where w) {
  if (!ok) fail(what, w);
  return ok;
}

bool checker::ok(const error& e, const std::string& what, where w) {
  if (e) fail(what + " failed: " + describe(e), w);
  return !e;
}

bool checker::is(const error& e, errc want, const std::string& what, where w) {
  bool good = e.code == make_error_code(want);
  if (!good) fail(what + ": got " + describe(e) + ", want " + code_name(make_error_code(want)), w);
  return good;
}

void checker::fail(const std::string& what, where w) {
  out_.push_back({test_, what + " [" + std::filesystem::path(w.file_name()).filename().string() + ":" +
                             std::to_string(w.line()) + "]"});
}

outgoing_message msg(std::string body, milliseconds delay, std::string dedup_key) {
  outgoing_message m;
  m.body = std::move(body);
  m.delay = delay;
  m.dedup_key = std::move(dedup_key);
  return m;
}

result<std::vector<delivery>> recv(queue_adapter& q, std::size_t max, milliseconds wait, milliseconds lease,
                                   const std::atomic<bool>* cancel) {
  receive_options o;
  o.max_messages = max;
  o.wait = wait;
  o.lease = lease;
  return q.receive(o, cancel);
}

std::vector<delivery> drain(queue_adapter& q, checker& c, milliseconds lease, std::size_t limit) {
  std::vector<delivery> all;
  std::size_t batch = std::max<std::size_t>(1, std::min<std::size_t>(10, q.caps().max_batch));
  while (all.size() < limit) {
    auto got = recv(q, batch, 0ms, lease);
    if (!c.ok(got, "receive (drain)")) break;
    if (got->empty()) break;
    all.insert(all.end(), got->begin(), got->end());
  }
  return all;
}

bool expect_nothing(queue_adapter& q, checker& c, const std::string& when, where w) {
  auto got = recv(q, 10, 0ms, 5000ms);
  if (!got) {
    c.fail("receive " + when + " failed: " + describe(got.error()), w);
    return false;
  }
  if (!got->empty()) {
    const auto& d = got->front();
    c.fail("receive " + when + " returned " + std::to_string(got->size()) + " deliveries (first id " + d.message_id +
               ", receive_count " + std::to_string(d.receive_count) + "), want none",
           w);
    return false;
  }
  return true;
}

bool expect_stats(queue_adapter& q, checker& c, const std::string& when, std::int64_t visible, std::int64_t in_flight,
                  std::int64_t delayed, std::int64_t dead, queue_stats* s_out, where w) {
  if (!q.caps().stats) return true;
  if (!q.dead_letters()) dead = 0;  // no store, nothing dead
  auto s = q.stats();
  if (!s) {
    c.fail("stats " + when + " failed: " + describe(s.error()), w);
    return false;
  }
  if (s_out) *s_out = *s;
  if (s->visible == visible && s->in_flight == in_flight && s->delayed == delayed && s->dead == dead) return true;
  std::ostringstream m;
  m << "stats " << when << ": visible/in_flight/delayed/dead = " << s->visible << '/' << s->in_flight << '/'
    << s->delayed << '/' << s->dead << ", want " << visible << '/' << in_flight << '/' << delayed << '/' << dead;
  c.fail(m.str(), w);
  return false;
}

void expect_empty(queue_adapter& q, checker& c, const std::string& when, where w) {
  expect_nothing(q, c, when, w);
  queue_stats s;
  if (q.caps().stats && expect_stats(q, c, when, 0, 0, 0, 0, &s, w) && s.oldest_age_s != 0)
    c.fail("stats " + when + ": oldest_age_s = " + std::to_string(s.oldest_age_s) + ", want 0", w);
}

bool send1(queue_adapter& q, checker& c, const outgoing_message& m, send_result& r, where w) {
  r = {};
  auto s = q.send(m);
  if (!s) {
    c.fail("send failed: " + describe(s.error()), w);
    return false;
  }
  r = *s;
  if (r.message_id.empty()) {
    c.fail("send returned an empty message_id", w);
    return false;
  }
  return true;
}

bool send_n(queue_adapter& q, checker& c, const std::vector<outgoing_message>& msgs, std::vector<send_result>& r,
            where w) {
  r.clear();
  auto sent = q.send_batch(msgs);
  const std::string what = "send_batch of " + std::to_string(msgs.size());
  if (!sent) {
    c.fail(what + " failed: " + describe(sent.error()), w);
    return false;
  }
  if (sent->size() != msgs.size()) {
    c.fail(what + " gave " + std::to_string(sent->size()) + " entries", w);
    return false;
  }
  for (std::size_t i = 0; i < sent->size(); ++i) {
    const auto& e = (*sent)[i];
    if (!e) {
      c.fail(what + ": entry " + std::to_string(i) + " failed: " + describe(e.error()), w);
      return false;
    }
    if (e->message_id.empty()) {
      c.fail(what + " returned an empty message_id", w);
      return false;
    }
    r.push_back(*e);
  }
  return true;
}

bool recv1(queue_adapter& q, checker& c, delivery& d, milliseconds lease, milliseconds wait, where w) {
  auto got = recv(q, 1, wait, lease);
  if (!got) {
    c.fail("receive failed: " + describe(got.error()), w);
    return false;
  }
  if (got->size() != 1) {
    c.fail("receive (wait " + std::to_string(wait.count()) + " ms) returned " + std::to_string(got->size()) +
               " deliveries, want 1",
           w);
    return false;
  }
  d = got->front();
  return true;
}

std::vector<dead_letter_record> list_all(queue_adapter& q, checker& c, std::size_t page_size, where w) {
  std::vector<dead_letter_record> all;
  auto* store = q.dead_letters();
  if (!store) return all;
  std::string after;
  std::set<std::string> cursors;
  for (int pages = 0; pages < 1000; ++pages) {
    auto page = store->list_dead(after, page_size);
    if (!page) {
      c.fail("list_dead after '" + after + "' failed: " + describe(page.error()), w);
      return all;
    }
    if (page->records.size() > page_size)
      c.fail("list_dead with limit " + std::to_string(page_size) + " returned " + std::to_string(page->records.size()) +
                 " records",
             w);
    all.insert(all.end(), page->records.begin(), page->records.end());
    if (page->next.empty()) return all;
    if (!cursors.insert(page->next).second) {
      c.fail("list_dead returned the position '" + page->next + "' twice: paging does not advance", w);
      return all;
    }
    after = page->next;
  }
  c.fail("list_dead did not reach the end in 1000 pages", w);
  return all;
}

error dead_letter(queue_adapter& q, const delivery& d, const std::string& reason, const std::string& last_error_json) {
  auto* store = q.dead_letters();
  if (!store) return {errc::feature_unsupported, "no dead-letter store"};
  return store->dead_letter(d, reason, last_error_json);
}

std::string first_difference(const std::string& got, const std::string& want) {
  std::size_t n = std::min(got.size(), want.size()), i = 0;
  while (i < n && got[i] == want[i]) ++i;
  std::ostringstream s;
  s << "size " << got.size() << " (want " << want.size() << "), first difference at byte " << i;
  return s.str();
}

test_case make_case(std::string name, std::string clause, std::string summary, case_fn f) {
  test_case t;
  t.name = name;
  t.clause = std::move(clause);
  t.summary = std::move(summary);
  t.run = [name, f](queue_adapter& q, std::vector<failure>& out) {
    checker c(name, out);
    f(q, c);
  };
  return t;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance::detail

namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance {

std::vector<test_case> cases() {
  std::vector<test_case> all;
  for (auto group : {detail::delivery_cases, detail::lease_cases, detail::release_cases, detail::batch_cases,
                     detail::dedup_and_limit_cases, detail::dead_letter_and_stats_cases, detail::declaration_cases,
                     detail::concurrency_cases}) {
    auto g = group();
    all.insert(all.end(), std::make_move_iterator(g.begin()), std::make_move_iterator(g.end()));
  }
  return all;
}

std::vector<failure> run_case(const test_case& t, queue::queue_adapter& q) {
  std::vector<failure> out;
  try {
    t.run(q, out);
  } catch (const std::exception& e) {
    out.push_back({t.name, std::string("threw: ") + e.what()});
  } catch (...) {
    out.push_back({t.name, "threw a non-standard exception"});
  }
  return out;
}

std::vector<failure> run_all(const std::function<std::shared_ptr<queue::queue_adapter>()>& make) {
  std::vector<failure> out;
  for (const auto& t : cases()) {
    std::shared_ptr<queue::queue_adapter> q;
    try {
      q = make();
    } catch (const std::exception& e) {
      out.push_back({t.name, std::string("making a fresh queue threw: ") + e.what()});
      continue;
    }
    if (!q) {
      out.push_back({t.name, "making a fresh queue returned null"});
      continue;
    }
    auto f = run_case(t, *q);
    out.insert(out.end(), f.begin(), f.end());
  }
  return out;
}

std::string to_string(const std::vector<failure>& failures) {
  std::string s;
  for (const auto& f : failures) s += f.test + ": " + f.what + "\n";
  return s;
}

}  // namespace spool::inline SPOOL_ABI_NAMESPACE::test::conformance
