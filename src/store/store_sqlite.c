/* The SQLite backend: WAL, foreign keys, busy handling, prepared statements cached per
 * connection, a pool of read connections and one write connection owned by the writer. */
#include "store/sqlite_internal.h"
#include "store/sqlite_inbound.h"
#include "store/sqlite_pipeline.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/text.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000

/* Versioned migrations: append only, never edit one that has shipped. */
static const char *const migrations[] = {
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
    "CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE status = 0;"
    "CREATE INDEX deliveries_org ON deliveries (org_id, created_at, id);"
    "CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at, id);"
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
};
#define MIGRATION_COUNT ((int)(sizeof migrations / sizeof migrations[0]))

enum stmt_id {
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_SAVEPOINT,
    ST_RELEASE,
    ST_ROLLBACK_TO,
    ST_PING,
    ST_ORG_INSERT,
    ST_ORG_GET,
    ST_ORG_LIST_FIRST,
    ST_ORG_LIST_AFTER,
    ST_ORG_UPDATE,
    ST_ORG_DELETE,
    ST_ORG_REVOKE_KEYS,
    ST_ORG_DELETE_ENDPOINTS,
    ST_ORG_DELETE_SOURCES,
    ST_ORG_END_DELIVERIES,
    ST_KEY_INSERT,
    ST_KEY_GET,
    ST_KEY_LIST_FIRST,
    ST_KEY_LIST_AFTER,
    ST_KEY_REVOKE,
    ST_KEY_COUNT,
    ST_IDEM_GET,
    ST_IDEM_PUT,
    ST_IDEM_PURGE,
    ST_NODE_HEARTBEAT,
    ST_NODE_REMOVE,
    ST_COUNT
};

#define ORG_COLUMNS "id, name, primary_secret, signature_scheme, created_at"
#define KEY_COLUMNS "id, coalesce(org_id, ''), name, scopes, secret_hash, created_at, revoked_at"

static const char *const statements[ST_COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT job",
    [ST_RELEASE] = "RELEASE job",
    [ST_ROLLBACK_TO] = "ROLLBACK TO job",
    [ST_PING] = "SELECT 1",
    [ST_ORG_INSERT] = "INSERT INTO orgs (" ORG_COLUMNS ") VALUES (?, ?, ?, ?, ?)",
    [ST_ORG_GET] = "SELECT " ORG_COLUMNS " FROM orgs WHERE id = ? AND deleted_at IS NULL",
    [ST_ORG_LIST_FIRST] = "SELECT " ORG_COLUMNS " FROM orgs WHERE deleted_at IS NULL"
                          " ORDER BY created_at DESC, id DESC LIMIT ?",
    [ST_ORG_LIST_AFTER] =
        "SELECT " ORG_COLUMNS " FROM orgs WHERE deleted_at IS NULL"
        " AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?",
    [ST_ORG_UPDATE] = "UPDATE orgs SET name = ?, primary_secret = ?, signature_scheme = ?"
                      " WHERE id = ? AND deleted_at IS NULL",
    [ST_ORG_DELETE] = "UPDATE orgs SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL",
    [ST_ORG_REVOKE_KEYS] = "UPDATE api_keys SET revoked_at = ? WHERE org_id = ? AND revoked_at"
                           " IS NULL",
    [ST_ORG_DELETE_ENDPOINTS] = "UPDATE endpoints SET deleted_at = ?, is_active = 0 WHERE org_id"
                                " = ? AND deleted_at IS NULL",
    [ST_ORG_DELETE_SOURCES] = "UPDATE sources SET deleted_at = ?, is_active = 0 WHERE org_id = ?"
                              " AND deleted_at IS NULL",
    [ST_ORG_END_DELIVERIES] = "UPDATE deliveries SET status = 3, last_error = 'organization "
                              "deleted', next_attempt_at = NULL WHERE org_id = ? AND status = 0",
    [ST_KEY_INSERT] = "INSERT INTO api_keys (id, org_id, name, scopes, secret_hash, created_at)"
                      " VALUES (?, nullif(?, ''), ?, ?, ?, ?)",
    [ST_KEY_GET] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ?",
    [ST_KEY_LIST_FIRST] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE coalesce(org_id, '') = ?"
                          " ORDER BY created_at DESC, id DESC LIMIT ?",
    [ST_KEY_LIST_AFTER] =
        "SELECT " KEY_COLUMNS " FROM api_keys WHERE coalesce(org_id, '') = ?"
        " AND (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?",
    [ST_KEY_REVOKE] = "UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
    [ST_KEY_COUNT] = "SELECT count(*) FROM api_keys",
    [ST_IDEM_GET] = "SELECT request_hash, status, body, created_at FROM idempotency"
                    " WHERE scope = ? AND key = ? AND created_at >= ?",
    [ST_IDEM_PUT] = "INSERT OR REPLACE INTO idempotency (scope, key, request_hash, status, body,"
                    " created_at) VALUES (?, ?, ?, ?, ?, ?)",
    [ST_IDEM_PURGE] = "DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency"
                      " WHERE created_at < ? LIMIT ?)",
    [ST_NODE_HEARTBEAT] = "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES (?1, ?2, ?2)"
                          " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
    [ST_NODE_REMOVE] = "DELETE FROM nodes WHERE id = ?",
};

