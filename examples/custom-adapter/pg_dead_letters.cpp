// The dead-letter store: a table of its own. A dead letter leaves spool_messages and enters
// spool_dead_letters in one statement, so a message is always in exactly one of them; a redrive
// moves it back under the same id with a fresh receive count.
#include <charconv>

#include "pg_queue.hpp"

namespace pgq {
namespace {

using spool::errc;

// $4 the reason, $5 the last error's JSON (or '').
constexpr const char* dead_letter_sql = R"sql(
WITH gone AS (
  DELETE FROM spool_messages WHERE queue = $1 AND id = $2 AND receipt = $3
  RETURNING id, body, dedup_key, receive_count, sent_at)
INSERT INTO spool_dead_letters (queue, message_id, body, dedup_key, reason, last_error, receive_count, sent_at, dead_at)
SELECT $1, id, body, dedup_key, $4, $5, receive_count, sent_at, statement_timestamp() FROM gone
RETURNING position
)sql";

// One page in dead-letter order after position $2; one row more than asked says a page follows.
constexpr const char* list_sql = R"sql(
SELECT position, message_id, body, reason, last_error, receive_count,
       (extract(epoch FROM sent_at) * 1000)::bigint, (extract(epoch FROM dead_at) * 1000)::bigint
FROM spool_dead_letters WHERE queue = $1 AND position > $2
ORDER BY position LIMIT $3
)sql";

// One message ($2) or, with $2 NULL, every dead letter of the queue.
constexpr const char* redrive_sql = R"sql(
WITH back AS (
  DELETE FROM spool_dead_letters WHERE queue = $1 AND ($2::bigint IS NULL OR message_id = $2)
  RETURNING message_id, body, dedup_key, sent_at),
stored AS (
  INSERT INTO spool_messages (id, queue, body, dedup_key, sent_at, visible_at)
  SELECT message_id, $1, body, dedup_key, sent_at, statement_timestamp() FROM back
  RETURNING id)
SELECT count(*), pg_notify('spool_queue', $1) FROM stored
)sql";

constexpr std::size_t most_per_page = 1000;

}  // namespace

spool::error pg_queue::dead_letter(const q::delivery& d, const std::string& reason,
                                   const std::string& last_error_json) {
  auto r = on_current("dead_letter", dead_letter_sql, d, {reason, last_error_json});
  return r ? spool::error{} : r.error();
}

spool::result<q::dead_letter_page> pg_queue::list_dead(std::string_view after, std::size_t limit) {
  if (limit == 0) return spool::error{errc::invalid_argument, "postgresql queue: list_dead with a limit of 0"};
  std::int64_t position = 0;
  if (!after.empty()) {
    auto [end, ec] = std::from_chars(after.data(), after.data() + after.size(), position);
    if (ec != std::errc{} || end != after.data() + after.size() || position < 0)
      return spool::error{errc::invalid_argument,
                          "postgresql queue: '" + std::string(after) + "' is not a position list_dead gave"};
  }
  limit = std::min(limit, most_per_page);
  auto c = pool_.acquire();
  if (!c) return c.error();
  auto r = (*c)->exec("list_dead", list_sql,
                      params().text(queue_).int64(position).int64(static_cast<std::int64_t>(limit + 1)));
  if (!r) return r.error();
  q::dead_letter_page page;
  const int n = std::min(r->size(), static_cast<int>(limit));
  for (int i = 0; i < n; ++i)
    page.records.push_back({std::string(r->text(i, 1)), r->bytea(i, 2), std::string(r->text(i, 3)),
                            std::string(r->text(i, 4)), static_cast<int>(r->int64(i, 5)), r->time(i, 6),
                            r->time(i, 7)});
  if (r->size() > n) page.next = std::string(r->text(n - 1, 0));
  return page;
}

spool::result<std::size_t> pg_queue::redrive(const std::string& message_id) {
  params p;
  p.text(queue_);
  if (message_id.empty()) {
    p.null();
  } else {
    std::int64_t id = 0;
    auto [end, ec] = std::from_chars(message_id.data(), message_id.data() + message_id.size(), id);
    if (ec != std::errc{} || end != message_id.data() + message_id.size()) return 0;  // never one of ours
    p.int64(id);
  }
  auto c = pool_.acquire();
  if (!c) return c.error();
  auto r = (*c)->exec("redrive", redrive_sql, p);
  if (!r) return r.error();
  return static_cast<std::size_t>(r->int64(0, 0));
}

}  // namespace pgq
