/* SQLite's own statements: the schema's migrations and the due scan. */
#include "store/sql.h"
#include "store/sqlite_dialect.h"

/* Versioned migrations: append only, never edit one that has shipped. */
const char *const sqlite_migrations[] = {
    /* 1: tenants, credentials, idempotency, node heartbeats */
    "CREATE TABLE orgs ("
    "  id TEXT PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  primary_secret TEXT NOT NULL,"
    "  signature_scheme TEXT NOT NULL DEFAULT 'standard',"
    "  created_at INTEGER NOT NULL,"
    "  deleted_at INTEGER);"
    "CREATE INDEX orgs_created ON orgs (created_at, id) WHERE deleted_at IS NULL;"
    "CREATE TABLE api_keys ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT REFERENCES orgs (id),"
    "  name TEXT NOT NULL,"
    "  scopes INTEGER NOT NULL,"
    "  secret_hash BLOB NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  revoked_at INTEGER);"
    "CREATE INDEX api_keys_org ON api_keys (org_id, created_at, id);"
    "CREATE TABLE idempotency ("
    "  scope TEXT NOT NULL,"
    "  key TEXT NOT NULL,"
    "  request_hash BLOB NOT NULL,"
    "  status INTEGER NOT NULL,"
    "  body TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  PRIMARY KEY (scope, key));"
    "CREATE INDEX idempotency_created ON idempotency (created_at);"
    "CREATE TABLE nodes ("
    "  id TEXT PRIMARY KEY,"
    "  started_at INTEGER NOT NULL,"
    "  heartbeat_at INTEGER NOT NULL);",

    /* 2: the outbound pipeline: catalog, endpoints, events, deliveries, attempts */
    "CREATE TABLE event_types ("
    "  name TEXT PRIMARY KEY,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  schema TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE endpoints ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES orgs (id),"
    "  url TEXT NOT NULL,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  description TEXT NOT NULL DEFAULT '',"
    "  events TEXT NOT NULL DEFAULT '[]',"
    "  headers TEXT NOT NULL DEFAULT '{}',"
    "  metadata TEXT NOT NULL DEFAULT '{}',"
    "  is_active INTEGER NOT NULL DEFAULT 1,"
    "  timeout_seconds INTEGER NOT NULL DEFAULT 15,"
    "  rate_limit REAL,"
    "  max_in_flight INTEGER NOT NULL DEFAULT 10,"
    "  signature_scheme TEXT NOT NULL DEFAULT 'standard',"
    "  secret TEXT NOT NULL,"
    "  previous_secret TEXT,"
    "  previous_secret_expires_at INTEGER,"
    "  verified_at INTEGER,"
    "  last_success_at INTEGER,"
    "  last_failure_at INTEGER,"
    "  consecutive_failures INTEGER NOT NULL DEFAULT 0,"
    "  disabled_at INTEGER,"
    "  disabled_reason TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deleted_at INTEGER);"
    "CREATE INDEX endpoints_org ON endpoints (org_id, created_at, id) WHERE deleted_at IS NULL;"
    /* rowid tables for the rows of a kilobyte or more: WITHOUT ROWID would push each into an
     * overflow page of its own */
    "CREATE TABLE events ("
    "  org_id TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  delivery_count INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX events_id ON events (org_id, id);"
    "CREATE INDEX events_org_created ON events (org_id, created_at, id);"
    "CREATE TABLE deliveries ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL,"
    "  event_id TEXT NOT NULL,"
    "  endpoint_id TEXT,"
    "  url TEXT,"
    "  event_type TEXT NOT NULL,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  node_id TEXT,"
    "  attempt_count INTEGER NOT NULL DEFAULT 0,"
    "  schedule_start INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER,"
    "  last_attempt_at INTEGER,"
    "  last_response_status INTEGER,"
    "  last_error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  delivered_at INTEGER) WITHOUT ROWID;"
    "CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = " SQL_NUM(
        DLV_PENDING_N) ";"
                       "CREATE INDEX deliveries_org ON deliveries (org_id, created_at, id);"
                       "CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at, "
                       "id);"
                       "CREATE INDEX deliveries_event ON deliveries (org_id, event_id);"
                       "CREATE TABLE attempts ("
                       "  id TEXT NOT NULL UNIQUE,"
                       "  delivery_id TEXT NOT NULL,"
                       "  n INTEGER NOT NULL,"
                       "  started_at INTEGER NOT NULL,"
                       "  duration_ms INTEGER NOT NULL,"
                       "  response_status INTEGER,"
                       "  response_body TEXT,"
                       "  response_headers TEXT,"
                       "  error TEXT,"
                       "  request_headers TEXT);"
                       "CREATE INDEX attempts_delivery ON attempts (delivery_id, n);",

    /* 3: inbound sources and the messages received on them */
    "CREATE TABLE sources ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES orgs (id),"
    "  name TEXT NOT NULL,"
    "  verification TEXT NOT NULL,"
    "  secret TEXT NOT NULL,"
    "  event_type TEXT,"
    "  forward INTEGER NOT NULL DEFAULT 1,"
    "  is_active INTEGER NOT NULL DEFAULT 1,"
    "  tolerance_seconds INTEGER NOT NULL DEFAULT 300,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  deleted_at INTEGER);"
    "CREATE INDEX sources_org ON sources (org_id, created_at, id) WHERE deleted_at IS NULL;"
    "CREATE TABLE inbound_messages ("
    "  id TEXT NOT NULL UNIQUE,"
    "  source_id TEXT NOT NULL,"
    "  org_id TEXT NOT NULL,"
    "  status TEXT NOT NULL,"
    "  reason TEXT,"
    "  http_status INTEGER NOT NULL,"
    "  dedupe_key TEXT,"
    "  headers TEXT,"
    "  body BLOB,"
    "  body_truncated INTEGER NOT NULL DEFAULT 0,"
    "  event_id TEXT,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX inbound_source ON inbound_messages (source_id, created_at, id);"
    "CREATE INDEX inbound_dedupe ON inbound_messages (source_id, dedupe_key, created_at) WHERE "
    "status = 'accepted';",

    /* 4: attempts are only ever read by delivery, and their ids are unique by construction:
     * no unique index on id, one B-tree fewer written per attempt. Still a rowid table: an
     * attempt with a response body runs to 1-2.5 KB, which WITHOUT ROWID would push into an
     * overflow page of its own. */
    "CREATE TABLE attempts_v4 ("
    "  id TEXT NOT NULL,"
    "  delivery_id TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  started_at INTEGER NOT NULL,"
    "  duration_ms INTEGER NOT NULL,"
    "  response_status INTEGER,"
    "  response_body TEXT,"
    "  response_headers TEXT,"
    "  error TEXT,"
    "  request_headers TEXT);"
    "INSERT INTO attempts_v4 SELECT id, delivery_id, n, started_at, duration_ms, "
    "response_status, response_body, response_headers, error, request_headers FROM attempts "
    "ORDER BY rowid;"
    "DROP TABLE attempts;"
    "ALTER TABLE attempts_v4 RENAME TO attempts;"
    "CREATE INDEX attempts_delivery ON attempts (delivery_id, n);",

    /* 5: a message's dedupe key and headers are bytes, bound as BLOBs like its body, which
     * never compare equal to TEXT */
    "UPDATE inbound_messages SET dedupe_key = CAST(dedupe_key AS BLOB), headers = "
    "CAST(headers AS BLOB);",

    /* 6: an org's own retention (days; NULL: the server's --retention) */
    "ALTER TABLE orgs ADD COLUMN retention_days INTEGER;",

    /* 7: an endpoint's stats (§2.4), counted as outcomes are recorded (store_stats.c) */
    "CREATE TABLE endpoint_stats ("
    "  endpoint_id TEXT NOT NULL,"
    "  bucket INTEGER NOT NULL,"
    "  kind INTEGER NOT NULL,"
    "  shard INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY (endpoint_id, bucket, kind, shard)) WITHOUT ROWID;",

    /* 8: operational webhooks (issue 15): an org's endpoint for events about its own webhooks,
     * kept out of its lists and fan-out (one per org); a source's rejections in a row, to say
     * it is failing */
    "ALTER TABLE endpoints ADD COLUMN operational INTEGER NOT NULL DEFAULT 0;"
    "CREATE UNIQUE INDEX endpoints_operational ON endpoints (org_id) WHERE operational = 1 AND "
    "deleted_at IS NULL;"
    "ALTER TABLE sources ADD COLUMN rejected_in_row INTEGER NOT NULL DEFAULT 0;",

    /* 9: the customer portal (issue 16): one-time links exchanged for short sessions, both kept
     * as hashes; an org's branding of its portal */
    "CREATE TABLE portal_sessions ("
    "  id TEXT PRIMARY KEY,"
    "  org_id TEXT NOT NULL REFERENCES orgs (id),"
    "  link_hash BLOB NOT NULL,"
    "  session_hash BLOB,"
    "  read_only SMALLINT NOT NULL,"
    "  endpoint_ids TEXT,"
    "  expires_in_ms INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  exchanged_at INTEGER,"
    "  session_expires_at INTEGER,"
    "  revoked_at INTEGER,"
    "  created_at INTEGER NOT NULL);"
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
    "ALTER TABLE endpoints ADD COLUMN poll_token_hash BLOB;"
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
const int sqlite_migration_count = (int)(sizeof sqlite_migrations / sizeof sqlite_migrations[0]);

/* One serving process owns a SQLite file (its lock), so every pending delivery is already
 * this node's: no claim, and no filter on the node. */
/* engine/job.h's queue_key_part of a row's queue key, its last two characters */
#define QUEUE_KEY_PART(k) "(unicode(substr(" k ", -1)) + 31 * unicode(substr(" k ", -2, 1)))"

static const char delivery_due[] =
    "SELECT d.id, d.org_id, d.event_id, coalesce(d.endpoint_id, ''), d.url, d.event_type, "
    "d.attempt_count, d.schedule_start, d.next_attempt_at, e.payload FROM deliveries d JOIN "
    "events e ON e.org_id = d.org_id AND e.id = d.event_id WHERE d.status = " SQL_NUM(
        DLV_PENDING_N) " AND d.next_attempt_at <= ?2 AND (d.next_attempt_at, d.id) > (?3, ?4) "
                       "AND " QUEUE_KEY_PART(
                           "coalesce(nullif(d.endpoint_id, ''), d.org_id)") " % "
                                                                            "?9 = ?8 ORDER BY "
                                                                            "d.next_attempt_at, "
                                                                            "d.id LIMIT ?5";

/* one read transaction: a snapshot, written compacted; WAL writers are not held up */
static const char backup_into[] = "VACUUM INTO ?1";

/* moves pages from the end of the file into free ones and cuts the file there; a no-op in a
 * file not created with auto_vacuum = INCREMENTAL (driver_sqlite.c). The count must be a
 * literal: a pragma takes no parameters. */
static const char reclaim[] = "PRAGMA incremental_vacuum(" SQL_NUM(STORE_RECLAIM_PAGES) ")";

const struct sql_dialect sqlite_dialect = {
    .delivery_due = delivery_due, .backup_into = backup_into, .reclaim = reclaim};
