/* The thin SQL driver under the store: what the store's rules (store_*.c) need of a database,
 * and nothing of what one database does differently. Two drivers fill it: driver_sqlite.c and
 * driver_pg.c; the statements that truly differ between them sit in their dialect files. Only
 * src/store includes this header.
 *
 * Statements are SQL text with static storage, in the dialect both databases read, with
 * numbered parameters ?1, ?2, ... (PostgreSQL's driver spells them $1, $2, ...). A statement is
 * prepared once per connection, keyed by the address of its text. Every parameter a statement
 * names is bound, with its type, NULLs included: PostgreSQL infers nothing. */
#ifndef HOOKD_STORE_SQL_H
#define HOOKD_STORE_SQL_H

#include "store/store.h"

#include <stddef.h>
#include <stdint.h>

/* A number of store.h (a delivery state) as SQL text: "status = " SQL_NUM(DLV_PENDING_N). */
#define SQL_NUM_(x) #x
#define SQL_NUM(x) SQL_NUM_(x)

/* What a driver can do beyond the common ground. */
enum {
    SQL_SHARED = 1 << 0, /* several nodes share the database: claims and leases (§4.5) */
    SQL_WAKE = 1 << 1,   /* commits can wake other nodes (wake_fd) */
};

enum sql_type { SQL_TEXT, SQL_INT, SQL_DOUBLE, SQL_BYTES };

/* Transaction control, in the order of the writer's use. */
enum sql_control {
    SQL_BEGIN,
    SQL_COMMIT,
    SQL_COMMIT_NOTIFY, /* commit and wake the other nodes (SQL_WAKE drivers) */
    SQL_ROLLBACK,
    SQL_SAVEPOINT,
    SQL_RELEASE,
    SQL_ROLLBACK_TO, /* back to the savepoint, and release it */
};

/* step() answers */
#define SQL_ROW 1
#define SQL_DONE 0

/* A prepared statement of one connection; drivers embed it first in their own. */
struct sql_stmt {
    struct store_conn *conn;
};

/* The statements a dialect spells its own way. */
struct sql_dialect {
    /* Due pending deliveries by ?2 after (?3, ?4), at most ?5, that no node holds or whose
     * claims older than ?6 have lapsed, and those node ?1 holds if ?7 is 1, of the queue keys
     * in part ?8 of ?9 (QUEUE_KEY_PART); claiming them where nodes share the database.
     * Columns: id, org_id, event_id, endpoint_id, url, event_type, attempt_count,
     * schedule_start, next_attempt_at, payload. */
    const char *delivery_due;
    /* Set forms of the store's row statements (sql_prepare_rows), NULL where each row runs
     * alone: store_deliveries.c's inserts of new events, deliveries and attempts, an outcome's
     * delivery update and an endpoint's success; store_stats.c's counts of outcomes. */
    const char *event_insert_rows, *delivery_insert_rows, *attempt_insert_rows;
    const char *delivery_update_rows, *endpoint_success_rows, *stats_add_rows;
    /* A consistent copy of the database into the file ?1, which must not exist, while
     * writers go on; NULL where the database has its own tools (pg_dump). */
    const char *backup_into;
    /* Gives back to the file system up to STORE_RECLAIM_PAGES of the pages that deletes freed,
     * a row for each; NULL where the database reclaims space on its own (PostgreSQL's
     * autovacuum). */
    const char *reclaim;
    /* Locks the endpoint ?1's row for the transaction (FIFO keys across nodes); NULL where one
     * writer serializes every write already (SQLite). */
    const char *endpoint_lock;
};

struct sql_driver {
    const char *scheme, *alias; /* URL schemes it opens: "sqlite", "postgres"/"postgresql" */
    unsigned caps;
    const struct sql_dialect *dialect;

    /* location is what follows the scheme's colon. */
    int (*open)(const char *location, const struct store_options *opts, struct store **out,
                struct err *e);
    void (*close)(struct store *st);
    int (*migrate)(struct store *st, int *applied, struct err *e);
    int (*schema_version)(struct store *st, int *current, int *latest);

