/* The SQLite driver: WAL, foreign keys, busy handling, prepared statements cached per
 * connection, a pool of read connections and one write connection owned by the writer, and a
 * checkpointer thread. */
#include "store/sql.h"
#include "store/sqlite_dialect.h"
#include "store/store_internal.h"

#include "core/log.h"
#include "core/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define STMT_SLOTS 256 /* more than the store has statements */

struct sq_stmt {
    struct sql_stmt base;
    sqlite3_stmt *stmt;
};

struct sqlite_conn {
    struct store_conn base;
    sqlite3 *db;
    /* prepared statements, keyed by the address of their SQL text */
    const char *stmt_sql[STMT_SLOTS];
    struct sq_stmt stmts[STMT_SLOTS];
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
};

static struct sqlite_store *as_store(struct store *st)
{
    return (struct sqlite_store *)st;
}

static struct sqlite_conn *sq_conn(struct store_conn *c)
{
    return (struct sqlite_conn *)c;
}

static sqlite3_stmt *raw(struct sql_stmt *s)
{
    return ((struct sq_stmt *)s)->stmt;
}

static sqlite3 *db_of(struct sql_stmt *s)
{
    return sq_conn(s->conn)->db;
}

static int sq_fail(sqlite3 *db, const char *what)
{
    log_error("sqlite error", "op", json_string(what), "error", json_string(sqlite3_errmsg(db)),
              NULL);
    return ERR_FAIL;
}

/* --- statements --- */

static struct sql_stmt *sq_prepare(struct store_conn *base, const char *sql)
{
    struct sqlite_conn *c = sq_conn(base);
    size_t slot = ((uintptr_t)sql >> 3) % STMT_SLOTS;
    for (size_t probe = 0; probe < STMT_SLOTS; probe++, slot = (slot + 1) % STMT_SLOTS) {
        if (c->stmt_sql[slot] == sql)
            return &c->stmts[slot].base;
        if (c->stmt_sql[slot] == NULL) {
            sqlite3_stmt *s;
            if (sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, NULL) !=
                SQLITE_OK) {
                sq_fail(c->db, sql);
                return NULL;
            }
            c->stmt_sql[slot] = sql;
            c->stmts[slot].stmt = s;
            c->stmts[slot].base.conn = base;
            return &c->stmts[slot].base;
        }
    }
    log_error("sqlite statement cache is full", "sql", json_string(sql), NULL);
    return NULL;
}

/* A statement may leave out a parameter the other dialect needs: binding it is a no-op. */
static void sq_bind_text(struct sql_stmt *s, int i, const char *text, size_t len)
{
    sqlite3_bind_text(raw(s), i, text, (int)len, SQLITE_STATIC);
}

static void sq_bind_int(struct sql_stmt *s, int i, int64_t value)
{
    sqlite3_bind_int64(raw(s), i, value);
}

static void sq_bind_double(struct sql_stmt *s, int i, double value)
{
    sqlite3_bind_double(raw(s), i, value);
}

static void sq_bind_bytes(struct sql_stmt *s, int i, const void *data, size_t len)
{
    sqlite3_bind_blob(raw(s), i, data, (int)len, SQLITE_STATIC);
}

static void sq_bind_null(struct sql_stmt *s, int i, enum sql_type type)
{
    (void)type;
    sqlite3_bind_null(raw(s), i);
}

static int sq_step(struct sql_stmt *s)
{
    switch (sqlite3_step(raw(s))) {
    case SQLITE_ROW:
        return SQL_ROW;
    case SQLITE_DONE:
        return SQL_DONE;
    case SQLITE_CONSTRAINT:
        return ERR_CONFLICT;
    default:
        return sq_fail(db_of(s), sqlite3_sql(raw(s)));
    }
}

static long sq_changes(struct sql_stmt *s)
{
    return sqlite3_changes(db_of(s));
}

static bool sq_column_null(struct sql_stmt *s, int col)
{
    return sqlite3_column_type(raw(s), col) == SQLITE_NULL;
}

static const char *sq_column_text(struct sql_stmt *s, int col, size_t *len)
{
    const unsigned char *text = sqlite3_column_text(raw(s), col);
    *len = text ? (size_t)sqlite3_column_bytes(raw(s), col) : 0;
    return text ? (const char *)text : "";
}

static int64_t sq_column_int(struct sql_stmt *s, int col)
{
    return sqlite3_column_int64(raw(s), col);
}

static double sq_column_double(struct sql_stmt *s, int col)
{
    return sqlite3_column_double(raw(s), col);
}

static const void *sq_column_bytes(struct sql_stmt *s, int col, size_t *len)
{
    const void *bytes = sqlite3_column_blob(raw(s), col);
    *len = bytes ? (size_t)sqlite3_column_bytes(raw(s), col) : 0;
    return bytes ? bytes : "";
}