/* WAL size that wakes the checkpointer: the pages written at the right edge of every index are
 * copied once per checkpoint, so a longer WAL copies them less often (40 MiB here). */
#define CHECKPOINT_PAGES 10000

/* Checkpoints run on their own thread and connection, so that the writer never stalls on
 * copying pages and fdatasync. */
struct checkpointer {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool running, stop, requested;
    sqlite3 *db;
};

struct sqlite_store {
    struct store base;
    char *path;
    struct store_options opts;
    int lock_fd;
    struct checkpointer ckpt;
    struct sqlite_conn *writer; /* used by one thread at a time: the writer */
    pthread_mutex_t pool_lock;
    struct sqlite_conn *pool; /* free read connections */
};

static const struct store_ops sqlite_ops;

static struct sqlite_store *as_store(struct store *st)
{
    return (struct sqlite_store *)st;
}

int sq_fail(sqlite3 *db, const char *what)
{
    log_error("sqlite error", "op", json_string(what), "error", json_string(sqlite3_errmsg(db)),
              NULL);
    return ERR_FAIL;
}

sqlite3_stmt *sq_prepare(struct sqlite_conn *c, const char *sql)
{
    size_t slot = ((uintptr_t)sql >> 3) % SQ_STMT_SLOTS;
    for (size_t probe = 0; probe < SQ_STMT_SLOTS; probe++, slot = (slot + 1) % SQ_STMT_SLOTS) {
        if (c->stmt_sql[slot] == sql)
            return c->stmts[slot];
        if (c->stmt_sql[slot] == NULL) {
            sqlite3_stmt *s;
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
                SQLITE_OK) {
                sq_fail(c->db, sql);
                return NULL;
            }
            c->stmt_sql[slot] = sql;
            c->stmts[slot] = s;
            return s;
        }
    }
    log_error("sqlite statement cache is full", "sql", json_string(sql), NULL);
    return NULL;
}

void sq_done(sqlite3_stmt *s)
{
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
}

int sq_run(struct sqlite_conn *c, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    int result = 0;
    if (rc == SQLITE_CONSTRAINT)
        result = ERR_CONFLICT;
    else if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        result = sq_fail(c->db, sqlite3_sql(s));
    sq_done(s);
    return result;
}

int sq_run_changed(struct sqlite_conn *c, sqlite3_stmt *s)
{
    int rc = sq_run(c, s);
    if (rc != 0)
        return rc;
    return sqlite3_changes(c->db) > 0 ? 0 : ERR_NOT_FOUND;
}

static int run_simple(struct sqlite_conn *c, enum stmt_id id)
{
    sqlite3_stmt *s = sq_prepare(c, statements[id]);
    return s ? sq_run(c, s) : ERR_FAIL;
}

