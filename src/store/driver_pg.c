/* The PostgreSQL driver (libpq): several hookd nodes share one database (§7). A pool of read
 * connections, one write connection owned by the writer, statements prepared once per
 * connection with the parameter types of their first use, versioned migrations run under an
 * advisory lock, and a LISTEN connection for wake-ups. */
#include "store/pg_dialect.h"
#include "store/sql.h"
#include "store/store_internal.h"

#include "core/log.h"
#include "core/mem.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* pg_advisory_lock key ("hookd" in ASCII): nodes starting together migrate one at a time */
#define MIGRATION_LOCK "448378203236"
#define CONNECT_TIMEOUT_S "10"

#define STMT_SLOTS 256 /* more than the store has statements */
#define MAX_PARAMS 32
#define ROW_SETS_MAX 8 /* statements gathering rows at once in a transaction */

/* Type oids of the parameters (pg_type.h is the server's header) */
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_TEXT 25
#define OID_FLOAT8 701

struct pg_stmt {
    struct sql_stmt base;
    char name[16]; /* "s<slot>" on the server */
    char *text;    /* the SQL with $n for ?n */
    bool prepared; /* in this session of the connection */
    int nparams;   /* the highest bound */
    Oid types[MAX_PARAMS];
    const char *values[MAX_PARAMS]; /* not copied: they outlive the step, as in SQLite */
    int lengths[MAX_PARAMS], formats[MAX_PARAMS];
    char numbers[MAX_PARAMS][32];
    PGresult *res; /* once executed */
    int row;
    unsigned char *unescaped; /* the last column_bytes */
    /* rows mode (sql_prepare_rows): each binding adds an element to its parameter's array
     * literal, "{...}", all sent as one statement before the connection's next other one */
    bool rows_mode;
    int rows, mark_rows; /* mark: where the job's savepoint began */
    struct array_literal {
        char *text;
        size_t len, cap, mark_len;
    } arrays[MAX_PARAMS];
};

/* A result the writer's pipeline has yet to read, in the order of sending. */
struct pending {
    struct pg_stmt *stmt; /* whose prepare it is, or NULL */
    bool deferred;        /* sent by run_later: a failure dooms the transaction */
};

struct pg_conn {
    struct store_conn base;
    PGconn *db;
    bool is_writer;
    /* The writer's transaction runs in pipeline mode: statements whose outcome a rule does not
     * need (run_later, savepoints) are sent without waiting, and their results read with the
     * next statement that waits, in one round trip. */
    bool pipeline;
    bool doomed; /* a statement sent without waiting failed: the transaction will not commit */
    /* the job's SAVEPOINT, not sent while its job has sent nothing but rows: sent (between
     * the rows before it and the job's own) with the job's first other statement, and with
     * its RELEASE never sent at all if none comes */
    bool savepoint_held;
    struct pending *pending;
    int npending, pending_cap;
    /* statements in rows mode, in the order of their first row */
    struct pg_stmt *row_sets[ROW_SETS_MAX];
    int nrow_sets;
    /* statements, keyed by the address of their SQL text */
    const char *stmt_sql[STMT_SLOTS];
    struct pg_stmt *stmts[STMT_SLOTS];
};

struct pg_store {
    struct store base;
    char *url;
    /* what this process asked of the server, logged at close (make bench divides them by the
     * deliveries): statements run, and the times it waited for an answer */
    long statements, round_trips;
    struct pg_conn *writer;   /* used by one thread at a time: the writer */
    struct pg_conn *listener; /* LISTEN hookd_work, for the engine's thread */
};

static void stmt_free(struct pg_stmt *s);
static void forget_prepared(struct pg_conn *c);
static void rows_discard(struct pg_conn *c);
static int rows_flush(struct pg_conn *c);

static struct pg_store *as_store(struct store *st)
{
    return (struct pg_store *)st;
}

static struct pg_conn *pg_conn_of(struct store_conn *c)
{
    return (struct pg_conn *)c;
}

static void count(struct pg_conn *c, long statements, long round_trips)
{
    struct pg_store *st = as_store(c->base.store);
    __atomic_fetch_add(&st->statements, statements, __ATOMIC_RELAXED);
    __atomic_fetch_add(&st->round_trips, round_trips, __ATOMIC_RELAXED);
}

