#include "pg_queue.hpp"

#include <spool/queue/registry.hpp>

#include <algorithm>
#include <charconv>

#include "pg_schema.hpp"

namespace pgq {
namespace {

using namespace std::chrono_literals;
using spool::errc;
using steady = std::chrono::steady_clock;

constexpr milliseconds dedup_window = 24h;

bool cancelled(const std::atomic<bool>* cancel) { return cancel && cancel->load(); }

// An id or receipt this backend issued: a decimal number. Anything else was never issued.
bool parse_number(std::string_view s, std::int64_t& out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc{} && end == s.data() + s.size();
}

// Returns at `until`, on a notification naming `queue`, or within 20 ms of *cancel becoming true.
spool::error wait_for_change(connection& c, const std::string& queue, steady::time_point until,
                             const std::atomic<bool>* cancel) {
  for (auto now = steady::now(); now < until && !cancelled(cancel); now = steady::now()) {
    bool woke = false;
    const auto slice = std::min<milliseconds>(20ms, std::chrono::ceil<milliseconds>(until - now));
    if (auto e = c.wait_for_notification(queue, slice, woke)) return e;
    if (woke) break;
  }
  return {};
}

spool::error lease_lost(const q::delivery& d) {
  return {errc::lease_lost, "postgresql: message " + d.message_id + ": receipt " + d.receipt +
                                " is not its current delivery (the lease ran out and it was delivered again, or it "
                                "was acknowledged)"};
}

// A send. With a dedup key, the key is claimed first: a new key (or one whose window has passed)
// takes the fresh id and the row is stored; a remembered key returns its message's id and stores
// nothing. ON CONFLICT makes two concurrent sends of one key wait for each other instead of both
// storing. $1 queue, $2 body, $3 dedup key or NULL, $4 delay in ms.
constexpr const char* send_sql = R"sql(
WITH fresh AS (SELECT nextval('spool_message_ids') AS id),
claim AS (
  INSERT INTO spool_dedup_keys AS k (queue, key, message_id)
  SELECT $1, $3, id FROM fresh WHERE $3::text IS NOT NULL
  ON CONFLICT (queue, key) DO UPDATE SET
    message_id   = CASE WHEN k.forget_after <= statement_timestamp() THEN excluded.message_id ELSE k.message_id END,
    forget_after = CASE WHEN k.forget_after <= statement_timestamp() THEN NULL ELSE k.forget_after END
  RETURNING message_id),
chosen AS (SELECT coalesce((SELECT message_id FROM claim), (SELECT id FROM fresh)) AS id),
stored AS (
  INSERT INTO spool_messages (id, queue, body, dedup_key, sent_at, visible_at)
  SELECT fresh.id, $1, $2::bytea, $3, statement_timestamp(), statement_timestamp() + $4::bigint * interval '1 ms'
  FROM fresh JOIN chosen USING (id)
  RETURNING id)
SELECT chosen.id, NOT EXISTS (SELECT FROM stored), pg_notify('spool_queue', $1) FROM chosen
)sql";

// The heart of it: the oldest visible rows that no other transaction holds, leased in the same
// statement. $1 queue, $2 how many, $3 lease in ms.
constexpr const char* receive_sql = R"sql(
WITH ready AS (
  SELECT id FROM spool_messages
  WHERE queue = $1 AND visible_at <= statement_timestamp()
  ORDER BY visible_at, id
  LIMIT $2
  FOR UPDATE SKIP LOCKED)
UPDATE spool_messages AS m SET
  receipt           = nextval('spool_receipts'),
  receive_count     = m.receive_count + 1,
  first_received_at = coalesce(m.first_received_at, statement_timestamp()),
  visible_at        = statement_timestamp() + $3::bigint * interval '1 ms'
FROM ready WHERE m.id = ready.id
RETURNING m.id, m.body, m.receipt, m.receive_count, (extract(epoch FROM m.sent_at) * 1000)::bigint,
          (extract(epoch FROM m.first_received_at) * 1000)::bigint, (extract(epoch FROM m.visible_at) * 1000)::bigint
)sql";

// Milliseconds until the first leased or delayed row of the queue becomes visible; NULL when none.
constexpr const char* next_visible_sql = R"sql(
SELECT ceil(extract(epoch FROM min(visible_at) - statement_timestamp()) * 1000)::bigint
FROM spool_messages WHERE queue = $1 AND visible_at > statement_timestamp()
)sql";

// The message goes; its dedup key is remembered for the window. $4 the window in ms.
constexpr const char* ack_sql = R"sql(
WITH gone AS (
  DELETE FROM spool_messages WHERE queue = $1 AND id = $2 AND receipt = $3 RETURNING id, dedup_key),