    /* A new read connection for the pool (store.c); NULL after logging. */
    struct store_conn *(*connect)(struct store *st);
    /* Optional: makes a pooled connection ready for use again (reconnects a lost one). */
    bool (*ready)(struct store_conn *c);
    void (*disconnect)(struct store_conn *c);
    /* The writer's connection, ready for a transaction (reconnected if it was lost); NULL if
     * the database cannot be reached. */
    struct store_conn *(*writer)(struct store *st);
    int (*control)(struct store_conn *c, enum sql_control what);

    struct sql_stmt *(*prepare)(struct store_conn *c, const char *sql);
    /* text NULL binds NULL; len is strlen(text) unless the caller knows it */
    void (*bind_text)(struct sql_stmt *s, int i, const char *text, size_t len);
    void (*bind_int)(struct sql_stmt *s, int i, int64_t value);
    void (*bind_double)(struct sql_stmt *s, int i, double value);
    void (*bind_bytes)(struct sql_stmt *s, int i, const void *data, size_t len);
    void (*bind_null)(struct sql_stmt *s, int i, enum sql_type type);
    /* SQL_ROW, SQL_DONE, ERR_CONFLICT (a constraint, not logged) or ERR_FAIL (logged) */
    int (*step)(struct sql_stmt *s);
    /* Optional: sends a statement whose outcome the rule does not need, without waiting for
     * it; a failure then fails the whole transaction at commit. 0, or ERR_FAIL. Resets it. */
    int (*run_later)(struct sql_stmt *s);
    /* Optional, both or neither: a statement of a dialect's set form (sql_prepare_rows)
     * gathers rows in the writer's transaction, its bindings adding one element per row to
     * each parameter's array; rows_add ends a row (on a statement not gathering, it is
     * run_later). The driver sends the gathered rows as run_later would, before the
     * transaction's next other statement (its savepoints aside) or its commit, and takes a
     * job's rows out when the job is rolled back to its savepoint. */
    void (*rows_begin)(struct sql_stmt *s);
    int (*rows_add)(struct sql_stmt *s);
    /* rows the last statement changed */
    long (*changes)(struct sql_stmt *s);
    bool (*column_null)(struct sql_stmt *s, int col);
    /* NUL-terminated, "" for NULL; valid until the next step or reset */
    const char *(*column_text)(struct sql_stmt *s, int col, size_t *len);
    int64_t (*column_int)(struct sql_stmt *s, int col); /* booleans read as 0 and 1 */
    double (*column_double)(struct sql_stmt *s, int col);
    const void *(*column_bytes)(struct sql_stmt *s, int col, size_t *len);
    /* ready for new bindings */
    void (*reset)(struct sql_stmt *s);

    /* SQL_WAKE: a socket that becomes readable when another node's commit made work no node
     * holds; -1 if it cannot be made. drain: > 0 a wake-up came (*from lowered to the earliest
     * due time the commits gave), 0 none, -1 connection lost. */
    int (*wake_fd)(struct store *st);
    int (*wake_drain)(struct store *st, int64_t *from);
};

static inline const struct sql_driver *sql_driver_of(struct store_conn *c)
{
    return c->store->driver;
}

/* NULL after logging if the statement does not prepare. */
struct sql_stmt *sql_prepare(struct store_conn *c, const char *sql);

void sql_text(struct sql_stmt *s, int i, const char *text);         /* NULL binds NULL */
void sql_text_or_null(struct sql_stmt *s, int i, const char *text); /* "" binds NULL too */
void sql_int(struct sql_stmt *s, int i, int64_t value);
void sql_int_or_null(struct sql_stmt *s, int i, int64_t value); /* 0 binds NULL */
void sql_positive_double_or_null(struct sql_stmt *s, int i, double value);
void sql_bytes(struct sql_stmt *s, int i, const void *data, size_t len);
void sql_bytes_or_null(struct sql_stmt *s, int i, const char *text); /* NULL or "" bind NULL */
/* A list page's cursor at ?first and ?first+1 (NULLs for the first page), its limit + 1 at
 * ?first+2. */
void sql_page(struct sql_stmt *s, int first, const struct page *page);