static struct pg_stmt *as_stmt(struct sql_stmt *s)
{
    return (struct pg_stmt *)s;
}

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

/* Every statement of hookd's is short, and compiling one (JIT) costs more than running it: a
 * claim whose LIMIT the planner cannot cost well (its rows are split among the loops by an
 * expression) was estimated above jit_optimize_above_cost, and spent ~50 ms compiling each
 * time (drain: 1,700 deliveries/s). */
#define SESSION_OPTIONS "-c jit=off"
/* The writer's statements each touch a few rows through a key. On a fresh database the
 * planner takes its tables for ~240 rows until autovacuum first analyzes them (a minute or
 * more), and a plan cached then joins a batch's rows by hashing a scan of the whole table,
 * kept as the table grows: 4 ms per outcome batch at 15k rows. Without hash and merge joins
 * every join is a loop over an index. */
#define WRITER_OPTIONS SESSION_OPTIONS " -c enable_hashjoin=off -c enable_mergejoin=off"
/* The read connections' queries all read an index in the order they want (the lists, the
 * claims). A claim reads only its loop's part of the due rows, through an expression whose
 * share the planner takes for 0.5 %: once the table was analyzed it sorted every due row
 * (a bitmap scan, then a sort of 100k rows) to return 512, 40-60 ms a claim. */
#define READER_OPTIONS SESSION_OPTIONS " -c enable_sort=off"

static struct pg_conn *conn_open(struct pg_store *st, const char *options, struct err *e)
{
    /* defaults first: the URL's own parameters override them */
    const char *const keys[] = {"connect_timeout", "fallback_application_name",
                                "client_encoding", "options",
                                "dbname",          NULL};
    const char *const values[] = {CONNECT_TIMEOUT_S, "hookd", "UTF8", options, st->url, NULL};
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
    for (int i = 0; i < STMT_SLOTS; i++)
        stmt_free(c->stmts[i]);
    free(c->pending);
    store_conn_clear(&c->base);
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
    forget_prepared(c);
    c->pipeline = c->doomed = c->savepoint_held = false;
    c->npending = 0;
    rows_discard(c);
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
    count(c, 1, 1);
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
    log_info("postgres use", "statements", json_integer(st->statements), "round_trips",
             json_integer(st->round_trips), NULL);
    conn_close(st->writer);
    conn_close(st->listener);
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

    (void)opts; /* the lease is the store's (store.c) */
    st->url = xmalloc(len);
    snprintf(st->url, len, "postgresql:%s", location);
    if (strncmp(location, "//", 2) != 0) {
        err_invalid(e, "db", "a PostgreSQL URL reads postgres://user@host:port/database");
        goto fail;
    }
    st->writer = conn_open(st, WRITER_OPTIONS, e);
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
        *version = atoi(PQgetvalue(res, 0, 0));
    else
        rc = report(c, res, "schema_version");
    PQclear(res);
    return rc == 0 ? 0 : ERR_FAIL;
}

