/* PostgreSQL's own statements: the schema's migrations and the claiming due scan. */
#include "store/sql.h"
#include "store/pg_dialect.h"

/* Versioned migrations: the SQLite backend's, in PostgreSQL's dialect, with the same numbers.
 * Append only, never edit one that has shipped. Ids and names compare bytewise (COLLATE "C"),
 * as in SQLite, whatever the database's locale: pages and cursors depend on it. */
const char *const pg_migrations[] = {
    /* 1: tenants, credentials, idempotency, node heartbeats */
    "CREATE TABLE orgs ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  primary_secret TEXT NOT NULL,"
    "  signature_scheme TEXT NOT NULL DEFAULT 'standard',"
    "  created_at BIGINT NOT NULL,"
    "  deleted_at BIGINT);"
    "CREATE INDEX orgs_created ON orgs (created_at, id) WHERE deleted_at IS NULL;"
    "CREATE TABLE api_keys ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  org_id TEXT COLLATE \"C\" REFERENCES orgs (id),"
    "  name TEXT NOT NULL,"
    "  scopes INTEGER NOT NULL,"
    "  secret_hash BYTEA NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  revoked_at BIGINT);"
    "CREATE INDEX api_keys_org ON api_keys (org_id, created_at, id);"
    "CREATE TABLE idempotency ("
    "  scope TEXT COLLATE \"C\" NOT NULL,"
    "  key TEXT COLLATE \"C\" NOT NULL,"
    "  request_hash BYTEA NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  PRIMARY KEY (scope, key));"
    "CREATE INDEX idempotency_created ON idempotency (created_at);"
    "CREATE TABLE nodes ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  started_at BIGINT NOT NULL,"
    "  heartbeat_at BIGINT NOT NULL);",

    /* 2: the outbound pipeline: catalog, endpoints, events, deliveries, attempts */
    "CREATE TABLE event_types ("
    "  name TEXT COLLATE \"C\" PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  schema TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL);"
    "CREATE TABLE endpoints ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  org_id TEXT COLLATE \"C\" NOT NULL REFERENCES orgs (id),"
    "  url TEXT NOT NULL,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  description TEXT NOT NULL DEFAULT '',"
    "  events TEXT NOT NULL DEFAULT '[]',"
    "  headers TEXT NOT NULL DEFAULT '{}',"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  is_active SMALLINT NOT NULL DEFAULT 1,"
    "  timeout_seconds INTEGER NOT NULL DEFAULT 15,"
    "  rate_limit DOUBLE PRECISION,"
    "  max_in_flight INTEGER NOT NULL DEFAULT 10,"
    "  signature_scheme TEXT NOT NULL DEFAULT 'standard',"
    "  secret TEXT NOT NULL,"
    "  previous_secret TEXT,"
    "  previous_secret_expires_at BIGINT,"
    "  verified_at BIGINT,"
    "  last_success_at BIGINT,"
    "  last_failure_at BIGINT,"
    "  consecutive_failures INTEGER NOT NULL DEFAULT 0,"
    "  disabled_at BIGINT,"
    "  disabled_reason TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  deleted_at BIGINT);"
    "CREATE INDEX endpoints_org ON endpoints (org_id, created_at, id) WHERE deleted_at IS NULL;"
    "CREATE TABLE events ("
    "  org_id TEXT COLLATE \"C\" NOT NULL,"
    "  id TEXT COLLATE \"C\" NOT NULL,"
    "  type TEXT COLLATE \"C\" NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"
    "  delivery_count INTEGER NOT NULL,"
    "  CONSTRAINT events_id PRIMARY KEY (org_id, id));"
    "CREATE INDEX events_org_created ON events (org_id, created_at, id);"
    "CREATE TABLE deliveries ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  org_id TEXT COLLATE \"C\" NOT NULL,"
    "  event_id TEXT COLLATE \"C\" NOT NULL,"
    "  endpoint_id TEXT COLLATE \"C\","
    "  url TEXT,"
    "  event_type TEXT NOT NULL,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  node_id TEXT COLLATE \"C\","
    "  attempt_count INTEGER NOT NULL DEFAULT 0,"
    "  schedule_start INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at BIGINT,"
    "  last_attempt_at BIGINT,"
    "  last_response_status INTEGER,"
    "  last_error TEXT,"
    "  created_at BIGINT NOT NULL,"
    "  delivered_at BIGINT);"
    "CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = " SQL_NUM(
        DLV_PENDING_N) ";"
                       "CREATE INDEX deliveries_org ON deliveries (org_id, created_at, id);"
                       "CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at, "
                       "id);"
                       "CREATE INDEX deliveries_event ON deliveries (org_id, event_id);"
                       "CREATE TABLE attempts ("
                       "  id TEXT COLLATE \"C\" PRIMARY KEY,"
                       "  delivery_id TEXT COLLATE \"C\" NOT NULL,"
                       "  n INTEGER NOT NULL,"
                       "  started_at BIGINT NOT NULL,"
                       "  duration_ms INTEGER NOT NULL,"
                       "  response_status INTEGER,"
                       "  response_body TEXT,"
                       "  response_headers TEXT,"
                       "  error TEXT,"
                       "  request_headers TEXT);"
                       "CREATE INDEX attempts_delivery ON attempts (delivery_id, n);",

    /* 3: inbound sources and the messages received on them. A message's headers and dedupe
     * key come from the sender as bytes, not always UTF-8: BYTEA, like the body. */
    "CREATE TABLE sources ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  org_id TEXT COLLATE \"C\" NOT NULL REFERENCES orgs (id),"
    "  name TEXT NOT NULL,"
    "  verification TEXT NOT NULL,"
    "  secret TEXT NOT NULL,"
    "  event_type TEXT,"
    "  forward SMALLINT NOT NULL DEFAULT 1,"
    "  is_active SMALLINT NOT NULL DEFAULT 1,"
    "  tolerance_seconds INTEGER NOT NULL DEFAULT 300,"
    "  created_at BIGINT NOT NULL,"
    "  updated_at BIGINT NOT NULL,"
    "  deleted_at BIGINT);"
    "CREATE INDEX sources_org ON sources (org_id, created_at, id) WHERE deleted_at IS NULL;"
    "CREATE TABLE inbound_messages ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  source_id TEXT COLLATE \"C\" NOT NULL,"
    "  org_id TEXT COLLATE \"C\" NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT,"
    "  http_status INTEGER NOT NULL,"
    "  dedupe_key BYTEA,"
    "  headers BYTEA,"
    "  body BYTEA,"
    "  body_truncated SMALLINT NOT NULL DEFAULT 0,"
    "  event_id TEXT,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX inbound_source ON inbound_messages (source_id, created_at, id);"
    "CREATE INDEX inbound_dedupe ON inbound_messages (source_id, dedupe_key, created_at) WHERE "
    "status = 'accepted';",

    /* 4: room in each page of deliveries for the claim's update of node_id (not indexed) to
     * stay on its page (a HOT update), without new entries in its five indexes */
    "ALTER TABLE deliveries SET (fillfactor = 70);",

    /* 5: more room: a claim updates a page's rows in one transaction, so none of their old
     * versions can be pruned before it ends. At 70, half the claims of a drain left their
     * page (94 us a row claimed); at 50 all stay (39 us), while an outcome's update, never HOT
     * (status is in the due index), costs a little more: drain 5,059 -> 6,013 deliveries/s */
    "ALTER TABLE deliveries SET (fillfactor = 50);",

    /* 6: an org's own retention (days; NULL: the server's --retention) */
    "ALTER TABLE orgs ADD COLUMN retention_days INTEGER;",

    /* 7: an endpoint's stats (§2.4), counted as outcomes are recorded (store_stats.c) */
    "CREATE TABLE endpoint_stats ("
    "  endpoint_id TEXT COLLATE \"C\" NOT NULL,"
    "  bucket BIGINT NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  shard INTEGER NOT NULL,"
    "  n BIGINT NOT NULL,"
    "  PRIMARY KEY (endpoint_id, bucket, kind, shard));",

    /* 8: operational webhooks (issue 15): an org's endpoint for events about its own webhooks,
     * kept out of its lists and fan-out (one per org); a source's rejections in a row, to say
     * it is failing */
    "ALTER TABLE endpoints ADD COLUMN operational SMALLINT NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX endpoints_operational ON endpoints (org_id) WHERE operational = 1 AND "
    "deleted_at IS NULL;"
    "ALTER TABLE sources ADD COLUMN rejected_in_row INTEGER NOT NULL DEFAULT 0;",

    /* 9: the customer portal (issue 16): one-time links exchanged for short sessions, both kept
     * as hashes; an org's branding of its portal */
    "CREATE TABLE portal_sessions ("
    "  id TEXT COLLATE \"C\" PRIMARY KEY,"
    "  org_id TEXT COLLATE \"C\" NOT NULL REFERENCES orgs (id),"
    "  link_hash BYTEA NOT NULL,"
    "  session_hash BYTEA,"
    "  read_only SMALLINT NOT NULL,"
    "  endpoint_ids TEXT,"
    "  expires_in_ms BIGINT NOT NULL,"
    "  expires_at BIGINT NOT NULL,"
    "  exchanged_at BIGINT,"
    "  session_expires_at BIGINT,"
    "  revoked_at BIGINT,"
    "  created_at BIGINT NOT NULL);"
    "CREATE INDEX portal_sessions_org ON portal_sessions (org_id, created_at, id);"
    "ALTER TABLE orgs ADD COLUMN portal_name TEXT;"
    "ALTER TABLE orgs ADD COLUMN portal_logo_url TEXT;"
    "ALTER TABLE orgs ADD COLUMN portal_accent_color TEXT;",

    /* 10: an endpoint's own delivery policy (issue 17): its retry schedule (the --retry-schedule
     * syntax) and disable threshold, NULL for the server's; its payload filter (JSON), NULL for
     * none */
    "ALTER TABLE endpoints ADD COLUMN retry_schedule TEXT;"
    "ALTER TABLE endpoints ADD COLUMN disable_after INTEGER;"
    "ALTER TABLE endpoints ADD COLUMN filter TEXT;",

    /* 11: pull delivery (issue 17): a `poll` endpoint has no URL; its consumer reads its
     * deliveries with the endpoint's own token (kept as a hash), and they are never due for the
     * engine, so only they are in this index */
    "ALTER TABLE endpoints ADD COLUMN kind TEXT NOT NULL DEFAULT 'push';"
    "ALTER TABLE endpoints ADD COLUMN poll_token_hash BYTEA;"
    "CREATE INDEX deliveries_polled ON deliveries (endpoint_id, id) WHERE status = " SQL_NUM(
        DLV_PENDING_N) " AND next_attempt_at = " SQL_NUM(DLV_NEVER_DUE) ";",

    /* 12: FIFO ordering per key (issue 17): an endpoint's `ordering`, the event's key, and each
     * fifo delivery's key (NULL for the others, so that only they are in this index) */
    "ALTER TABLE endpoints ADD COLUMN ordering TEXT NOT NULL DEFAULT 'none';"
    "ALTER TABLE events ADD COLUMN ordering_key TEXT;"
    "ALTER TABLE deliveries ADD COLUMN ordering_key TEXT;"
    "CREATE INDEX deliveries_fifo ON deliveries (endpoint_id, ordering_key, id) WHERE "
    "ordering_key IS NOT NULL AND status = " SQL_NUM(DLV_PENDING_N) ";",
};
const int pg_migration_count = (int)(sizeof pg_migrations / sizeof pg_migrations[0]);