/* Steps a statement that returns no rows: 0, ERR_CONFLICT, ERR_FAIL. Resets it. */
int sql_run(struct sql_stmt *s);
/* Runs a statement whose outcome the rule does not need (inserts of fresh ids, counters):
 * PostgreSQL sends it without waiting, in the writer's pipeline; a failure then fails the
 * transaction. 0 or ERR_FAIL. */
int sql_run_later(struct sql_stmt *s);
/* A row of a statement whose outcome the rule does not need (an insert of a fresh id, an
 * update that waits for nothing), run as sql_run_later would run it: where the driver gathers
 * rows (PostgreSQL, in the writer's transaction) and the dialect gives set_sql, the rows of a
 * transaction run together as set_sql, each parameter ?n bound to the array of the rows'
 * values (set_sql reads them with unnest(?1::text[], ?2::bigint[], ...)); elsewhere row_sql
 * runs per row. Prepare and bind as usual, then sql_rows_add. Text and integers only. */
struct sql_stmt *sql_prepare_rows(struct store_conn *c, const char *row_sql, const char *set_sql);
int sql_rows_add(struct sql_stmt *s); /* 0 or ERR_FAIL */
/* sql_run, then ERR_NOT_FOUND when no row changed. */
int sql_run_changed(struct sql_stmt *s);
/* Runs an INSERT ... ON CONFLICT DO NOTHING: ERR_CONFLICT when it inserted nothing, so that a
 * duplicate leaves the transaction usable in both databases. */
int sql_insert(struct sql_stmt *s);
/* Steps a single-row query into read_row(s, out): 0, ERR_NOT_FOUND or ERR_FAIL. Resets it. */
int sql_read_one(struct sql_stmt *s, void *out, void (*read_row)(struct sql_stmt *, void *));
/* The one row of sql with id at ?1 and org_id at ?2 (the shape of every "get" of an org's
 * object), read as sql_read_one. */
int sql_read_one_of_org(struct store_conn *c, const char *sql, const char *id, const char *org_id,
                        void *out, void (*read_row)(struct sql_stmt *, void *));
/* A page of an org's list: org_id at ?1, the page at ?2 to ?4 (sql_page), read as
 * sql_read_rows. */
int sql_read_org_page(struct store_conn *c, const char *sql, const char *org_id,
                      const struct page *page, void *out, size_t size, int *count,
                      void (*read_row)(struct sql_stmt *, void *));
/* Steps a list query, handing row n to read_row(s, out + n * size); *count gets the rows. */
int sql_read_rows(struct sql_stmt *s, void *out, size_t size, int *count,
                  void (*read_row)(struct sql_stmt *, void *));
/* Runs a write, *changed the rows it changed: 0 or ERR_FAIL. Resets it. */
int sql_run_rows(struct sql_stmt *s, long *changed);
/* A query of one integer (a count): 0 or ERR_FAIL. */
int sql_read_count(struct sql_stmt *s, long *count);

/* Column readers; NULL reads as "", 0 or false. */
void sql_col_copy(struct sql_stmt *s, int col, char *out, size_t size);
char *sql_col_dup(struct sql_stmt *s, int col);         /* free() it */
char *sql_col_dup_or_null(struct sql_stmt *s, int col); /* NULL for NULL */
int64_t sql_col_int64(struct sql_stmt *s, int col);
int sql_col_int(struct sql_stmt *s, int col);
double sql_col_double(struct sql_stmt *s, int col);
/* A bytes column, NUL-terminated for convenience, *len without the NUL; free() it. */
char *sql_col_dup_bytes(struct sql_stmt *s, int col, size_t *len);
/* A bytes column into a buffer that it must fill exactly (else out is zeroed). */
void sql_col_copy_bytes_exact(struct sql_stmt *s, int col, unsigned char *out, size_t size);
/* A bytes column as text into out (cut to fit). */
void sql_col_copy_bytes_text(struct sql_stmt *s, int col, char *out, size_t size);

/* Which oldest heartbeat still holds claims (§4.5). */
int64_t sql_lease_cutoff(struct store_conn *c, int64_t now);

#endif