static void sq_reset(struct sql_stmt *s)
{
    sqlite3_reset(raw(s));
    sqlite3_clear_bindings(raw(s));
}

/* --- connections --- */

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
    /* auto_vacuum = INCREMENTAL lets the purge give freed pages back (the dialect's reclaim).
     * It takes only on a new, empty file, before journal_mode = WAL writes its first page;
     * an existing file keeps the mode it was created with (VACUUM, offline, converts it). */
    snprintf(pragmas, sizeof pragmas,
             "PRAGMA foreign_keys = ON; PRAGMA synchronous = %s; PRAGMA temp_store = MEMORY;"
             "PRAGMA cache_size = -16000;%s",
             st->opts.sqlite_full_sync ? "FULL" : "NORMAL",
             writer ? " PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL;" : "");
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
    for (int i = 0; i < STMT_SLOTS; i++)
        sqlite3_finalize(c->stmts[i].stmt);
    store_conn_clear(&c->base);
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
    /* the writer closes last: the last connection checkpoints and removes the WAL, which a
     * read-only one cannot */
    conn_close(st->writer);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
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
    st->path = xstrdup(location);
    st->opts = *opts;
    st->lock_fd = -1;
    if (strlen(location) >= 4096) {
        err_invalid(e, "db", "the database path is too long");
        goto fail;
    }
    if (opts->must_exist && access(location, F_OK) != 0) {
        err_invalid(e, "db",
                    "SQLite database %s does not exist (hookd serve or hookd migrate creates it)",
                    location);
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
    *latest = sqlite_migration_count;
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
    if (version > sqlite_migration_count)
        return err_internal(e, "the database schema (version %d) is newer than this hookd (%d)",
                            version, sqlite_migration_count);
    for (; version < sqlite_migration_count; version++) {
        /* each migration and its version bump commit together */
        snprintf(sql, sizeof sql, "PRAGMA user_version = %d", version + 1);
        if (sqlite3_exec(c->db, "BEGIN IMMEDIATE", NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(c->db, sqlite_migrations[version], NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(c->db, sql, NULL, NULL, &message) != SQLITE_OK ||
            sqlite3_exec(c->db, "COMMIT", NULL, NULL, &message) != SQLITE_OK) {
            err_internal(e, "migration %d failed: %s", version + 1, message ? message : "?");
            sqlite3_free(message);
            sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
            return ERR_FAIL;
        }
        (*applied)++;
    }
    return 0;
}

static struct store_conn *sqlite_connect(struct store *base)
{
    struct err e;
    struct sqlite_conn *c = conn_open(as_store(base), false, &e);
    if (c == NULL) {
        log_error("cannot open a read connection", "error", json_string(e.message), NULL);
        return NULL;
    }
    return &c->base;
}

static void sqlite_disconnect(struct store_conn *c)
{
    conn_close(sq_conn(c));
}

static struct store_conn *sqlite_writer(struct store *base)
{
    return &as_store(base)->writer->base;
}

static int sqlite_control(struct store_conn *c, enum sql_control what)
{
    static const char *const sql[] = {
        [SQL_BEGIN] = "BEGIN IMMEDIATE",       [SQL_COMMIT] = "COMMIT",
        [SQL_COMMIT_NOTIFY] = "COMMIT",        [SQL_ROLLBACK] = "ROLLBACK",
        [SQL_SAVEPOINT] = "SAVEPOINT job",     [SQL_RELEASE] = "RELEASE job",
        [SQL_ROLLBACK_TO] = "ROLLBACK TO job",
    };
    struct sql_stmt *s = sq_prepare(c, sql[what]);
    int rc = s ? sql_run(s) : ERR_FAIL;
    if (rc == 0 && what == SQL_ROLLBACK_TO)
        return sqlite_control(c, SQL_RELEASE);
    return rc;
}

const struct sql_driver sqlite_driver = {
    .scheme = "sqlite",
    .dialect = &sqlite_dialect,
    .open = sqlite_open,
    .close = sqlite_close,
    .migrate = sqlite_migrate,
    .schema_version = sqlite_schema_version,
    .connect = sqlite_connect,
    .disconnect = sqlite_disconnect,
    .writer = sqlite_writer,
    .control = sqlite_control,
    .prepare = sq_prepare,
    .bind_text = sq_bind_text,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .bind_bytes = sq_bind_bytes,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .changes = sq_changes,
    .column_null = sq_column_null,
    .column_text = sq_column_text,
    .column_int = sq_column_int,
    .column_double = sq_column_double,
    .column_bytes = sq_column_bytes,
    .reset = sq_reset,
};