void sq_bind_text(sqlite3_stmt *s, int i, const char *text)
{
    sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

void sq_bind_text_or_null(sqlite3_stmt *s, int i, const char *text)
{
    if (text == NULL || *text == '\0')
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_text(s, i, text, -1, SQLITE_STATIC);
}

void sq_bind_int64_or_null(sqlite3_stmt *s, int i, int64_t value)
{
    if (value == 0)
        sqlite3_bind_null(s, i);
    else
        sqlite3_bind_int64(s, i, value);
}

void sq_copy_text(sqlite3_stmt *s, int col, char *out, size_t size)
{
    const unsigned char *text = sqlite3_column_text(s, col);
    snprintf(out, size, "%s", text ? (const char *)text : "");
}

char *sq_dup_text(sqlite3_stmt *s, int col)
{
    const unsigned char *text = sqlite3_column_text(s, col);
    return xstrndup(text ? (const char *)text : "", (size_t)sqlite3_column_bytes(s, col));
}

int sq_read_rows(struct sqlite_conn *c, sqlite3_stmt *s, void *out, size_t size, int *count,
                 void (*read_row)(sqlite3_stmt *, void *))
{
    int rc, n = 0;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW)
        read_row(s, (char *)out + (size_t)n++ * size);
    if (rc != SQLITE_DONE)
        sq_fail(c->db, "list");
    sq_done(s);
    *count = n;
    return rc == SQLITE_DONE ? 0 : ERR_FAIL;
}

int sq_read_one_by(struct sqlite_conn *c, const char *sql, const char *first, const char *second,
                   void *out, void (*read_row)(sqlite3_stmt *, void *))
{
    sqlite3_stmt *s = sq_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, first);
    sq_bind_text(s, 2, second);
    return sq_read_one(c, s, out, read_row);
}

int sq_read_one(struct sqlite_conn *c, sqlite3_stmt *s, void *out,
                void (*read_row)(sqlite3_stmt *, void *))
{
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_row(s, out);
    else if (rc != SQLITE_DONE)
        sq_fail(c->db, sqlite3_sql(s));
    sq_done(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ERR_NOT_FOUND : ERR_FAIL;
}

static struct sqlite_conn *conn_open(struct sqlite_store *st, bool writer, struct err *e)
{
    struct sqlite_conn *c = xcalloc(1, sizeof *c);
    int flags = SQLITE_OPEN_NOMUTEX |
                (writer ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY);
    char pragmas[256];

    c->base.store = &st->base;
    if (sqlite3_open_v2(st->path, &c->db, flags, NULL) != SQLITE_OK) {
        err_internal(e, "cannot open SQLite database %s: %s", st->path,
                     c->db ? sqlite3_errmsg(c->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY;"
             "PRAGMA cache_size = -16000;%s",
             st->opts.sqlite_full_sync ? "FULL" : "NORMAL",
             writer ? " PRAGMA journal_mode = WAL;" : "");
    if (sqlite3_exec(c->db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
        err_internal(e, "cannot configure SQLite database %s: %s", st->path, sqlite3_errmsg(c->db));
        goto fail;
    }
    return c;
fail:
    sqlite3_close(c->db);
    free(c);
    return NULL;
}

static void conn_close(struct sqlite_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < SQ_STMT_SLOTS; i++)
        sqlite3_finalize(c->stmts[i]);
    sq_fanout_free(c);
    sqlite3_close(c->db);
    free(c);
}

/* One serving process per database file (§4.5): a second `hookd serve` refuses to start. */
static int lock_file(struct sqlite_store *st, struct err *e)
{
    char lock_path[4200];
    snprintf(lock_path, sizeof lock_path, "%s.lock", st->path);
    st->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (st->lock_fd < 0)
        return err_internal(e, "cannot open lock file %s: %s", lock_path, strerror(errno));
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0)
        return err_set(e, 409, "conflict", "db",
                       "another hookd is serving %s (lock %s is held); one serving process per "
                       "SQLite file",
                       st->path, lock_path);
    return 0;
}

static void *checkpointer_main(void *arg)
{
    struct checkpointer *ck = arg;
    pthread_setname_np(pthread_self(), "hookd-ckpt");
    pthread_mutex_lock(&ck->lock);
    while (!ck->stop) {
        if (!ck->requested) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += 1; /* and once a second anyway, while there is something to copy */
            pthread_cond_timedwait(&ck->wake, &ck->lock, &until);
        }
        ck->requested = false;
        pthread_mutex_unlock(&ck->lock);
        int log_frames = 0, copied = 0;
        if (sqlite3_wal_checkpoint_v2(ck->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log_frames,
                                      &copied) != SQLITE_OK &&
            sqlite3_errcode(ck->db) != SQLITE_BUSY)
            sq_fail(ck->db, "checkpoint");
        pthread_mutex_lock(&ck->lock);
    }
    pthread_mutex_unlock(&ck->lock);
    return NULL;
}

/* Called by SQLite on the writer after each commit with the WAL's size in pages. */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
    struct checkpointer *ck = arg;
    (void)db;
    (void)name;
    if (pages >= CHECKPOINT_PAGES) {
        pthread_mutex_lock(&ck->lock);
        ck->requested = true;
        pthread_cond_signal(&ck->wake);
        pthread_mutex_unlock(&ck->lock);
    }
    return SQLITE_OK;
}

