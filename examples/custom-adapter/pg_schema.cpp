#include "pg_schema.hpp"

namespace pgq {
namespace {

// One implicit transaction (a multi-statement simple query). The advisory lock makes concurrent
// first opens take turns: CREATE ... IF NOT EXISTS alone can still collide on the catalogs.
constexpr const char* schema = R"sql(
SET LOCAL client_min_messages = warning;  -- no "already exists, skipping" notices on every open
SELECT pg_advisory_xact_lock(hashtext('spool queue schema'));

CREATE SEQUENCE IF NOT EXISTS spool_message_ids;
CREATE SEQUENCE IF NOT EXISTS spool_receipts;  -- one per delivery, never reused: the fencing tokens

CREATE TABLE IF NOT EXISTS spool_messages (
  id                bigint      PRIMARY KEY DEFAULT nextval('spool_message_ids'),
  queue             text        NOT NULL,
  body              bytea       NOT NULL,
  dedup_key         text,
  sent_at           timestamptz NOT NULL,
  visible_at        timestamptz NOT NULL,  -- leased: when the lease ends; delayed: when the delay does
  receipt           bigint,                -- the current delivery's; NULL when nobody holds it
  receive_count     integer     NOT NULL DEFAULT 0,
  first_received_at timestamptz
);
CREATE INDEX IF NOT EXISTS spool_messages_by_visibility ON spool_messages (queue, visible_at, id);

CREATE TABLE IF NOT EXISTS spool_dead_letters (
  position      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- dead-letter order; list_dead's cursor
  queue         text        NOT NULL,
  message_id    bigint      NOT NULL,
  body          bytea       NOT NULL,
  dedup_key     text,
  reason        text        NOT NULL,
  last_error    text        NOT NULL,  -- as given: text, not jsonb, so it comes back byte for byte
  receive_count integer     NOT NULL,
  sent_at       timestamptz NOT NULL,
  dead_at       timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS spool_dead_letters_by_queue ON spool_dead_letters (queue, position);
CREATE INDEX IF NOT EXISTS spool_dead_letters_by_message ON spool_dead_letters (queue, message_id);

CREATE TABLE IF NOT EXISTS spool_dedup_keys (
  queue        text        NOT NULL,
  key          text        NOT NULL,
  message_id   bigint      NOT NULL,
  forget_after timestamptz,  -- NULL while the message or its dead letter exists; set by its ack
  PRIMARY KEY (queue, key)
);
CREATE INDEX IF NOT EXISTS spool_dedup_keys_by_expiry ON spool_dedup_keys (forget_after)
  WHERE forget_after IS NOT NULL;
)sql";

}  // namespace

spool::error create_schema(connection& c) { return c.command("creating the queue tables", schema); }

}  // namespace pgq
