/* The PostgreSQL backend (libpq): several hookd nodes share one database (§7). A pool of read
 * connections, one write connection owned by the writer, statements prepared once per
 * connection, versioned migrations run under an advisory lock. */
#include "store/pg_internal.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_LEASE_MS 30000
/* pg_advisory_lock key ("hookd" in ASCII): nodes starting together migrate one at a time */
#define MIGRATION_LOCK "448378203236"
#define CONNECT_TIMEOUT_S "10"

/* Versioned migrations: the SQLite backend's, in PostgreSQL's dialect, with the same numbers.
 * Append only, never edit one that has shipped. Ids and names compare bytewise (COLLATE "C"),
 * as in SQLite, whatever the database's locale: pages and cursors depend on it. */
static const char *const migrations[] = {
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
    "CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 0;"
    "CREATE INDEX deliveries_org ON deliveries (org_id, created_at, id);"
    "CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at, id);"
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
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

struct pg_store {
    struct store base;
    char *url;
    int64_t lease_ms;
    struct pg_conn *writer;   /* used by one thread at a time: the writer */
    struct pg_conn *listener; /* LISTEN hookd_work, for the engine's thread */
    pthread_mutex_t pool_lock;
    struct pg_conn *pool; /* free read connections */
};

static const struct store_ops pg_ops;

/* Defined below the connection helpers. */
static int pg_wake_fd(struct store *base);
static int pg_wake_drain(struct store *base);

static struct pg_store *as_store(struct store *st)
{
    return (struct pg_store *)st;
}

int64_t pg_lease_ms(struct store_conn *c)
{
    return as_store(c->store)->lease_ms;
}

/* --- parameters --- */

static void add_param(struct pg_params *p, const char *value, int length, int format)
{
    if (p->count >= PG_MAX_PARAMS) {
        log_error("too many statement parameters", "max", json_integer(PG_MAX_PARAMS), NULL);
        abort(); /* a programming error, caught by the first test that runs the statement */
    }
    p->values[p->count] = value;
    p->lengths[p->count] = length;
    p->formats[p->count] = format;
    p->count++;
}

void pgp_text(struct pg_params *p, const char *text)
{
    add_param(p, text, 0, 0);
}

void pgp_text_or_null(struct pg_params *p, const char *text)
{
    add_param(p, text && *text ? text : NULL, 0, 0);
}

void pgp_int(struct pg_params *p, int64_t value)
{
    char *slot = p->numbers[p->count < PG_MAX_PARAMS ? p->count : 0];
    snprintf(slot, sizeof p->numbers[0], "%lld", (long long)value);
    add_param(p, slot, 0, 0);
}

void pgp_int_or_null(struct pg_params *p, int64_t value)
{
    if (value == 0)
        pgp_null(p);
    else
        pgp_int(p, value);
}

void pgp_positive_double_or_null(struct pg_params *p, double value)
{
    char *slot = p->numbers[p->count < PG_MAX_PARAMS ? p->count : 0];
    if (!(value > 0)) {
        pgp_null(p);
        return;
    }
    snprintf(slot, sizeof p->numbers[0], "%.17g", value);
    add_param(p, slot, 0, 0);
}

void pgp_bytes(struct pg_params *p, const void *data, size_t len)
{
    add_param(p, data ? data : "", (int)len, 1);
}

void pgp_null(struct pg_params *p)
{
    add_param(p, NULL, 0, 0);
}

/* --- running statements --- */

/* Logs a failed result (or the connection's error) about `what`; returns ERR_FAIL. */
static int log_failure(struct pg_conn *c, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *message = res ? PQresultErrorMessage(res) : NULL;
    if (message == NULL || *message == '\0')
        message = PQerrorMessage(c->db);
    log_error("postgres error", "op", json_string(what), "sqlstate",
              state ? json_string(state) : NULL, "error",
              json_stringn(message, strcspn(message, "\n")), NULL);
    return ERR_FAIL;
}

/* A failed statement: ERR_CONFLICT without a log line for a constraint (SQLSTATE class 23), as
 * the SQLite backend reports one, else logged and ERR_FAIL. */
static int report(struct pg_conn *c, const PGresult *res, const char *what)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    if (state && strncmp(state, "23", 2) == 0)
        return ERR_CONFLICT;
    return log_failure(c, res, what);
}

static bool conn_ready(struct pg_conn *c);