static int checkpointer_start(struct sqlite_store *st, struct err *e)
{
    struct checkpointer *ck = &st->ckpt;
    if (sqlite3_open_v2(st->path, &ck->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close(ck->db);
        ck->db = NULL;
        return err_internal(e, "cannot open the checkpoint connection of %s", st->path);
    }
    sqlite3_busy_timeout(ck->db, BUSY_TIMEOUT_MS);
    sqlite3_exec(ck->db,
                 st->opts.sqlite_full_sync ? "PRAGMA synchronous = FULL"
                                           : "PRAGMA synchronous = NORMAL",
                 NULL, NULL, NULL);
    pthread_mutex_init(&ck->lock, NULL);
    pthread_cond_init(&ck->wake, NULL);
    if (pthread_create(&ck->thread, NULL, checkpointer_main, ck) != 0) {
        sqlite3_close(ck->db);
        ck->db = NULL;
        return err_internal(e, "cannot start the checkpoint thread");
    }
    ck->running = true;
    sqlite3_exec(st->writer->db, "PRAGMA wal_autocheckpoint = 0", NULL, NULL, NULL);
    sqlite3_wal_hook(st->writer->db, on_wal_commit, ck);
    return 0;
}

static void checkpointer_stop(struct checkpointer *ck)
{
    if (!ck->running)
        return;
    pthread_mutex_lock(&ck->lock);
    ck->stop = true;
    pthread_cond_signal(&ck->wake);
    pthread_mutex_unlock(&ck->lock);
    pthread_join(ck->thread, NULL);
    sqlite3_close(ck->db);
    pthread_cond_destroy(&ck->wake);
    pthread_mutex_destroy(&ck->lock);
    ck->running = false;
}

static void sqlite_close(struct store *base)
{
    struct sqlite_store *st = as_store(base);
    if (st == NULL)
        return;
    checkpointer_stop(&st->ckpt);
    while (st->pool) {
        struct sqlite_conn *next = st->pool->next_free;
        conn_close(st->pool);
        st->pool = next;
    }
    /* the writer closes last: the last connection checkpoints and removes the WAL, which a
     * read-only one cannot */
    conn_close(st->writer);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    pthread_mutex_destroy(&st->pool_lock);
    free(st->path);
    free(st);
}

static pthread_once_t sqlite_configured = PTHREAD_ONCE_INIT;

/* Process-wide settings, before SQLite initializes: no global mutex around every allocation
 * for statistics nobody reads. */
static void configure_sqlite(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int sqlite_open(const char *location, const struct store_options *opts, struct store **out,
                       struct err *e)
{
    struct sqlite_store *st = xcalloc(1, sizeof *st);
    pthread_once(&sqlite_configured, configure_sqlite);
    st->base.ops = &sqlite_ops;
    st->path = xstrdup(location);
    st->opts = *opts;
    st->lock_fd = -1;
    pthread_mutex_init(&st->pool_lock, NULL);
    if (strlen(location) >= 4096) {
        err_invalid(e, "db", "the database path is too long");
        goto fail;
    }
    if (opts->exclusive && lock_file(st, e) != 0)
        goto fail;
    st->writer = conn_open(st, true, e);
    if (st->writer == NULL)
        goto fail;
    /* the serving process checkpoints in the background; a CLI command lets SQLite do it */
    if (opts->exclusive && checkpointer_start(st, e) != 0)
        goto fail;
    *out = &st->base;
    return 0;
fail:
    sqlite_close(&st->base);
    return ERR_FAIL;
}

static int read_user_version(struct sqlite_conn *c, int *version)
{
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(c->db, "PRAGMA user_version", -1, &s, NULL) != SQLITE_OK)
        return sq_fail(c->db, "user_version");
    *version = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    return 0;
}

static int sqlite_schema_version(struct store *base, int *current, int *latest)
{
    *latest = MIGRATION_COUNT;
    return read_user_version(as_store(base)->writer, current);
}

static int sqlite_migrate(struct store *base, int *applied, struct err *e)
{
    struct sqlite_conn *c = as_store(base)->writer;
    int version;
    char *message = NULL, sql[64];

    *applied = 0;
    if (read_user_version(c, &version) != 0)
        return err_internal(e, "cannot read the schema version");
    if (version > MIGRATION_COUNT)
        return err_internal(e, "the database schema (version %d) is newer than this hookd (%d)",
                            version, MIGRATION_COUNT);
    for (; version < MIGRATION_COUNT; version++) {
        /* each migration and its version bump commit together */
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(c->db, migrations[version], NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(c->db, sql, NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(c->db, "COMMIT", NULL, NULL, &message) != SQLITE_OK) {
            err_internal(e, "migration %d failed: %s", version + 1, message ? message : "?");
            sqlite3_free(message);
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return ERR_FAIL;
        }
        (*applied)++;
    }
    return sq_fanout_track(c) == 0 ? 0 : err_internal(e, "cannot set up the fan-out cache");
}

static struct store_conn *sqlite_acquire(struct store *base)
{
    struct sqlite_store *st = as_store(base);
    struct sqlite_conn *c;
    struct err e;

    pthread_mutex_lock(&st->pool_lock);
    c = st->pool;
    if (c)
        st->pool = c->next_free;
    pthread_mutex_unlock(&st->pool_lock);
    if (c == NULL) {
        c = conn_open(st, false, &e);
        if (c == NULL) {
            log_error("cannot open a read connection", "error", json_string(e.message), NULL);
            return NULL;
        }
    }
    return &c->base;
}

static void sqlite_release(struct store_conn *base)
{
    struct sqlite_conn *c = sq_conn(base);
    struct sqlite_store *st = as_store(base->store);
    pthread_mutex_lock(&st->pool_lock);
    c->next_free = st->pool;
    st->pool = c;
    pthread_mutex_unlock(&st->pool_lock);
}

static int sqlite_ping(struct store_conn *c)
{
    return run_simple(sq_conn(c), ST_PING);
}

static struct store_conn *sqlite_tx_begin(struct store *base)
{
    struct sqlite_conn *c = as_store(base)->writer;
    return run_simple(c, ST_BEGIN) == 0 ? &c->base : NULL;
}

static int sqlite_tx_commit(struct store_conn *tx)
{
    return run_simple(sq_conn(tx), ST_COMMIT);
}

static void sqlite_tx_rollback(struct store_conn *tx)
{
    run_simple(sq_conn(tx), ST_ROLLBACK);
    sq_fanout_forget(sq_conn(tx));
}

static int sqlite_savepoint(struct store_conn *tx)
{
    return run_simple(sq_conn(tx), ST_SAVEPOINT);
}

static int sqlite_savepoint_release(struct store_conn *tx)
{
    return run_simple(sq_conn(tx), ST_RELEASE);
}

static int sqlite_savepoint_rollback(struct store_conn *tx)
{
    int rc = run_simple(sq_conn(tx), ST_ROLLBACK_TO);
    sq_fanout_forget(sq_conn(tx));
    return rc == 0 ? run_simple(sq_conn(tx), ST_RELEASE) : rc;
}

/* --- orgs --- */

static void read_org(sqlite3_stmt *s, struct org *out)
{
    sq_copy_text(s, 0, out->id, sizeof out->id);
    sq_copy_text(s, 1, out->name, sizeof out->name);
    sq_copy_text(s, 2, out->primary_secret, sizeof out->primary_secret);
    sq_copy_text(s, 3, out->signature_scheme, sizeof out->signature_scheme);
    out->created_at = sqlite3_column_int64(s, 4);
}

static int sqlite_org_insert(struct store_conn *tx, const struct org *org)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_ORG_INSERT]);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org->id);
    sq_bind_text(s, 2, org->name);
    sq_bind_text(s, 3, org->primary_secret);
    sq_bind_text(s, 4, org->signature_scheme);
    sqlite3_bind_int64(s, 5, org->created_at);
    return sq_run(sq_conn(tx), s);
}