remembered AS (
  UPDATE spool_dedup_keys AS k SET forget_after = statement_timestamp() + $4::bigint * interval '1 ms'
  FROM gone WHERE k.queue = $1 AND k.key = gone.dedup_key AND k.message_id = gone.id)
SELECT id FROM gone
)sql";

// $4 the delay in ms.
constexpr const char* nack_sql = R"sql(
UPDATE spool_messages SET receipt = NULL, visible_at = statement_timestamp() + $4::bigint * interval '1 ms'
WHERE queue = $1 AND id = $2 AND receipt = $3
RETURNING pg_notify('spool_queue', $1)
)sql";

// As nack(0), and the delivery does not count: a shutdown interrupted it, the job did not fail.
constexpr const char* release_sql = R"sql(
UPDATE spool_messages SET receipt = NULL, visible_at = statement_timestamp(), receive_count = receive_count - 1
WHERE queue = $1 AND id = $2 AND receipt = $3
RETURNING pg_notify('spool_queue', $1)
)sql";

// $4 the lease in ms.
constexpr const char* extend_sql = R"sql(
UPDATE spool_messages SET visible_at = statement_timestamp() + $4::bigint * interval '1 ms'
WHERE queue = $1 AND id = $2 AND receipt = $3
RETURNING (extract(epoch FROM visible_at) * 1000)::bigint
)sql";

// Many leases in one statement: $2 the lease in ms, $3 and $4 the ids and receipts, pairwise.
constexpr const char* extend_batch_sql = R"sql(
UPDATE spool_messages AS m SET visible_at = statement_timestamp() + $2::bigint * interval '1 ms'
FROM unnest($3::bigint[], $4::bigint[]) AS d(id, receipt)
WHERE m.queue = $1 AND m.id = d.id AND m.receipt = d.receipt
RETURNING m.id, m.receipt, (extract(epoch FROM m.visible_at) * 1000)::bigint
)sql";

// Leased rows are those whose receipt is held and whose lease has not run out; a row whose lease
// ran out is visible again, although its receipt stays current until the next receive.
constexpr const char* stats_sql = R"sql(
SELECT count(*) FILTER (WHERE visible_at <= statement_timestamp()),
       count(*) FILTER (WHERE visible_at > statement_timestamp() AND receipt IS NOT NULL),
       count(*) FILTER (WHERE visible_at > statement_timestamp() AND receipt IS NULL),
       (SELECT count(*) FROM spool_dead_letters WHERE queue = $1),
       coalesce(extract(epoch FROM statement_timestamp() - min(sent_at)), 0)::float8
FROM spool_messages WHERE queue = $1
)sql";

constexpr const char* forget_sql =
    "DELETE FROM spool_dedup_keys WHERE forget_after IS NOT NULL AND forget_after <= statement_timestamp()";

}  // namespace

spool::result<std::shared_ptr<pg_queue>> pg_queue::open(const queue_address& address) {
  std::shared_ptr<pg_queue> q(new pg_queue(address));
  auto c = q->pool_.acquire();
  if (!c) return c.error();
  if (auto e = create_schema(**c)) return e;
  return q;
}

q::capabilities pg_queue::caps() const noexcept {
  q::capabilities c;
  c.max_batch = 32;               // rows one receive leases
  c.max_message_bytes = 1 << 20;  // bytea holds far more; a job spec is a few KiB
  c.max_delay = 12h;              // a timestamp: any delay works, this keeps mistakes visible
  c.max_lease = 12h;
  c.fencing = true;  // every change matches the receipt
  c.dedup = true;
  c.dedup_window = dedup_window;
  c.durable = true;  // a send returns once PostgreSQL committed it
  c.shared_between_processes = true;
  c.send_batch = true;
  c.atomic_send_batch = true;  // one transaction
  c.stats = true;
  c.extend_batch = true;       // one UPDATE for every lease a worker holds
  c.uncounted_release = true;  // the count is a column: a release takes back its increment
  return c;
}

spool::error pg_queue::over_limit(const char* what, milliseconds got, milliseconds most) const {
  if (got <= most) return {};
  return {errc::invalid_argument, std::string("postgresql queue: a ") + what + " of " + std::to_string(got.count()) +
                                      " ms is over the most this backend takes, " + std::to_string(most.count()) +
                                      " ms"};
}