PGresult *pg_exec(struct pg_conn *c, const char *sql, const struct pg_params *p, int *rc)
{
    size_t slot = ((uintptr_t)sql >> 3) % PG_STMT_SLOTS, probe;
    char name[16];
    PGresult *res;

    /* a read connection lost (the engine keeps one for good) reconnects before its next
     * statement; the writer's does at its next transaction, never inside one */
    if (!c->is_writer && PQstatus(c->db) == CONNECTION_BAD && !conn_ready(c)) {
        *rc = ERR_FAIL;
        return NULL;
    }
    for (probe = 0; probe < PG_STMT_SLOTS; probe++, slot = (slot + 1) % PG_STMT_SLOTS)
        if (c->stmt_sql[slot] == sql || c->stmt_sql[slot] == NULL)
            break;
    if (probe == PG_STMT_SLOTS) {
        log_error("postgres statement cache is full", "sql", json_string(sql), NULL);
        *rc = ERR_FAIL;
        return NULL;
    }
    snprintf(name, sizeof name, "s%zu", slot);
    if (c->stmt_sql[slot] == NULL) {
        /* parameter types as the server infers them (casts in the SQL where it cannot) */
        res = PQprepare(c->db, name, sql, 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK) {
            *rc = report(c, res, sql);
            PQclear(res);
            return NULL;
        }
        PQclear(res);
        c->stmt_sql[slot] = sql;
    }
    res = PQexecPrepared(c->db, name, p ? p->count : 0, p ? p->values : NULL, p ? p->lengths : NULL,
                         p ? p->formats : NULL, 0);
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        *rc = 0;
        return res;
    default:
        *rc = report(c, res, sql);
        PQclear(res);
        return NULL;
    }
}

int pg_run(struct pg_conn *c, const char *sql, const struct pg_params *p)
{
    int rc;
    PQclear(pg_exec(c, sql, p, &rc));
    return rc;
}

static int run_counting(struct pg_conn *c, const char *sql, const struct pg_params *p, int if_none)
{
    int rc;
    PGresult *res = pg_exec(c, sql, p, &rc);
    if (res == NULL)
        return rc;
    rc = strcmp(PQcmdTuples(res), "0") == 0 ? if_none : 0;
    PQclear(res);
    return rc;
}

int pg_run_changed(struct pg_conn *c, const char *sql, const struct pg_params *p)
{
    return run_counting(c, sql, p, ERR_NOT_FOUND);
}

int pg_insert(struct pg_conn *c, const char *sql, const struct pg_params *p)
{
    return run_counting(c, sql, p, ERR_CONFLICT);
}

int pg_read_rows(struct pg_conn *c, const char *sql, const struct pg_params *p, void *out,
                 size_t size, int *count, void (*read_row)(const PGresult *, int, void *))
{
    int rc, n;
    PGresult *res = pg_exec(c, sql, p, &rc);
    *count = 0;
    if (res == NULL)
        return rc == ERR_CONFLICT ? ERR_FAIL : rc;
    n = PQntuples(res);
    for (int i = 0; i < n; i++)
        read_row(res, i, (char *)out + (size_t)i * size);
    *count = n;
    PQclear(res);
    return 0;
}

int pg_read_one(struct pg_conn *c, const char *sql, const struct pg_params *p, void *out,
                void (*read_row)(const PGresult *, int, void *))
{
    int rc;
    PGresult *res = pg_exec(c, sql, p, &rc);
    if (res == NULL)
        return rc == ERR_CONFLICT ? ERR_FAIL : rc;
    rc = PQntuples(res) > 0 ? 0 : ERR_NOT_FOUND;
    if (rc == 0)
        read_row(res, 0, out);
    PQclear(res);
    return rc;
}

int pg_read_count(struct pg_conn *c, const char *sql, const struct pg_params *p, long *count)
{
    int rc;
    PGresult *res = pg_exec(c, sql, p, &rc);
    *count = 0;
    if (res == NULL)
        return ERR_FAIL;
    if (PQntuples(res) > 0)
        *count = (long)pg_col_int64(res, 0, 0);
    PQclear(res);
    return 0;
}

/* --- reading columns --- */

void pg_col_copy_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    snprintf(out, size, "%s", PQgetvalue(r, row, col)); /* "" for NULL */
}

char *pg_col_dup_text(const PGresult *r, int row, int col)
{
    return xstrndup(PQgetvalue(r, row, col), (size_t)PQgetlength(r, row, col));
}