static int sqlite_org_get(struct store_conn *c, const char *id, struct org *out)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(c), statements[ST_ORG_GET]);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_org(s, out);
    else if (rc != SQLITE_DONE)
        sq_fail(sq_conn(c)->db, "org_get");
    sq_done(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ERR_NOT_FOUND : ERR_FAIL;
}

static void read_org_row(sqlite3_stmt *s, void *out)
{
    read_org(s, out);
}

static int sqlite_org_list(struct store_conn *c, const struct page *page, struct org *out,
                           int *count)
{
    sqlite3_stmt *s = sq_prepare(
        sq_conn(c), statements[page->has_cursor ? ST_ORG_LIST_AFTER : ST_ORG_LIST_FIRST]);
    int i = 1;
    if (s == NULL)
        return ERR_FAIL;
    if (page->has_cursor) {
        sqlite3_bind_int64(s, i++, page->before_ms);
        sq_bind_text(s, i++, page->before_id);
    }
    sqlite3_bind_int(s, i, page->limit + 1);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_org_row);
}

static int sqlite_org_update(struct store_conn *tx, const struct org *org)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_ORG_UPDATE]);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org->name);
    sq_bind_text(s, 2, org->primary_secret);
    sq_bind_text(s, 3, org->signature_scheme);
    sq_bind_text(s, 4, org->id);
    return sq_run_changed(sq_conn(tx), s);
}