/* Claims what it returns (§4.5): due pending deliveries of the scanning loop's queue keys that
 * no live node holds, and with ?7 those this node holds, become this node's. One statement, so
 * atomic in autocommit on a read connection; SKIP LOCKED lets nodes scanning together take
 * disjoint batches. A row this node holds already is only locked, not written again. */
/* engine/job.h's queue_key_part of a row's queue key, its last two characters */
#define QUEUE_KEY_PART(k) "(ascii(right(" k ", 1)) + 31 * ascii(left(right(" k ", 2), 1)))"

/* clang-format off */
static const char delivery_due[] =
    "WITH picked AS ("
    "  SELECT q.id, q.org_id, q.event_id, q.endpoint_id, q.url, q.event_type, q.attempt_count,"
    "    q.schedule_start, q.next_attempt_at, q.node_id"
    "  FROM deliveries q"
    "  WHERE q.status = " SQL_NUM(DLV_PENDING_N) " AND q.next_attempt_at <= ?2"
    "    AND (q.next_attempt_at, q.id) > (?3, ?4)"
    "    AND " QUEUE_KEY_PART("coalesce(nullif(q.endpoint_id, ''), q.org_id)") " % ?9 = ?8"
    /* a row this node holds is passed over before the look-up of its holder: a look for new
     * work goes over many of them */
    "    AND (q.node_id IS NULL OR (?7 = 1 AND q.node_id = ?1)"
    "      OR (q.node_id <> ?1 AND NOT EXISTS (SELECT 1 FROM nodes n"
    "        WHERE n.id = q.node_id AND n.heartbeat_at >= ?6)))"
    "  ORDER BY q.next_attempt_at, q.id LIMIT ?5 FOR UPDATE OF q SKIP LOCKED),"
    " claimed AS (UPDATE deliveries SET node_id = ?1 FROM picked"
    "  WHERE deliveries.id = picked.id AND picked.node_id IS DISTINCT FROM ?1)"
    " SELECT d.id, d.org_id, d.event_id, coalesce(d.endpoint_id, ''), d.url, d.event_type,"
    "   d.attempt_count, d.schedule_start, d.next_attempt_at, e.payload"
    " FROM picked d JOIN events e ON e.org_id = d.org_id AND e.id = d.event_id"
    " ORDER BY d.next_attempt_at, d.id";