char *pg_col_dup_text_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? NULL : pg_col_dup_text(r, row, col);
}

int64_t pg_col_int64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

int pg_col_int(const PGresult *r, int row, int col)
{
    return (int)pg_col_int64(r, row, col);
}

double pg_col_double(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtod(PQgetvalue(r, row, col), NULL);
}

bool pg_col_bool(const PGresult *r, int row, int col)
{
    return PQgetvalue(r, row, col)[0] == 't';
}

char *pg_col_dup_bytes(const PGresult *r, int row, int col, size_t *len)
{
    unsigned char *raw;
    char *out;
    size_t n = 0;

    if (PQgetisnull(r, row, col)) {
        *len = 0;
        return xstrdup("");
    }
    raw = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, col), &n);
    if (raw == NULL) {
        log_error("out of memory", "where", json_string("PQunescapeBytea"), NULL);
        abort();
    }
    out = xmalloc(n + 1);
    memcpy(out, raw, n);
    out[n] = '\0';
    PQfreemem(raw);
    *len = n;
    return out;
}

size_t pg_col_copy_bytes_exact(const PGresult *r, int row, int col, unsigned char *out, size_t size)
{
    size_t len;
    char *bytes = pg_col_dup_bytes(r, row, col, &len);
    if (len == size)
        memcpy(out, bytes, size);
    else
        memset(out, 0, size);
    free(bytes);
    return len == size ? len : 0;
}

void pg_col_copy_bytes_text(const PGresult *r, int row, int col, char *out, size_t size)
{
    size_t len;
    char *bytes = pg_col_dup_bytes(r, row, col, &len);
    snprintf(out, size, "%s", bytes);
    free(bytes);
}

/* --- connections --- */

static void ignore_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message; /* "relation already exists, skipping" and the like */
}

/* PQerrorMessage without its trailing newline, into buf. */
static const char *conn_error(PGconn *db, char *buf, size_t size)
{
    const char *message = db ? PQerrorMessage(db) : "out of memory";
    snprintf(buf, size, "%.*s", (int)strcspn(message, "\n"), message);
    return buf;
}

static struct pg_conn *conn_open(struct pg_store *st, struct err *e)
{
    /* defaults first: the URL's own parameters override them */
    const char *const keys[] = {"connect_timeout", "fallback_application_name", "client_encoding",
                                "dbname", NULL};
    const char *const values[] = {CONNECT_TIMEOUT_S, "hookd", "UTF8", st->url, NULL};
    struct pg_conn *c = xcalloc(1, sizeof *c);
    char message[200];

    c->base.store = &st->base;
    c->db = PQconnectdbParams(keys, values, 1);
    if (c->db == NULL || PQstatus(c->db) != CONNECTION_OK) {
        err_internal(e, "cannot connect to PostgreSQL: %s",
                     conn_error(c->db, message, sizeof message));
        PQfinish(c->db);
        free(c);
        return NULL;
    }
    PQsetNoticeProcessor(c->db, ignore_notice, NULL);
    return c;
}

static void conn_close(struct pg_conn *c)
{
    if (c == NULL)
        return;
    PQfinish(c->db);
    fanout_list_free(&c->fanout);
    free(c);
}

/* Makes the connection ready for a new statement or transaction: reconnects a broken one
 * (its prepared statements went with the session) and ends a transaction left open. */
static bool conn_ready(struct pg_conn *c)
{
    PGresult *res;
    char message[200];

    switch (PQtransactionStatus(c->db)) {
    case PQTRANS_IDLE:
        return true;
    case PQTRANS_INTRANS:
    case PQTRANS_INERROR:
        res = PQexec(c->db, "ROLLBACK");
        PQclear(res);
        if (PQtransactionStatus(c->db) == PQTRANS_IDLE)
            return true;
        break;
    default:
        break;
    }
    PQreset(c->db);
    memset(c->stmt_sql, 0, sizeof c->stmt_sql);
    c->notify = false;
    if (PQstatus(c->db) != CONNECTION_OK) {
        log_error("cannot reconnect to PostgreSQL", "error",
                  json_string(conn_error(c->db, message, sizeof message)), NULL);
        return false;
    }
    log_warn("reconnected to PostgreSQL", NULL);
    return true;
}