/* Deletes the org (§2.2): its keys are revoked, its endpoints and sources deleted, and its queued
 * deliveries end exhausted; its history stays until retention purges it. */
static int sqlite_org_delete(struct store_conn *tx, const char *id, int64_t now)
{
    struct sqlite_conn *c = sq_conn(tx);
    const enum stmt_id steps[] = {ST_ORG_REVOKE_KEYS, ST_ORG_DELETE_ENDPOINTS,
                                  ST_ORG_DELETE_SOURCES};
    sqlite3_stmt *s = sq_prepare(c, statements[ST_ORG_DELETE]);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, id);
    rc = sq_run_changed(c, s);
    for (size_t i = 0; rc == 0 && i < sizeof steps / sizeof steps[0]; i++) {
        s = sq_prepare(c, statements[steps[i]]);
        if (s == NULL)
            return ERR_FAIL;
        sqlite3_bind_int64(s, 1, now);
        sq_bind_text(s, 2, id);
        rc = sq_run(c, s);
    }
    if (rc == 0) {
        s = sq_prepare(c, statements[ST_ORG_END_DELIVERIES]);
        if (s == NULL)
            return ERR_FAIL;
        sq_bind_text(s, 1, id);
        rc = sq_run(c, s);
    }
    return rc;
}

/* --- keys --- */