/* clang-format on */

/* The set forms of store_deliveries.c's row statements: each ?n is an array of the rows'
 * values, read with unnest (integers as bigint, cast back on assignment). */
static const char event_insert_rows[] =
    "INSERT INTO events (org_id, id, type, payload, created_at, delivery_count) SELECT * FROM "
    "unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::bigint[], ?6::bigint[]) ON "
    "CONFLICT DO NOTHING";
static const char delivery_insert_rows[] =
    "INSERT INTO deliveries (id, org_id, event_id, endpoint_id, url, event_type, node_id, "
    "attempt_count, schedule_start, next_attempt_at, created_at, ordering_key) SELECT * FROM "
    "unnest(?1::text[], ?2::text[], ?3::text[], ?4::text[], ?5::text[], ?6::text[], ?7::text[], "
    "?8::bigint[], ?9::bigint[], ?10::bigint[], ?11::bigint[], ?12::text[]) ON CONFLICT DO "
    "NOTHING";
static const char attempt_insert_rows[] =
    "INSERT INTO attempts (id, delivery_id, n, started_at, duration_ms, response_status, "
    "response_body, response_headers, error, request_headers) SELECT * FROM unnest(?1::text[], "
    "?2::text[], ?3::bigint[], ?4::bigint[], ?5::bigint[], ?6::bigint[], ?7::text[], "
    "?8::text[], ?9::text[], ?10::text[]) ON CONFLICT DO NOTHING";