/* Runs a statement of the simple protocol (transaction control, migrations): 0 or ERR_FAIL. */
static int exec_simple(struct pg_conn *c, const char *sql, const char *expected_tag)
{
    PGresult *res = PQexec(c->db, sql);
    ExecStatusType status = PQresultStatus(res);
    int rc = 0;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
        rc = log_failure(c, res, sql);
    else if (expected_tag && strcmp(PQcmdStatus(res), expected_tag) != 0) {
        /* COMMIT of a failed transaction succeeds, and says ROLLBACK */
        log_error("postgres transaction did not commit", "op", json_string(sql), "status",
                  json_string(PQcmdStatus(res)), NULL);
        rc = ERR_FAIL;
    }
    PQclear(res);
    return rc;
}

static void pg_close(struct store *base)
{
    struct pg_store *st = as_store(base);
    if (st == NULL)
        return;
    while (st->pool) {
        struct pg_conn *next = st->pool->next_free;
        conn_close(st->pool);
        st->pool = next;
    }
    conn_close(st->writer);
    conn_close(st->listener);
    pthread_mutex_destroy(&st->pool_lock);
    free(st->url);
    free(st);
}

/* location is what follows the scheme's colon ("//user@host:port/db?..."); libpq takes the
 * whole URI. `exclusive` locks nothing here: several nodes share the database. */
static int pg_open(const char *location, const struct store_options *opts, struct store **out,
                   struct err *e)
{
    struct pg_store *st = xcalloc(1, sizeof *st);
    size_t len = strlen("postgresql:") + strlen(location) + 1;
    const char *encoding;

    st->base.ops = &pg_ops;
    st->url = xmalloc(len);
    snprintf(st->url, len, "postgresql:%s", location);
    st->lease_ms = opts->lease_ms > 0 ? opts->lease_ms : DEFAULT_LEASE_MS;
    pthread_mutex_init(&st->pool_lock, NULL);
    if (strncmp(location, "//", 2) != 0) {
        err_invalid(e, "db", "a PostgreSQL URL reads postgres://user@host:port/database");
        goto fail;
    }
    st->writer = conn_open(st, e);
    if (st->writer == NULL)
        goto fail;
    st->writer->is_writer = true;
    encoding = PQparameterStatus(st->writer->db, "server_encoding");
    if (encoding == NULL || strcmp(encoding, "UTF8") != 0)
        log_warn("the PostgreSQL database is not UTF8: texts may not round-trip", "encoding",
                 encoding ? json_string(encoding) : NULL, NULL);
    *out = &st->base;
    return 0;
fail:
    pg_close(&st->base);
    return ERR_FAIL;
}

/* --- schema --- */

static int read_version(struct pg_conn *c, int *version)
{
    PGresult *res = PQexec(c->db, "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL "
                                  "THEN 0 ELSE (SELECT coalesce(max(version), 0) FROM "
                                  "schema_migrations) END");
    int rc = 0;
    *version = 0;
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        *version = pg_col_int(res, 0, 0);
    else
        rc = report(c, res, "schema_version");
    PQclear(res);
    return rc == 0 ? 0 : ERR_FAIL;
}

static int pg_schema_version(struct store *base, int *current, int *latest)
{
    struct pg_conn *c = as_store(base)->writer;
    *latest = MIGRATION_COUNT;
    if (!conn_ready(c))
        return ERR_FAIL;
    return read_version(c, current);
}

/* Applies the pending migrations, each in a transaction with its version row, holding the
 * advisory lock so that nodes starting together migrate once. */