spool::error pg_queue::check_message(const q::outgoing_message& m) const {
  if (m.body.size() > caps().max_message_bytes)
    return {errc::invalid_argument, "postgresql queue: a body of " + std::to_string(m.body.size()) +
                                        " bytes is over the most this backend takes, " +
                                        std::to_string(caps().max_message_bytes)};
  return over_limit("delay", m.delay, caps().max_delay);
}

spool::result<q::send_result> pg_queue::send_on(connection& c, const q::outgoing_message& m) {
  params p;
  p.text(queue_).binary(m.body);
  if (m.dedup_key.empty())
    p.null();
  else
    p.text(m.dedup_key);
  p.int64(std::max(m.delay, 0ms).count());
  auto r = c.exec("send", send_sql, p);
  if (!r) return r.error();
  return q::send_result{std::string(r->text(0, 0)), r->text(0, 1) == "t"};
}

spool::result<q::send_result> pg_queue::send(const q::outgoing_message& m) {
  if (auto e = check_message(m)) return e;
  auto c = pool_.acquire();
  if (!c) return c.error();
  return send_on(**c, m);
}

spool::result<std::vector<spool::result<q::send_result>>> pg_queue::send_batch(
    const std::vector<q::outgoing_message>& msgs) {
  // All or nothing: a message the backend would refuse fails the whole call before anything is sent.
  for (std::size_t i = 0; i < msgs.size(); ++i)
    if (auto e = check_message(msgs[i])) return spool::error{e.code, "message " + std::to_string(i) + ": " + e.message};
  std::vector<spool::result<q::send_result>> out;
  if (msgs.empty()) return out;
  auto c = pool_.acquire();
  if (!c) return c.error();
  if (auto e = (*c)->command("send_batch", "BEGIN")) return e;
  for (const auto& m : msgs) {
    auto r = send_on(**c, m);
    if (!r) {
      (void)(*c)->command("send_batch", "ROLLBACK");  // if this fails too, the pool drops the connection
      return r.error();
    }
    out.emplace_back(*r);
  }
  if (auto e = (*c)->command("send_batch", "COMMIT")) return e;
  return out;
}

spool::result<std::vector<q::delivery>> pg_queue::take_visible(connection& c, const q::receive_options& o) {
  const std::size_t max = std::clamp<std::size_t>(o.max_messages, 1, caps().max_batch);
  params p;
  p.text(queue_).int64(static_cast<std::int64_t>(max)).int64(o.lease.count());
  auto r = c.exec("receive", receive_sql, p);
  if (!r) return r.error();
  std::vector<q::delivery> out;
  out.reserve(static_cast<std::size_t>(r->size()));
  for (int i = 0; i < r->size(); ++i)
    out.push_back({std::string(r->text(i, 0)), r->bytea(i, 1), std::string(r->text(i, 2)),
                   static_cast<int>(r->int64(i, 3)), r->time(i, 4), r->time(i, 5), r->time(i, 6)});
  return out;
}

spool::result<std::vector<q::delivery>> pg_queue::receive(const q::receive_options& o,
                                                          const std::atomic<bool>* cancel) {
  if (auto e = over_limit("lease", o.lease, caps().max_lease)) return e;
  auto c = pool_.acquire();
  if (!c) return c.error();
  auto got = take_visible(**c, o);
  if (!got || !got->empty() || o.wait <= 0ms || cancelled(cancel)) return got;
  return long_poll(**c, o, cancel);
}

// Nothing was visible: wait for a NOTIFY from a send, nack, release or redrive (every receiver
// LISTENs on one channel; the payload names the queue), or for the first leased or delayed row to
// come due, whichever is first, until `wait` has passed.
spool::result<std::vector<q::delivery>> pg_queue::long_poll(connection& c, const q::receive_options& o,
                                                            const std::atomic<bool>* cancel) {
  const auto deadline = steady::now() + o.wait;
  if (auto e = c.command("receive", "LISTEN spool_queue")) return e;
  spool::result<std::vector<q::delivery>> got = std::vector<q::delivery>{};
  for (;;) {
    got = take_visible(c, o);  // again after LISTEN: a send just before it notified nobody
    if (!got || !got->empty() || steady::now() >= deadline) break;
    auto next = c.exec("receive", next_visible_sql, params().text(queue_));
    if (!next) {
      got = next.error();
      break;
    }
    auto until = deadline;
    if (!next->is_null(0, 0)) until = std::min(until, steady::now() + milliseconds(next->int64(0, 0)));
    if (auto e = wait_for_change(c, queue_, until, cancel)) {
      got = e;
      break;
    }
    if (cancelled(cancel)) break;  // with nothing taken
  }
  if (c.command("receive", "UNLISTEN *")) c.discard();  // never lend out a connection still listening
  return got;
}