static const char delivery_update_rows[] =
    "UPDATE deliveries d SET status = v.status, attempt_count = v.n, next_attempt_at = "
    "v.next_attempt_at, last_attempt_at = v.last_attempt_at, last_response_status = "
    "v.last_response_status, last_error = v.last_error, delivered_at = v.delivered_at FROM "
    "unnest(?1::bigint[], ?2::bigint[], ?3::bigint[], ?4::bigint[], ?5::bigint[], ?6::text[], "
    "?7::bigint[], ?8::text[], ?9::bigint[]) AS v(status, n, next_attempt_at, last_attempt_at, "
    "last_response_status, last_error, delivered_at, id, pending) WHERE d.id = v.id AND "
    "d.status = v.pending";
static const char endpoint_success_rows[] =
    "UPDATE endpoints e SET consecutive_failures = 0, last_success_at = v.at FROM "
    "unnest(?1::bigint[], ?2::text[]) AS v(at, id) WHERE e.id = v.id AND e.is_active = 1 AND "
    "(e.consecutive_failures <> 0 OR e.last_success_at IS NULL OR e.last_success_at < v.at - "
    "1000)";

/* rows of one transaction may share a key (two jobs' outcomes): summed first, as one upsert
 * may not touch a row twice */
static const char stats_add_rows[] =
    "INSERT INTO endpoint_stats (endpoint_id, bucket, kind, shard, n) SELECT v.endpoint_id, "
    "v.bucket, v.kind, v.shard, sum(v.n) FROM unnest(?1::text[], ?2::bigint[], ?3::bigint[], "
    "?4::bigint[], ?5::bigint[]) AS v(endpoint_id, bucket, kind, shard, n) GROUP BY 1, 2, 3, 4 "
    "ORDER BY 1, 2, 3, 4 ON CONFLICT (endpoint_id, bucket, kind, shard) DO UPDATE SET n = "
    "endpoint_stats.n + excluded.n";

const struct sql_dialect pg_dialect = {
    .delivery_due = delivery_due,
    .event_insert_rows = event_insert_rows,
    .endpoint_lock = "SELECT id FROM endpoints WHERE id = ?1 FOR UPDATE",
    .delivery_insert_rows = delivery_insert_rows,
    .attempt_insert_rows = attempt_insert_rows,
    .delivery_update_rows = delivery_update_rows,
    .endpoint_success_rows = endpoint_success_rows,
    .stats_add_rows = stats_add_rows,
};