static int pg_migrate(struct store *base, int *applied, struct err *e)
{
    struct pg_conn *c = as_store(base)->writer;
    char insert[256];
    int version, rc = 0;

    *applied = 0;
    if (!conn_ready(c) || exec_simple(c, "SELECT pg_advisory_lock(" MIGRATION_LOCK ")", NULL) != 0)
        return err_internal(e, "cannot take the migration lock");
    if (exec_simple(c,
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    "applied_at BIGINT NOT NULL)",
                    NULL) != 0 ||
        read_version(c, &version) != 0) {
        rc = err_internal(e, "cannot read the schema version");
        goto out;
    }
    if (version > MIGRATION_COUNT) {
        rc = err_internal(e, "the database schema (version %d) is newer than this hookd (%d)",
                          version, MIGRATION_COUNT);
        goto out;
    }
    for (; version < MIGRATION_COUNT; version++) {
        snprintf(insert, sizeof insert,
                 "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, "
                 "(extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                 version + 1);
        if (exec_simple(c, "BEGIN", NULL) != 0 || exec_simple(c, migrations[version], NULL) != 0 ||
            exec_simple(c, insert, NULL) != 0 || exec_simple(c, "COMMIT", "COMMIT") != 0) {
            char message[200];
            rc = err_internal(e, "migration %d failed: %s", version + 1,
                              conn_error(c->db, message, sizeof message));
            exec_simple(c, "ROLLBACK", NULL);
            goto out;
        }
        (*applied)++;
    }
out:
    exec_simple(c, "SELECT pg_advisory_unlock(" MIGRATION_LOCK ")", NULL);
    return rc;
}

/* --- connections for callers --- */

static struct store_conn *pg_acquire(struct store *base)
{
    struct pg_store *st = as_store(base);
    struct pg_conn *c;
    struct err e;

    pthread_mutex_lock(&st->pool_lock);
    c = st->pool;
    if (c)
        st->pool = c->next_free;
    pthread_mutex_unlock(&st->pool_lock);
    if (c == NULL) {
        c = conn_open(st, &e);
        if (c == NULL) {
            log_error("cannot open a read connection", "error", json_string(e.message), NULL);
            return NULL;
        }
    } else if (!conn_ready(c)) {
        conn_close(c);
        return NULL;
    }
    return &c->base;
}

static void pg_release(struct store_conn *base)
{
    struct pg_conn *c = pg_conn_of(base);
    struct pg_store *st = as_store(base->store);
    pthread_mutex_lock(&st->pool_lock);
    c->next_free = st->pool;
    st->pool = c;
    pthread_mutex_unlock(&st->pool_lock);
}

static int pg_ping(struct store_conn *c)
{
    static const char sql[] = "SELECT 1";
    return pg_run(pg_conn_of(c), sql, NULL);
}

static struct store_conn *pg_tx_begin(struct store *base)
{
    struct pg_conn *c = as_store(base)->writer;
    if (!conn_ready(c) || exec_simple(c, "BEGIN", NULL) != 0)
        return NULL;
    c->notify = false;
    return &c->base;
}

/* NOTIFY is delivered at commit, and only if the transaction commits. */
static int pg_tx_commit(struct store_conn *tx)
{
    struct pg_conn *c = pg_conn_of(tx);
    int rc = exec_simple(c, c->notify ? "NOTIFY hookd_work; COMMIT" : "COMMIT", "COMMIT");
    c->notify = false;
    return rc;
}

static void pg_tx_rollback(struct store_conn *tx)
{
    struct pg_conn *c = pg_conn_of(tx);
    exec_simple(c, "ROLLBACK", NULL);
    c->notify = false;
}

static int pg_savepoint(struct store_conn *tx)
{
    return exec_simple(pg_conn_of(tx), "SAVEPOINT job", NULL);
}

static int pg_savepoint_release(struct store_conn *tx)
{
    return exec_simple(pg_conn_of(tx), "RELEASE SAVEPOINT job", NULL);
}

/* Also what recovers the transaction after a failed statement inside the job. */
static int pg_savepoint_rollback(struct store_conn *tx)
{
    return exec_simple(pg_conn_of(tx), "ROLLBACK TO SAVEPOINT job; RELEASE SAVEPOINT job", NULL);
}

/* --- orgs --- */

#define ORG_COLUMNS "id, name, primary_secret, signature_scheme, created_at"
#define KEY_COLUMNS "id, coalesce(org_id, ''), name, scopes, secret_hash, created_at, revoked_at"

static void read_org(const PGresult *r, int row, void *out_ptr)
{
    struct org *out = out_ptr;
    pg_col_copy_text(r, row, 0, out->id, sizeof out->id);
    pg_col_copy_text(r, row, 1, out->name, sizeof out->name);
    pg_col_copy_text(r, row, 2, out->primary_secret, sizeof out->primary_secret);
    pg_col_copy_text(r, row, 3, out->signature_scheme, sizeof out->signature_scheme);
    out->created_at = pg_col_int64(r, row, 4);
}

static int pg_org_insert(struct store_conn *tx, const struct org *org)
{
    static const char sql[] = "INSERT INTO orgs (" ORG_COLUMNS ") VALUES ($1, $2, $3, $4, $5) "
                              "ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    pgp_text(&p, org->id);
    pgp_text(&p, org->name);
    pgp_text(&p, org->primary_secret);
    pgp_text(&p, org->signature_scheme);
    pgp_int(&p, org->created_at);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

static int pg_org_get(struct store_conn *c, const char *id, struct org *out)
{
    static const char sql[] =
        "SELECT " ORG_COLUMNS " FROM orgs WHERE id = $1 AND deleted_at IS NULL";
    struct pg_params p = {0};
    pgp_text(&p, id);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_org);
}

static int pg_org_list(struct store_conn *c, const struct page *page, struct org *out, int *count)
{
    static const char first[] = "SELECT " ORG_COLUMNS " FROM orgs WHERE deleted_at IS NULL"
                                " ORDER BY created_at DESC, id DESC LIMIT $1";
    static const char after[] =
        "SELECT " ORG_COLUMNS " FROM orgs WHERE deleted_at IS NULL"
        " AND (created_at, id) < ($1, $2) ORDER BY created_at DESC, id DESC LIMIT $3";
    struct pg_params p = {0};
    if (page->has_cursor) {
        pgp_int(&p, page->before_ms);
        pgp_text(&p, page->before_id);
    }
    pgp_int(&p, page->limit + 1);
    return pg_read_rows(pg_conn_of(c), page->has_cursor ? after : first, &p, out, sizeof *out,
                        count, read_org);
}

static int pg_org_update(struct store_conn *tx, const struct org *org)
{
    static const char sql[] = "UPDATE orgs SET name = $1, primary_secret = $2, signature_scheme "
                              "= $3 WHERE id = $4 AND deleted_at IS NULL";
    struct pg_params p = {0};
    pgp_text(&p, org->name);
    pgp_text(&p, org->primary_secret);
    pgp_text(&p, org->signature_scheme);
    pgp_text(&p, org->id);
    return pg_run_changed(pg_conn_of(tx), sql, &p);
}

/* Deletes the org (§2.2): its keys are revoked, its endpoints and sources deleted, and its queued
 * deliveries end exhausted; its history stays until retention purges it. */
static int pg_org_delete(struct store_conn *tx, const char *id, int64_t now)
{
    static const char delete_org[] =
        "UPDATE orgs SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL";
    static const char revoke_keys[] =
        "UPDATE api_keys SET revoked_at = $1 WHERE org_id = $2 AND revoked_at IS NULL";
    static const char delete_endpoints[] = "UPDATE endpoints SET deleted_at = $1, is_active = 0 "
                                           "WHERE org_id = $2 AND deleted_at IS NULL";
    static const char delete_sources[] = "UPDATE sources SET deleted_at = $1, is_active = 0 "
                                         "WHERE org_id = $2 AND deleted_at IS NULL";
    static const char end_deliveries[] =
        "UPDATE deliveries SET status = 3, last_error = 'organization deleted', next_attempt_at "
        "= NULL WHERE org_id = $1 AND status = 0";
    const char *const steps[] = {revoke_keys, delete_endpoints, delete_sources};
    struct pg_conn *c = pg_conn_of(tx);
    struct pg_params p = {0}, by_org = {0};
    int rc;

    pgp_int(&p, now);
    pgp_text(&p, id);
    rc = pg_run_changed(c, delete_org, &p);
    for (size_t i = 0; rc == 0 && i < sizeof steps / sizeof steps[0]; i++)
        rc = pg_run(c, steps[i], &p);
    if (rc == 0) {
        pgp_text(&by_org, id);
        rc = pg_run(c, end_deliveries, &by_org);
    }
    return rc;
}

/* --- keys --- */

static void read_key(const PGresult *r, int row, void *out_ptr)
{
    struct api_key *out = out_ptr;
    pg_col_copy_text(r, row, 0, out->id, sizeof out->id);
    pg_col_copy_text(r, row, 1, out->org_id, sizeof out->org_id);
    pg_col_copy_text(r, row, 2, out->name, sizeof out->name);
    out->scopes = (unsigned)pg_col_int(r, row, 3);
    pg_col_copy_bytes_exact(r, row, 4, out->secret_hash, sizeof out->secret_hash);
    out->created_at = pg_col_int64(r, row, 5);
    out->revoked_at = pg_col_int64(r, row, 6);
}

static int pg_key_insert(struct store_conn *tx, const struct api_key *key)
{
    static const char sql[] =
        "INSERT INTO api_keys (id, org_id, name, scopes, secret_hash, created_at) VALUES ($1, "
        "nullif($2::text, ''), $3, $4, $5, $6) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    pgp_text(&p, key->id);
    pgp_text(&p, key->org_id);
    pgp_text(&p, key->name);
    pgp_int(&p, key->scopes);
    pgp_bytes(&p, key->secret_hash, sizeof key->secret_hash);
    pgp_int(&p, key->created_at);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

static int pg_key_get(struct store_conn *c, const char *id, struct api_key *out)
{
    static const char sql[] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = $1";
    struct pg_params p = {0};
    pgp_text(&p, id);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_key);
}

static int pg_key_list(struct store_conn *c, const char *org_id, const struct page *page,
                       struct api_key *out, int *count)
{
    static const char first[] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE coalesce(org_id, '')"
                                " = $1 ORDER BY created_at DESC, id DESC LIMIT $2";
    static const char after[] =
        "SELECT " KEY_COLUMNS " FROM api_keys WHERE coalesce(org_id, '') = $1"
        " AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4";
    struct pg_params p = {0};
    pgp_text(&p, org_id);
    if (page->has_cursor) {
        pgp_int(&p, page->before_ms);
        pgp_text(&p, page->before_id);
    }
    pgp_int(&p, page->limit + 1);
    return pg_read_rows(pg_conn_of(c), page->has_cursor ? after : first, &p, out, sizeof *out,
                        count, read_key);
}

static int pg_key_revoke(struct store_conn *tx, const char *id, int64_t now)
{
    static const char sql[] =
        "UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL";
    struct pg_params p = {0};
    pgp_int(&p, now);
    pgp_text(&p, id);
    return pg_run_changed(pg_conn_of(tx), sql, &p);
}

static int pg_key_count(struct store_conn *c, long *count)
{
    static const char sql[] = "SELECT count(*) FROM api_keys";
    return pg_read_count(pg_conn_of(c), sql, NULL, count);
}

/* --- idempotency --- */

static void read_idem(const PGresult *r, int row, void *out_ptr)
{
    struct idem_record *out = out_ptr;
    pg_col_copy_bytes_exact(r, row, 0, out->request_hash, sizeof out->request_hash);
    out->status = pg_col_int(r, row, 1);
    out->body = pg_col_dup_text(r, row, 2);
    out->created_at = pg_col_int64(r, row, 3);
}

static int pg_idem_get(struct store_conn *c, const char *scope, const char *key, int64_t not_before,
                       struct idem_record *out)
{
    static const char sql[] = "SELECT request_hash, status, body, created_at FROM idempotency"
                              " WHERE scope = $1 AND key = $2 AND created_at >= $3";
    struct pg_params p = {0};
    int rc;
    pgp_text(&p, scope);
    pgp_text(&p, key);
    pgp_int(&p, not_before);
    rc = pg_read_one(pg_conn_of(c), sql, &p, out, read_idem);
    if (rc == 0) {
        text_copy(out->scope, sizeof out->scope, scope);
        text_copy(out->key, sizeof out->key, key);
    }
    return rc;
}

static int pg_idem_put(struct store_conn *tx, const struct idem_record *rec)
{
    static const char sql[] =
        "INSERT INTO idempotency (scope, key, request_hash, status, body, created_at) VALUES "
        "($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO UPDATE SET request_hash = "
        "excluded.request_hash, status = excluded.status, body = excluded.body, created_at = "
        "excluded.created_at";
    struct pg_params p = {0};
    pgp_text(&p, rec->scope);
    pgp_text(&p, rec->key);
    pgp_bytes(&p, rec->request_hash, sizeof rec->request_hash);
    pgp_int(&p, rec->status);
    pgp_text(&p, rec->body);
    pgp_int(&p, rec->created_at);
    return pg_run(pg_conn_of(tx), sql, &p);
}

static int pg_idem_purge(struct store_conn *tx, int64_t older_than, int max_rows)
{
    static const char sql[] =
        "DELETE FROM idempotency WHERE (scope, key) IN (SELECT scope, key FROM idempotency "
        "WHERE created_at < $1 LIMIT $2)";
    struct pg_params p = {0};
    pgp_int(&p, older_than);
    pgp_int(&p, max_rows);
    return pg_run(pg_conn_of(tx), sql, &p);
}

/* --- nodes --- */

static int pg_node_heartbeat(struct store_conn *tx, const char *node_id, int64_t now)
{
    static const char sql[] =
        "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES ($1, $2, $2) ON CONFLICT (id) "
        "DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
    struct pg_params p = {0};
    pgp_text(&p, node_id);
    pgp_int(&p, now);
    return pg_run(pg_conn_of(tx), sql, &p);
}

static int pg_node_remove(struct store_conn *tx, const char *node_id)
{
    static const char sql[] = "DELETE FROM nodes WHERE id = $1";
    struct pg_params p = {0};
    pgp_text(&p, node_id);
    return pg_run(pg_conn_of(tx), sql, &p);
}

static int pg_wake_fd(struct store *base)
{
    struct pg_store *st = as_store(base);
    struct err e;
    PGresult *res;
    if (st->listener == NULL && (st->listener = conn_open(st, &e)) == NULL) {
        log_warn("cannot listen for work from other nodes; polling only", "error",
                 json_string(e.message), NULL);
        return -1;
    }
    res = PQexec(st->listener->db, "LISTEN hookd_work");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_warn("LISTEN failed; polling only", "error",
                 json_string(PQerrorMessage(st->listener->db)), NULL);
        PQclear(res);
        return -1;
    }
    PQclear(res);
    PQsetnonblocking(st->listener->db, 1);
    return PQsocket(st->listener->db);
}