spool::result<rows> pg_queue::on_current(const char* what, const char* sql, const q::delivery& d,
                                         const std::vector<std::string>& extra) {
  std::int64_t id = 0, receipt = 0;
  if (!parse_number(d.message_id, id) || !parse_number(d.receipt, receipt)) return lease_lost(d);
  params p;
  p.text(queue_).int64(id).int64(receipt);
  for (const auto& e : extra) p.text(e);
  auto c = pool_.acquire();
  if (!c) return c.error();
  auto r = (*c)->exec(what, sql, p);
  if (!r) return r.error();
  if (r->size() == 0) return lease_lost(d);  // every statement run here returns the rows it changed
  return r;
}

spool::error pg_queue::ack(const q::delivery& d) {
  auto r = on_current("ack", ack_sql, d, {std::to_string(dedup_window.count())});
  if (!r) return r.error();
  forget_expired_keys();
  return {};
}

// Keys whose window has passed, deleted at most once a minute per adapter. A send that meets one
// before then replaces it anyway.
void pg_queue::forget_expired_keys() {
  {
    std::lock_guard lock(purge_mutex_);
    const auto now = steady::now();
    if (now < next_purge_) return;
    next_purge_ = now + 1min;
  }
  // Best effort: the next purge retries.
  if (auto c = pool_.acquire()) (void)(*c)->exec("forgetting expired dedup keys", forget_sql);
}

spool::error pg_queue::nack(const q::delivery& d, milliseconds delay) {
  if (auto e = over_limit("delay", delay, caps().max_delay)) return e;
  auto r = on_current("nack", nack_sql, d, {std::to_string(std::max(delay, 0ms).count())});
  return r ? spool::error{} : r.error();
}

spool::error pg_queue::release(const q::delivery& d) {
  auto r = on_current("release", release_sql, d);
  return r ? spool::error{} : r.error();
}

spool::result<q::clock::time_point> pg_queue::extend(const q::delivery& d, milliseconds lease) {
  if (auto e = over_limit("lease", lease, caps().max_lease)) return e;
  auto r = on_current("extend", extend_sql, d, {std::to_string(lease.count())});
  if (!r) return r.error();
  return r->time(0, 0);
}

std::vector<spool::result<q::clock::time_point>> pg_queue::extend_batch(const std::vector<q::delivery>& ds,
                                                                        milliseconds lease) {
  std::vector<spool::result<q::clock::time_point>> out(ds.size(), spool::error{errc::internal, "not extended"});
  if (auto e = over_limit("lease", lease, caps().max_lease)) {
    std::fill(out.begin(), out.end(), e);
    return out;
  }
  std::string ids = "{", receipts = "{";
  for (const auto& d : ds) {
    std::int64_t id = 0, receipt = 0;
    if (!parse_number(d.message_id, id) || !parse_number(d.receipt, receipt)) continue;
    ids += (ids.size() > 1 ? "," : "") + std::to_string(id);
    receipts += (receipts.size() > 1 ? "," : "") + std::to_string(receipt);
  }
  ids += '}';
  receipts += '}';
  auto c = pool_.acquire();
  auto r = c ? (*c)->exec("extend_batch", extend_batch_sql,
                          params().text(queue_).int64(lease.count()).text(ids).text(receipts))
             : spool::result<rows>(c.error());
  for (std::size_t i = 0; i < ds.size(); ++i) {
    if (!r) {
      out[i] = r.error();
      continue;
    }
    out[i] = lease_lost(ds[i]);
    for (int row = 0; row < r->size(); ++row)
      if (r->text(row, 0) == ds[i].message_id && r->text(row, 1) == ds[i].receipt) out[i] = r->time(row, 2);
  }
  return out;
}

spool::result<q::queue_stats> pg_queue::stats() {
  auto c = pool_.acquire();
  if (!c) return c.error();
  auto r = (*c)->exec("stats", stats_sql, params().text(queue_));
  if (!r) return r.error();
  return q::queue_stats{r->int64(0, 0), r->int64(0, 1), r->int64(0, 2), r->int64(0, 3), r->float8(0, 4)};
}

spool::error register_postgresql_scheme() {
  return q::register_scheme("postgresql", [](std::string_view uri) -> spool::result<std::shared_ptr<q::queue_adapter>> {
    auto address = parse_queue_uri(uri);
    if (!address) return address.error();
    auto queue = pg_queue::open(*address);
    if (!queue) return queue.error();
    return std::shared_ptr<q::queue_adapter>(*queue);
  });
}

}  // namespace pgq