static void read_key(sqlite3_stmt *s, struct api_key *out)
{
    const void *hash = sqlite3_column_blob(s, 4);
    sq_copy_text(s, 0, out->id, sizeof out->id);
    sq_copy_text(s, 1, out->org_id, sizeof out->org_id);
    sq_copy_text(s, 2, out->name, sizeof out->name);
    out->scopes = (unsigned)sqlite3_column_int(s, 3);
    memset(out->secret_hash, 0, sizeof out->secret_hash);
    if (hash && sqlite3_column_bytes(s, 4) == (int)sizeof out->secret_hash)
        memcpy(out->secret_hash, hash, sizeof out->secret_hash);
    out->created_at = sqlite3_column_int64(s, 5);
    out->revoked_at = sqlite3_column_int64(s, 6);
}

static void read_key_row(sqlite3_stmt *s, void *out)
{
    read_key(s, out);
}

static int sqlite_key_insert(struct store_conn *tx, const struct api_key *key)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_KEY_INSERT]);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, key->id);
    sq_bind_text(s, 2, key->org_id);
    sq_bind_text(s, 3, key->name);
    sqlite3_bind_int(s, 4, (int)key->scopes);
    sqlite3_bind_blob(s, 5, key->secret_hash, sizeof key->secret_hash, SQLITE_STATIC);
    sqlite3_bind_int64(s, 6, key->created_at);
    return sq_run(sq_conn(tx), s);
}

static int sqlite_key_get(struct store_conn *c, const char *id, struct api_key *out)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(c), statements[ST_KEY_GET]);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, id);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_key(s, out);
    else if (rc != SQLITE_DONE)
        sq_fail(sq_conn(c)->db, "key_get");
    sq_done(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ERR_NOT_FOUND : ERR_FAIL;
}

static int sqlite_key_list(struct store_conn *c, const char *org_id, const struct page *page,
                           struct api_key *out, int *count)
{
    sqlite3_stmt *s = sq_prepare(
        sq_conn(c), statements[page->has_cursor ? ST_KEY_LIST_AFTER : ST_KEY_LIST_FIRST]);
    int i = 1;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, i++, org_id);
    if (page->has_cursor) {
        sqlite3_bind_int64(s, i++, page->before_ms);
        sq_bind_text(s, i++, page->before_id);
    }
    sqlite3_bind_int(s, i, page->limit + 1);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_key_row);
}

static int sqlite_key_revoke(struct store_conn *tx, const char *id, int64_t now)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_KEY_REVOKE]);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, id);
    return sq_run_changed(sq_conn(tx), s);
}

static int sqlite_key_count(struct store_conn *c, long *count)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(c), statements[ST_KEY_COUNT]);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    rc = sqlite3_step(s);
    *count = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : 0;
    sq_done(s);
    return rc == SQLITE_ROW ? 0 : sq_fail(sq_conn(c)->db, "key_count");
}

/* --- idempotency --- */

static int sqlite_idem_get(struct store_conn *c, const char *scope, const char *key,
                           int64_t not_before, struct idem_record *out)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(c), statements[ST_IDEM_GET]);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, scope);
    sq_bind_text(s, 2, key);
    sqlite3_bind_int64(s, 3, not_before);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const void *hash = sqlite3_column_blob(s, 0);
        text_copy(out->scope, sizeof out->scope, scope);
        text_copy(out->key, sizeof out->key, key);
        memset(out->request_hash, 0, sizeof out->request_hash);
        if (hash && sqlite3_column_bytes(s, 0) == (int)sizeof out->request_hash)
            memcpy(out->request_hash, hash, sizeof out->request_hash);
        out->status = sqlite3_column_int(s, 1);
        out->body = xstrdup((const char *)sqlite3_column_text(s, 2));
        out->created_at = sqlite3_column_int64(s, 3);
    } else if (rc != SQLITE_DONE) {
        sq_fail(sq_conn(c)->db, "idem_get");
    }
    sq_done(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? ERR_NOT_FOUND : ERR_FAIL;
}