static int pg_wake_drain(struct store *base)
{
    struct pg_store *st = as_store(base);
    PGnotify *note;
    int count = 0;
    if (st->listener == NULL || PQconsumeInput(st->listener->db) != 1)
        return -1;
    while ((note = PQnotifies(st->listener->db)) != NULL) {
        count++;
        PQfreemem(note);
    }
    return count;
}

static const struct store_ops pg_ops = {
    .wake_fd = pg_wake_fd,
    .wake_drain = pg_wake_drain,
    .scheme = "postgres",
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .acquire = pg_acquire,
    .release = pg_release,
    .ping = pg_ping,
    .tx_begin = pg_tx_begin,
    .tx_commit = pg_tx_commit,
    .tx_rollback = pg_tx_rollback,
    .savepoint = pg_savepoint,
    .savepoint_release = pg_savepoint_release,
    .savepoint_rollback = pg_savepoint_rollback,
    .org_insert = pg_org_insert,
    .org_get = pg_org_get,
    .org_list = pg_org_list,
    .org_update = pg_org_update,
    .org_delete = pg_org_delete,
    .key_insert = pg_key_insert,
    .key_get = pg_key_get,
    .key_list = pg_key_list,
    .key_revoke = pg_key_revoke,
    .key_count = pg_key_count,
    .idem_get = pg_idem_get,
    .idem_put = pg_idem_put,
    .idem_purge = pg_idem_purge,
    .node_heartbeat = pg_node_heartbeat,
    .node_remove = pg_node_remove,
    .event_type_insert = pg_event_type_insert,
    .event_type_get = pg_event_type_get,
    .event_type_list = pg_event_type_list,
    .event_type_update = pg_event_type_update,
    .event_type_delete = pg_event_type_delete,
    .event_type_count_prefix = pg_event_type_count_prefix,
    .endpoint_insert = pg_endpoint_insert,
    .endpoint_update = pg_endpoint_update,
    .endpoint_get = pg_endpoint_get,
    .endpoint_list = pg_endpoint_list,
    .endpoint_delete = pg_endpoint_delete,
    .endpoint_fanout = pg_endpoint_fanout,
    .event_insert = pg_event_insert,
    .event_get = pg_event_get,
    .event_list = pg_event_list,
    .delivery_insert = pg_delivery_insert,
    .delivery_get = pg_delivery_get,
    .delivery_list = pg_delivery_list,
    .attempt_list = pg_attempt_list,
    .delivery_record = pg_delivery_record,
    .delivery_retry = pg_delivery_retry,
    .delivery_replay = pg_delivery_replay,
    .delivery_claim_all = pg_delivery_claim_all,
    .delivery_release = pg_delivery_release,
    .delivery_due = pg_delivery_due,
    .source_insert = pg_source_insert,
    .source_update = pg_source_update,
    .source_get = pg_source_get,
    .source_list = pg_source_list,
    .source_delete = pg_source_delete,
    .inbound_insert = pg_inbound_insert,
    .inbound_get = pg_inbound_get,
    .inbound_list = pg_inbound_list,
    .inbound_seen = pg_inbound_seen,
};

/* libpq's own name for the scheme: it only opens, and the store it opens is pg_ops's. */
static const struct store_ops pg_alias_ops = {.scheme = "postgresql", .open = pg_open};

const struct store_ops *const store_pg = &pg_ops;
const struct store_ops *const store_pg_alias = &pg_alias_ops;