static int pg_schema_version(struct store *base, int *current, int *latest)
{
    struct pg_conn *c = as_store(base)->writer;
    *latest = pg_migration_count;
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
    if (version > pg_migration_count) {
        rc = err_internal(e, "the database schema (version %d) is newer than this hookd (%d)",
                          version, pg_migration_count);
        goto out;
    }
    for (; version < pg_migration_count; version++) {
        snprintf(insert, sizeof insert,
                 "INSERT INTO schema_migrations (version, applied_at) VALUES (%d, "
                 "(extract(epoch FROM clock_timestamp()) * 1000)::bigint)",
                 version + 1);
        if (exec_simple(c, "BEGIN", NULL) != 0 ||
            exec_simple(c, pg_migrations[version], NULL) != 0 ||
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

static struct store_conn *pg_connect(struct store *base)
{
    struct err e;
    struct pg_conn *c = conn_open(as_store(base), READER_OPTIONS, &e);
    if (c == NULL) {
        log_error("cannot open a read connection", "error", json_string(e.message), NULL);
        return NULL;
    }
    return &c->base;
}

static bool pg_ready(struct store_conn *c)
{
    return conn_ready(pg_conn_of(c));
}

static void pg_disconnect(struct store_conn *c)
{
    conn_close(pg_conn_of(c));
}

static struct store_conn *pg_writer(struct store *base)
{
    struct pg_conn *c = as_store(base)->writer;
    return conn_ready(c) ? &c->base : NULL;
}

static int pipeline_begin(struct pg_conn *c);
static int pipeline_control(struct pg_conn *c, enum sql_control what);

static int pg_control(struct store_conn *base, enum sql_control what)
{
    struct pg_conn *c = pg_conn_of(base);
    if (what == SQL_BEGIN)
        return pipeline_begin(c);
    return pipeline_control(c, what);
}

/* --- statements --- */

/* SQLite's ?n as PostgreSQL's $n, outside quotes. */
static char *dollar_params(const char *sql)
{
    size_t len = strlen(sql);
    char *out = xmalloc(len + 1), *o = out;
    char quote = 0;
    for (const char *p = sql; *p; p++) {
        if (quote) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '?') {
            *o++ = '$';
            continue;
        }
        *o++ = *p;
    }
    *o = '\0';
    return out;
}

static struct sql_stmt *pgs_prepare(struct store_conn *base, const char *sql)
{
    struct pg_conn *c = pg_conn_of(base);
    size_t slot = ((uintptr_t)sql >> 3) % STMT_SLOTS;
    for (size_t probe = 0; probe < STMT_SLOTS; probe++, slot = (slot + 1) % STMT_SLOTS) {
        if (c->stmt_sql[slot] == sql)
            return &c->stmts[slot]->base;
        if (c->stmt_sql[slot] == NULL) {
            struct pg_stmt *s = xcalloc(1, sizeof *s);
            s->base.conn = base;
            snprintf(s->name, sizeof s->name, "s%zu", slot);
            s->text = dollar_params(sql);
            c->stmt_sql[slot] = sql;
            c->stmts[slot] = s;
            return &s->base;
        }
    }
    log_error("postgres statement cache is full", "sql", json_string(sql), NULL);
    return NULL;
}

static void stmt_free(struct pg_stmt *s)
{
    if (s == NULL)
        return;
    PQclear(s->res);
    PQfreemem(s->unescaped);
    for (int i = 0; i < MAX_PARAMS; i++)
        free(s->arrays[i].text);
    free(s->text);
    free(s);
}

/* The connection's session went (a reconnect): its statements are prepared again on use. */
static void forget_prepared(struct pg_conn *c)
{
    for (int i = 0; i < STMT_SLOTS; i++)
        if (c->stmts[i])
            c->stmts[i]->prepared = false;
}

static void array_append(struct array_literal *a, const char *text, size_t len)
{
    if (a->len + len + 1 > a->cap) {
        a->cap = (a->len + len + 1) * 2;
        a->text = xrealloc(a->text, a->cap);
    }
    memcpy(a->text + a->len, text, len);
    a->len += len;
    a->text[a->len] = '\0';
}

/* A value as the next element of an array literal: NULL, or quoted with \ before " and \. */
static void array_add(struct array_literal *a, const char *value)
{
    array_append(a, a->len == 0 ? "{" : ",", 1);
    if (value == NULL) {
        array_append(a, "NULL", 4);
        return;
    }
    array_append(a, "\"", 1);
    for (const char *run = value; *run;) {
        size_t plain = strcspn(run, "\"\\");
        array_append(a, run, plain);
        run += plain;
        if (*run) {
            array_append(a, "\\", 1);
            array_append(a, run++, 1);
        }
    }
    array_append(a, "\"", 1);
}

static void bind(struct sql_stmt *base, int i, Oid type, const char *value, int length, int format)
{
    struct pg_stmt *s = as_stmt(base);
    /* programming errors, caught by the first test that runs the statement */
    if (i < 1 || i > MAX_PARAMS) {
        log_error("statement parameter out of range", "index", json_integer(i), NULL);
        abort();
    }
    if (s->rows_mode && format != 0) {
        log_error("bytes cannot be sent as rows", "sql", json_string(s->text), NULL);
        abort();
    }
    if (s->rows_mode) {
        array_add(&s->arrays[i - 1], value);
        type = 0; /* the statement's cast (?n::bigint[]) names the array's type */
        value = s->arrays[i - 1].text;
    }
    s->types[i - 1] = type;
    s->values[i - 1] = value;
    s->lengths[i - 1] = length;
    s->formats[i - 1] = format;
    if (i > s->nparams)
        s->nparams = i;
}

static void pgs_bind_text(struct sql_stmt *s, int i, const char *text, size_t len)
{
    (void)len; /* text format: NUL-terminated */
    bind(s, i, OID_TEXT, text, 0, 0);
}

static void pgs_bind_int(struct sql_stmt *s, int i, int64_t value)
{
    char *slot = as_stmt(s)->numbers[i >= 1 && i <= MAX_PARAMS ? i - 1 : 0];
    snprintf(slot, sizeof as_stmt(s)->numbers[0], "%lld", (long long)value);
    bind(s, i, OID_INT8, slot, 0, 0);
}

static void pgs_bind_double(struct sql_stmt *s, int i, double value)
{
    char *slot = as_stmt(s)->numbers[i >= 1 && i <= MAX_PARAMS ? i - 1 : 0];
    snprintf(slot, sizeof as_stmt(s)->numbers[0], "%.17g", value);
    bind(s, i, OID_FLOAT8, slot, 0, 0);
}

static void pgs_bind_bytes(struct sql_stmt *s, int i, const void *data, size_t len)
{
    bind(s, i, OID_BYTEA, data, (int)len, 1);
}

static void pgs_bind_null(struct sql_stmt *s, int i, enum sql_type type)
{
    static const Oid oids[] = {[SQL_TEXT] = OID_TEXT,
                               [SQL_INT] = OID_INT8,
                               [SQL_DOUBLE] = OID_FLOAT8,
                               [SQL_BYTES] = OID_BYTEA};
    bind(s, i, oids[type], NULL, 0, 0);
}

static int pipeline_execute(struct pg_conn *c, struct pg_stmt *s);

static int execute(struct pg_stmt *s)
{
    struct pg_conn *c = pg_conn_of(s->base.conn);
    PGresult *res;
    int rc;

    if (c->pipeline)
        return pipeline_execute(c, s);
    /* a read connection lost (the engine keeps one for good) reconnects before its next
     * statement; the writer's does at its next transaction, never inside one */
    if (!c->is_writer && PQstatus(c->db) == CONNECTION_BAD && !conn_ready(c))
        return ERR_FAIL;
    if (!s->prepared) {
        res = PQprepare(c->db, s->name, s->text, s->nparams, s->types);
        count(c, 0, 1);
        rc = PQresultStatus(res) == PGRES_COMMAND_OK ? 0 : report(c, res, s->text);
        PQclear(res);
        if (rc != 0)
            return rc;
        s->prepared = true;
    }
    res = PQexecPrepared(c->db, s->name, s->nparams, s->values, s->lengths, s->formats, 0);
    count(c, 1, 1);
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        s->res = res;
        s->row = 0;
        return PQntuples(res) > 0 ? SQL_ROW : SQL_DONE;
    default:
        rc = report(c, res, s->text);
        PQclear(res);
        return rc;
    }
}

static int pgs_step(struct sql_stmt *base)
{
    struct pg_stmt *s = as_stmt(base);
    if (s->res == NULL)
        return execute(s);
    return ++s->row < PQntuples(s->res) ? SQL_ROW : SQL_DONE;
}

static long pgs_changes(struct sql_stmt *s)
{
    return as_stmt(s)->res ? strtol(PQcmdTuples(as_stmt(s)->res), NULL, 10) : 0;
}

static bool pgs_column_null(struct sql_stmt *s, int col)
{
    return PQgetisnull(as_stmt(s)->res, as_stmt(s)->row, col);
}

static const char *pgs_column_text(struct sql_stmt *s, int col, size_t *len)
{
    struct pg_stmt *p = as_stmt(s);
    *len = (size_t)PQgetlength(p->res, p->row, col);
    return PQgetvalue(p->res, p->row, col); /* "" for NULL */
}

static int64_t pgs_column_int(struct sql_stmt *s, int col)
{
    const char *v = PQgetvalue(as_stmt(s)->res, as_stmt(s)->row, col);
    if (*v == 't' || *v == 'f') /* a boolean */
        return *v == 't';
    return strtoll(v, NULL, 10);
}

static double pgs_column_double(struct sql_stmt *s, int col)
{
    return strtod(PQgetvalue(as_stmt(s)->res, as_stmt(s)->row, col), NULL);
}

static const void *pgs_column_bytes(struct sql_stmt *s, int col, size_t *len)
{
    struct pg_stmt *p = as_stmt(s);
    *len = 0;
    PQfreemem(p->unescaped);
    p->unescaped = NULL;
    if (PQgetisnull(p->res, p->row, col))
        return "";
    p->unescaped = PQunescapeBytea((const unsigned char *)PQgetvalue(p->res, p->row, col), len);
    if (p->unescaped == NULL) {
        log_error("out of memory", "where", json_string("PQunescapeBytea"), NULL);
        abort();
    }
    return p->unescaped;
}

static void pgs_reset(struct sql_stmt *base)
{
    struct pg_stmt *s = as_stmt(base);
    PQclear(s->res);
    s->res = NULL;
    PQfreemem(s->unescaped);
    s->unescaped = NULL;
    s->nparams = 0;
}

/* --- the writer's pipeline --- */

#define PENDING_MAX 512 /* results read once this many wait, to bound both sides' buffers */

static void push_pending(struct pg_conn *c, struct pg_stmt *prepare_of, bool deferred)
{
    if (c->npending == c->pending_cap) {
        c->pending_cap = c->pending_cap ? c->pending_cap * 2 : 64;
        c->pending = xrealloc(c->pending, (size_t)c->pending_cap * sizeof *c->pending);
    }
    c->pending[c->npending++] = (struct pending){.stmt = prepare_of, .deferred = deferred};
}

/* Reads results up to the next sync point (after an error the server skips to it). */
static void skip_to_sync(struct pg_conn *c)
{
    PGresult *res;
    if (PQpipelineSync(c->db) != 1)
        return;
    count(c, 0, 1);
    for (;;) {
        res = PQgetResult(c->db);
        if (res == NULL) {
            if (PQstatus(c->db) == CONNECTION_BAD)
                return;
            continue; /* the end of one statement's results */
        }
        ExecStatusType status = PQresultStatus(res);
        PQclear(res);
        if (status == PGRES_PIPELINE_SYNC)
            return;
    }
}

/* Reads one statement's results: the first, kept in *out if out is given (else cleared), then
 * the NULL that ends them. 0, ERR_CONFLICT or ERR_FAIL (logged, but for a conflict). */
static int read_one_result(struct pg_conn *c, const char *what, PGresult **out)
{
    PGresult *res = PQgetResult(c->db), *extra;
    int rc = 0;
    switch (PQresultStatus(res)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
        break;
    case PGRES_PIPELINE_ABORTED:
        rc = ERR_FAIL; /* an earlier statement failed */
        break;
    default:
        rc = report(c, res, what);
        break;
    }
    while (res != NULL && (extra = PQgetResult(c->db)) != NULL)
        PQclear(extra);
    if (out && rc == 0)
        *out = res;
    else
        PQclear(res);
    return rc;
}

/* Sends what waits and reads every result sent before; the last one, when last_out is given,
 * is the caller's. A failed deferred statement dooms the transaction. */
static int read_pending(struct pg_conn *c, PGresult **last_out)
{
    int rc = 0, n = c->npending;
    bool failed = false;

    if (n == 0)
        return 0;
    count(c, 0, 1);
    if (PQsendFlushRequest(c->db) != 1 || PQflush(c->db) != 0) {
        c->npending = 0;
        c->doomed = true;
        return log_failure(c, NULL, "pipeline flush");
    }
    c->npending = 0;
    for (int i = 0; i < n; i++) {
        struct pending *p = &c->pending[i];
        bool last = i == n - 1 && last_out != NULL;
        int one = read_one_result(c, p->stmt ? p->stmt->text : "pipelined statement",
                                  last ? last_out : NULL);
        if (one == 0)
            continue;
        failed = true;
        if (p->stmt)
            p->stmt->prepared = false; /* its prepare did not happen */
        if (p->deferred)
            c->doomed = true;
        if (rc == 0) /* the first failure says it */
            rc = p->deferred ? ERR_FAIL : one;
    }
    if (failed)
        skip_to_sync(c); /* the transaction is now failed: a savepoint or rollback follows */
    return rc;
}

static int send_prepared(struct pg_conn *c, struct pg_stmt *s, bool deferred)
{
    if (!s->prepared) {
        if (PQsendPrepare(c->db, s->name, s->text, s->nparams, s->types) != 1)
            return log_failure(c, NULL, s->text);
        s->prepared = true;
        push_pending(c, s, deferred);
    }
    if (PQsendQueryPrepared(c->db, s->name, s->nparams, s->values, s->lengths, s->formats, 0) != 1)
        return log_failure(c, NULL, s->text);
    count(c, 1, 0);
    push_pending(c, NULL, deferred);
    return 0;
}

/* A statement without parameters (sql with static storage), prepared once like the others:
 * the server parses a SAVEPOINT per job otherwise. */
static int send_simple(struct pg_conn *c, const char *sql, bool deferred)
{
    struct sql_stmt *s = pgs_prepare(&c->base, sql);
    return s ? send_prepared(c, as_stmt(s), deferred) : ERR_FAIL;
}

/* NOTIFY, delivered at commit and only if the transaction commits, with the time the work it
 * made is due from: where the other nodes' looks begin (pg_wake_drain). */
static int send_wake_up(struct pg_conn *c)
{
    static const char sql[] = "SELECT pg_notify('hookd_work', ?1)";
    struct sql_stmt *s = pgs_prepare(&c->base, sql);
    char due[24];
    if (s == NULL)
        return ERR_FAIL;
    snprintf(due, sizeof due, "%lld", (long long)c->base.notify_from);
    pgs_bind_text(s, 1, due, strlen(due));
    return send_prepared(c, as_stmt(s), true); /* sends now: the text is copied */
}

static int pipeline_execute(struct pg_conn *c, struct pg_stmt *s)
{
    PGresult *res = NULL;
    int rc;
    if (c->doomed)
        return ERR_FAIL;
    rc = rows_flush(c);
    if (rc == 0)
        rc = send_prepared(c, s, false);
    if (rc == 0)
        rc = read_pending(c, &res);
    if (rc != 0)
        return rc;
    s->res = res;
    s->row = 0;
    return PQntuples(res) > 0 ? SQL_ROW : SQL_DONE;
}

/* Sends a statement whose outcome the rule does not need now: 0 once sent (or run, outside
 * the writer's transaction). */
static int pgs_run_later(struct sql_stmt *base)
{
    struct pg_stmt *s = as_stmt(base);
    struct pg_conn *c = pg_conn_of(base->conn);
    int rc;
    if (!c->pipeline)
        return sql_run(base);
    rc = c->doomed ? ERR_FAIL : rows_flush(c);
    if (rc == 0)
        rc = send_prepared(c, s, true);
    pgs_reset(base); /* libpq has copied the parameters */
    if (rc == 0 && c->npending >= PENDING_MAX)
        rc = read_pending(c, NULL);
    return rc;
}

/* --- rows sent as arrays (sql_prepare_rows) ---
 * In the writer's transaction, a set statement gathers rows, across jobs, until another
 * statement is sent (SAVEPOINT and RELEASE aside) or the transaction ends: its rows are sent
 * then, before it, as one statement. A job rolled back to its savepoint takes its rows out. */

/* Marks where the job's savepoint begins in every set: at its rows so far (a savepoint), or
 * at its start (none held: all its rows stand with the transaction). */
static void rows_mark(struct pg_conn *c, bool here)
{
    for (int i = 0; i < c->nrow_sets; i++) {
        struct pg_stmt *s = c->row_sets[i];
        s->mark_rows = here ? s->rows : 0;
        for (int p = 0; p < MAX_PARAMS; p++)
            s->arrays[p].mark_len = here ? s->arrays[p].len : 0;
    }
}

static void rows_back_to_mark(struct pg_conn *c)
{
    for (int i = 0; i < c->nrow_sets; i++) {
        struct pg_stmt *s = c->row_sets[i];
        s->rows = s->mark_rows;
        for (int p = 0; p < MAX_PARAMS; p++)
            if (s->arrays[p].text)
                s->arrays[p].text[s->arrays[p].len = s->arrays[p].mark_len] = '\0';
    }
}

static void rows_leave(struct pg_stmt *s)
{
    s->rows_mode = false;
    s->rows = s->mark_rows = 0;
    for (int p = 0; p < MAX_PARAMS; p++)
        s->arrays[p].len = s->arrays[p].mark_len = 0;
    s->nparams = 0;
}

static void rows_discard(struct pg_conn *c)
{
    for (int i = 0; i < c->nrow_sets; i++)
        rows_leave(c->row_sets[i]);
    c->nrow_sets = 0;
}

/* Sends a set's rows before its mark (head) or from it (tail) as one statement: each array is
 * the literal's prefix, or the rest with '{' over the comma, closed by '}' in place for as
 * long as libpq takes to copy it. */
static int send_rows(struct pg_conn *c, struct pg_stmt *s, bool head)
{
    char saved[MAX_PARAMS][3];
    size_t at[MAX_PARAMS];
    int rc;
    if (head ? s->mark_rows == 0 : s->rows == s->mark_rows)
        return 0;
    for (int p = 0; p < s->nparams; p++) {
        struct array_literal *a = &s->arrays[p];
        array_append(a, "}", 1); /* room for the head's "}\0" below */
        at[p] = a->mark_len;
        memcpy(saved[p], a->text + at[p], 2);
        if (head) {
            memcpy(a->text + at[p], "}", 2);
            s->values[p] = a->text;
        } else {
            a->text[at[p]] = '{';
            s->values[p] = a->text + at[p];
        }
    }
    rc = send_prepared(c, s, true);
    for (int p = 0; p < s->nparams; p++) {
        struct array_literal *a = &s->arrays[p];
        if (head)
            memcpy(a->text + at[p], saved[p], 2);
        else
            a->text[at[p]] = at[p] == 0 ? '{' : ',';
        a->text[--a->len] = '\0'; /* the "}" again */
    }
    return rc;
}

/* Sends the gathered rows, each set as one statement (split around a held savepoint, which
 * is sent then), before the statement that asked; 0 or ERR_FAIL. */
static int rows_flush(struct pg_conn *c)
{
    int rc = c->doomed && (c->nrow_sets > 0 || c->savepoint_held) ? ERR_FAIL : 0;
    for (int i = 0; rc == 0 && i < c->nrow_sets; i++)
        rc = send_rows(c, c->row_sets[i], c->savepoint_held);
    if (rc == 0 && c->savepoint_held) {
        c->savepoint_held = false;
        rc = send_simple(c, "SAVEPOINT job", true);
        for (int i = 0; rc == 0 && i < c->nrow_sets; i++)
            rc = send_rows(c, c->row_sets[i], false);
    }
    rows_discard(c);
    if (rc == 0 && c->npending >= PENDING_MAX)
        rc = read_pending(c, NULL);
    return rc;
}

static void pgs_rows_begin(struct sql_stmt *base)
{
    struct pg_stmt *s = as_stmt(base);
    struct pg_conn *c = pg_conn_of(base->conn);
    if (s->rows_mode || !c->pipeline) /* gathering already, or nothing to gather in */
        return;
    if (c->nrow_sets == ROW_SETS_MAX && rows_flush(c) != 0)
        return; /* its rows run one by one; the transaction is doomed anyway */
    rows_leave(s);
    s->rows_mode = true;
    c->row_sets[c->nrow_sets++] = s;
}

static int pgs_rows_add(struct sql_stmt *base)
{
    struct pg_stmt *s = as_stmt(base);
    if (!s->rows_mode)
        return pgs_run_later(base);
    s->rows++;
    return 0;
}

static int pipeline_begin(struct pg_conn *c)
{
    if (PQenterPipelineMode(c->db) != 1)
        return log_failure(c, NULL, "enter pipeline mode");
    c->pipeline = true;
    c->doomed = c->savepoint_held = false;
    c->npending = 0;
    rows_discard(c);
    return send_simple(c, "BEGIN", true);
}

/* Ends the transaction's pipeline: every result read up to a sync, and back to normal mode
 * (still inside the transaction if it did not commit). */
static int pipeline_end(struct pg_conn *c)
{
    int rc = read_pending(c, NULL);
    skip_to_sync(c);
    c->pipeline = false;
    if (PQexitPipelineMode(c->db) != 1) {
        log_failure(c, NULL, "exit pipeline mode");
        PQreset(c->db); /* a connection in an unknown state is not reused */
        forget_prepared(c);
        return ERR_FAIL;
    }
    return rc;
}

static int pipeline_control(struct pg_conn *c, enum sql_control what)
{
    PGresult *res = NULL;
    int rc = 0;

    switch (what) {
    case SQL_SAVEPOINT:
        if (c->doomed)
            return ERR_FAIL;
        rows_mark(c, true);
        c->savepoint_held = true;
        return 0;
    case SQL_RELEASE:
        if (c->doomed)
            return ERR_FAIL;
        if (!c->savepoint_held)
            return send_simple(c, "RELEASE SAVEPOINT job", true);
        c->savepoint_held = false; /* the job sent rows only: they stay with the others */
        rows_mark(c, false);
        return 0;
    case SQL_ROLLBACK_TO:
        rows_back_to_mark(c); /* the job's rows not sent yet */
        rows_mark(c, false);
        if (c->savepoint_held) {
            c->savepoint_held = false;
            return c->doomed ? ERR_FAIL : 0;
        }
        /* the job's own failure, already read: its savepoint undoes it */
        if (c->doomed || send_simple(c, "ROLLBACK TO SAVEPOINT job", false) != 0 ||
            send_simple(c, "RELEASE SAVEPOINT job", false) != 0)
            return ERR_FAIL;
        return read_pending(c, NULL);
    case SQL_ROLLBACK:
        rows_discard(c);
        c->savepoint_held = false;
        if (c->pipeline) {
            c->npending = 0; /* whatever they said is undone */
            pipeline_end(c);
        }
        c->doomed = false;
        return exec_simple(c, "ROLLBACK", NULL);
    case SQL_COMMIT:
    case SQL_COMMIT_NOTIFY:
        /* NOTIFY is delivered at commit, and only if the transaction commits */
        rc = c->doomed ? ERR_FAIL : rows_flush(c);
        if (rc == 0 && what == SQL_COMMIT_NOTIFY)
            rc = send_wake_up(c);
        if (rc == 0)
            rc = send_simple(c, "COMMIT", false);
        if (rc == 0)
            rc = read_pending(c, &res);
        if (rc == 0 && strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            /* COMMIT of a failed transaction succeeds, and says ROLLBACK */
            log_error("postgres transaction did not commit", "status",
                      json_string(PQcmdStatus(res)), NULL);
            rc = ERR_FAIL;
        }
        PQclear(res);
        if (c->doomed)
            rc = ERR_FAIL;
        return pipeline_end(c) == 0 ? rc : ERR_FAIL;
    case SQL_BEGIN:
        break;
    }
    return ERR_FAIL;
}

/* --- wake-ups --- */

static int pg_wake_fd(struct store *base)
{
    struct pg_store *st = as_store(base);
    struct err e;
    PGresult *res;
    if (st->listener == NULL && (st->listener = conn_open(st, SESSION_OPTIONS, &e)) == NULL) {
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

static int pg_wake_drain(struct store *base, int64_t *from)
{
    struct pg_store *st = as_store(base);
    PGnotify *note;
    int count = 0;
    if (st->listener == NULL || PQconsumeInput(st->listener->db) != 1)
        return -1;
    while ((note = PQnotifies(st->listener->db)) != NULL) {
        char *end;
        long long due = strtoll(note->extra, &end, 10);
        if (end == note->extra || *end != '\0')
            due = 0; /* a wake-up without a time (an older node's): look from the start */
        if (due < *from)
            *from = due;
        count++;
        PQfreemem(note);
    }
    return count;
}

const struct sql_driver pg_driver = {
    .scheme = "postgres",
    .alias = "postgresql", /* libpq's own name for it */
    .caps = SQL_SHARED | SQL_WAKE,
    .dialect = &pg_dialect,
    .open = pg_open,
    .close = pg_close,
    .migrate = pg_migrate,
    .schema_version = pg_schema_version,
    .connect = pg_connect,
    .ready = pg_ready,
    .disconnect = pg_disconnect,
    .writer = pg_writer,
    .control = pg_control,
    .prepare = pgs_prepare,
    .bind_text = pgs_bind_text,
    .bind_int = pgs_bind_int,
    .bind_double = pgs_bind_double,
    .bind_bytes = pgs_bind_bytes,
    .bind_null = pgs_bind_null,
    .step = pgs_step,
    .run_later = pgs_run_later,
    .rows_begin = pgs_rows_begin,
    .rows_add = pgs_rows_add,
    .changes = pgs_changes,
    .column_null = pgs_column_null,
    .column_text = pgs_column_text,
    .column_int = pgs_column_int,
    .column_double = pgs_column_double,
    .column_bytes = pgs_column_bytes,
    .reset = pgs_reset,
    .wake_fd = pg_wake_fd,
    .wake_drain = pg_wake_drain,
};