static int sqlite_idem_put(struct store_conn *tx, const struct idem_record *rec)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_IDEM_PUT]);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, rec->scope);
    sq_bind_text(s, 2, rec->key);
    sqlite3_bind_blob(s, 3, rec->request_hash, sizeof rec->request_hash, SQLITE_STATIC);
    sqlite3_bind_int(s, 4, rec->status);
    sq_bind_text(s, 5, rec->body);
    sqlite3_bind_int64(s, 6, rec->created_at);
    return sq_run(sq_conn(tx), s);
}

static int sqlite_idem_purge(struct store_conn *tx, int64_t older_than, int max_rows)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_IDEM_PURGE]);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, older_than);
    sqlite3_bind_int(s, 2, max_rows);
    return sq_run(sq_conn(tx), s);
}

/* --- nodes --- */

static int sqlite_node_heartbeat(struct store_conn *tx, const char *node_id, int64_t now)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_NODE_HEARTBEAT]);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, node_id);
    sqlite3_bind_int64(s, 2, now);
    return sq_run(sq_conn(tx), s);
}

static int sqlite_node_remove(struct store_conn *tx, const char *node_id)
{
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), statements[ST_NODE_REMOVE]);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, node_id);
    return sq_run(sq_conn(tx), s);
}

static const struct store_ops sqlite_ops = {
    .scheme = "sqlite",
    .open = sqlite_open,
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .acquire = sqlite_acquire,
    .release = sqlite_release,
    .ping = sqlite_ping,
    .tx_begin = sqlite_tx_begin,
    .tx_commit = sqlite_tx_commit,
    .tx_rollback = sqlite_tx_rollback,
    .savepoint = sqlite_savepoint,
    .savepoint_release = sqlite_savepoint_release,
    .savepoint_rollback = sqlite_savepoint_rollback,
    .org_insert = sqlite_org_insert,
    .org_get = sqlite_org_get,
    .org_list = sqlite_org_list,
    .org_update = sqlite_org_update,
    .org_delete = sqlite_org_delete,
    .key_insert = sqlite_key_insert,
    .key_get = sqlite_key_get,
    .key_list = sqlite_key_list,
    .key_revoke = sqlite_key_revoke,
    .key_count = sqlite_key_count,
    .idem_get = sqlite_idem_get,
    .idem_put = sqlite_idem_put,
    .idem_purge = sqlite_idem_purge,
    .node_heartbeat = sqlite_node_heartbeat,
    .node_remove = sqlite_node_remove,
    .event_type_insert = sq_event_type_insert,
    .event_type_get = sq_event_type_get,
    .event_type_list = sq_event_type_list,
    .event_type_update = sq_event_type_update,
    .event_type_delete = sq_event_type_delete,
    .event_type_count_prefix = sq_event_type_count_prefix,
    .endpoint_insert = sq_endpoint_insert,
    .endpoint_update = sq_endpoint_update,
    .endpoint_get = sq_endpoint_get,
    .endpoint_list = sq_endpoint_list,
    .endpoint_delete = sq_endpoint_delete,
    .endpoint_fanout = sq_endpoint_fanout,
    .event_insert = sq_event_insert,
    .event_get = sq_event_get,
    .event_list = sq_event_list,
    .delivery_insert = sq_delivery_insert,
    .delivery_get = sq_delivery_get,
    .delivery_list = sq_delivery_list,
    .attempt_list = sq_attempt_list,
    .delivery_record = sq_delivery_record,
    .delivery_retry = sq_delivery_retry,
    .delivery_replay = sq_delivery_replay,
    .delivery_claim_all = sq_delivery_claim_all,
    .delivery_release = sq_delivery_release,
    .delivery_due = sq_delivery_due,
    .source_insert = sq_source_insert,
    .source_update = sq_source_update,
    .source_get = sq_source_get,
    .source_list = sq_source_list,
    .source_delete = sq_source_delete,
    .inbound_insert = sq_inbound_insert,
    .inbound_get = sq_inbound_get,
    .inbound_list = sq_inbound_list,
    .inbound_seen = sq_inbound_seen,
};

const struct store_ops *const store_sqlite = &sqlite_ops;
