/* Shared by the files of the SQLite backend (store_sqlite.c, sqlite_pipeline.c); nothing else
 * includes it. */
#ifndef HOOKD_STORE_SQLITE_INTERNAL_H
#define HOOKD_STORE_SQLITE_INTERNAL_H

#include "store/store.h"

#include <sqlite3.h>

#define SQ_STMT_SLOTS 256 /* more than the backend has statements */

struct sqlite_conn {
    struct store_conn base;
    sqlite3 *db;
    /* prepared statements, keyed by the address of their SQL text */
    const char *stmt_sql[SQ_STMT_SLOTS];
    sqlite3_stmt *stmts[SQ_STMT_SLOTS];
    struct fanout_list fanout; /* endpoint_fanout's answer when it is not cached */
    /* the writer's fan-out lists by org (see sq_fanout_track); NULL elsewhere */
    struct sq_fanout_slot *fanout_cache;
    struct sqlite_conn *next_free;
};

static inline struct sqlite_conn *sq_conn(struct store_conn *c)
{
    return (struct sqlite_conn *)c;
}

/* Caches endpoint_fanout's lists on the writer, which is the only connection that changes
 * endpoints: temporary triggers empty the cache whenever one is added, deleted, or has its org,
 * state or filter changed. Call once the schema is current. */
int sq_fanout_track(struct sqlite_conn *c);
/* Empties the cache; also after a rollback, which may undo what it holds. */
void sq_fanout_forget(struct sqlite_conn *c);
/* Frees what conn_close must. */
void sq_fanout_free(struct sqlite_conn *c);

/* Logs the connection's last error about `what` and returns ERR_FAIL. */
int sq_fail(sqlite3 *db, const char *what);
/* The statement for sql (a string with static storage), prepared once per connection. NULL
 * after logging if it does not prepare. */
sqlite3_stmt *sq_prepare(struct sqlite_conn *c, const char *sql);
/* Resets and clears a statement after use. */
void sq_done(sqlite3_stmt *s);
/* Steps a statement that returns no rows: 0, ERR_CONFLICT on a constraint, ERR_FAIL. */
int sq_run(struct sqlite_conn *c, sqlite3_stmt *s);
/* sq_run, then ERR_NOT_FOUND when no row changed. */
int sq_run_changed(struct sqlite_conn *c, sqlite3_stmt *s);
void sq_bind_text(sqlite3_stmt *s, int i, const char *text);
/* Binds text, or NULL for NULL or "". */
void sq_bind_text_or_null(sqlite3_stmt *s, int i, const char *text);
/* Binds an integer, or NULL for 0. */
void sq_bind_int64_or_null(sqlite3_stmt *s, int i, int64_t value);
void sq_copy_text(sqlite3_stmt *s, int col, char *out, size_t size);
/* A heap copy of a text column ("" for NULL); free() it. */
char *sq_dup_text(sqlite3_stmt *s, int col);
/* Steps a list query, handing row n to read_row(s, out + n * size); *count gets the rows. */
int sq_read_rows(struct sqlite_conn *c, sqlite3_stmt *s, void *out, size_t size, int *count,
                 void (*read_row)(sqlite3_stmt *, void *));
/* Runs sql with two text parameters, reading its single row into read_row(s, out). */
int sq_read_one_by(struct sqlite_conn *c, const char *sql, const char *first, const char *second,
                   void *out, void (*read_row)(sqlite3_stmt *, void *));
/* Steps a single-row query into read_row(s, out): 0, ERR_NOT_FOUND or ERR_FAIL. */
int sq_read_one(struct sqlite_conn *c, sqlite3_stmt *s, void *out,
                void (*read_row)(sqlite3_stmt *, void *));

#endif
