/* Shared by the files of the PostgreSQL backend (store_pg.c, pg_pipeline.c, pg_inbound.c);
 * nothing else includes it. */
#ifndef HOOKD_STORE_PG_INTERNAL_H
#define HOOKD_STORE_PG_INTERNAL_H

#include "store/store.h"

#include <libpq-fe.h>
#include <stddef.h>

#define PG_STMT_SLOTS 256 /* more than the backend has statements */
#define PG_MAX_PARAMS 32

struct pg_conn {
    struct store_conn base;
    PGconn *db;
    /* statements prepared on this connection (as "s<slot>"), keyed by the address of their
     * SQL text; emptied when the connection is re-established */
    const char *stmt_sql[PG_STMT_SLOTS];
    bool is_writer;
    /* the writer's transaction made work that no node holds: NOTIFY hookd_work at commit */
    bool notify;
    struct fanout_list fanout; /* endpoint_fanout's answer */
    struct pg_conn *next_free;
};

static inline struct pg_conn *pg_conn_of(struct store_conn *c)
{
    return (struct pg_conn *)c;
}

/* The claims' lease (§4.5), from store_options.lease_ms. */
int64_t pg_lease_ms(struct store_conn *c);

/* Parameters of one statement, in text format but for BYTEA (binary). Values are not copied:
 * they must outlive the call that runs the statement. */
struct pg_params {
    int count;
    const char *values[PG_MAX_PARAMS];
    int lengths[PG_MAX_PARAMS];
    int formats[PG_MAX_PARAMS];
    char numbers[PG_MAX_PARAMS][32];
};

/* Text, or NULL for a NULL pointer. */
void pgp_text(struct pg_params *p, const char *text);
/* Text, or NULL for NULL or "". */
void pgp_text_or_null(struct pg_params *p, const char *text);
void pgp_int(struct pg_params *p, int64_t value);
/* An integer, or NULL for 0. */
void pgp_int_or_null(struct pg_params *p, int64_t value);
/* A double, or NULL for 0 or less. */
void pgp_positive_double_or_null(struct pg_params *p, double value);
/* Bytes for a BYTEA parameter (binary format). */
void pgp_bytes(struct pg_params *p, const void *data, size_t len);
void pgp_null(struct pg_params *p);

/* Runs sql (a string with static storage), prepared once per connection. Returns the result,
 * or NULL with *rc = ERR_CONFLICT (a constraint, not logged) or ERR_FAIL (logged). Free the
 * result with PQclear. */
PGresult *pg_exec(struct pg_conn *c, const char *sql, const struct pg_params *p, int *rc);
/* Runs a statement whose rows do not matter: 0, ERR_CONFLICT or ERR_FAIL. */
int pg_run(struct pg_conn *c, const char *sql, const struct pg_params *p);
/* pg_run, then ERR_NOT_FOUND when no row changed. */
int pg_run_changed(struct pg_conn *c, const char *sql, const struct pg_params *p);
/* Runs an INSERT ... ON CONFLICT DO NOTHING: ERR_CONFLICT when it inserted nothing. A unique
 * conflict this way leaves the transaction usable, as SQLite does. */
int pg_insert(struct pg_conn *c, const char *sql, const struct pg_params *p);
/* Runs a query, handing row n to read_row(res, n, out + n * size); *count gets the rows. */
int pg_read_rows(struct pg_conn *c, const char *sql, const struct pg_params *p, void *out,
                 size_t size, int *count, void (*read_row)(const PGresult *, int, void *));
/* Runs a single-row query into read_row(res, 0, out): 0, ERR_NOT_FOUND or ERR_FAIL. */
int pg_read_one(struct pg_conn *c, const char *sql, const struct pg_params *p, void *out,
                void (*read_row)(const PGresult *, int, void *));
/* Runs a query of one bigint (a count): 0 or ERR_FAIL. */
int pg_read_count(struct pg_conn *c, const char *sql, const struct pg_params *p, long *count);

/* Column readers (text-format results); NULL reads as "", 0 or false. */
void pg_col_copy_text(const PGresult *r, int row, int col, char *out, size_t size);
/* A heap copy of a text column ("" for NULL); free() it. */
char *pg_col_dup_text(const PGresult *r, int row, int col);
/* A heap copy of a text column, NULL for NULL; free() it. */
char *pg_col_dup_text_or_null(const PGresult *r, int row, int col);
int64_t pg_col_int64(const PGresult *r, int row, int col);
int pg_col_int(const PGresult *r, int row, int col);
double pg_col_double(const PGresult *r, int row, int col);
bool pg_col_bool(const PGresult *r, int row, int col);
/* A BYTEA column's bytes, NUL-terminated for convenience, *len without the NUL; free() it. */
char *pg_col_dup_bytes(const PGresult *r, int row, int col, size_t *len);
/* A BYTEA column into a buffer: its length, or 0 (and out zeroed) unless it fits exactly. */
size_t pg_col_copy_bytes_exact(const PGresult *r, int row, int col, unsigned char *out,
                               size_t size);
/* A BYTEA column as text into out (cut to fit). */
void pg_col_copy_bytes_text(const PGresult *r, int row, int col, char *out, size_t size);

/* --- the pipeline (pg_pipeline.c) --- */
int pg_event_type_insert(struct store_conn *tx, const struct event_type *et);
int pg_event_type_get(struct store_conn *c, const char *name, struct event_type *out);
int pg_event_type_list(struct store_conn *c, const struct page *page, struct event_type *out,
                       int *count);
int pg_event_type_update(struct store_conn *tx, const struct event_type *et);
int pg_event_type_delete(struct store_conn *tx, const char *name);
int pg_event_type_count_prefix(struct store_conn *c, const char *prefix, long *count);
int pg_endpoint_insert(struct store_conn *tx, const struct endpoint *ep);
int pg_endpoint_update(struct store_conn *tx, const struct endpoint *ep);
int pg_endpoint_get(struct store_conn *c, const char *org_id, const char *id, struct endpoint *out);
int pg_endpoint_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct endpoint *out, int *count);
int pg_endpoint_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now);
int pg_endpoint_fanout(struct store_conn *tx, const char *org_id, const struct fanout_list **out);
int pg_event_insert(struct store_conn *tx, const struct event *ev);
int pg_event_get(struct store_conn *c, const char *org_id, const char *id, struct event *out);
int pg_event_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                  const struct page *page, struct event *out, int *count);
int pg_delivery_insert(struct store_conn *tx, const struct delivery *d, const char *node_id);
int pg_delivery_get(struct store_conn *c, const char *org_id, const char *id, struct delivery *out);
int pg_delivery_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct delivery *out, int *count);
int pg_attempt_list(struct store_conn *c, const char *delivery_id, struct attempt *out, int max,
                    int *count);
int pg_delivery_record(struct store_conn *tx, struct attempt_outcome *o, int64_t now);
int pg_delivery_retry(struct store_conn *tx, const char *org_id, const char *id,
                      const char *node_id, int64_t now);
int pg_delivery_replay(struct store_conn *tx, const char *org_id, const char *endpoint_id,
                       int64_t since, int64_t until, unsigned statuses, const char *node_id,
                       int64_t now, long *queued);
int pg_delivery_claim_all(struct store_conn *tx, const char *node_id);
int pg_delivery_release(struct store_conn *tx, const char *node_id);
int pg_delivery_due(struct store_conn *c, const char *node_id, int64_t due, int64_t after_ms,
                    const char *after_id, struct due_delivery *out, int max, int *count);

/* --- inbound (pg_inbound.c) --- */
int pg_source_insert(struct store_conn *tx, const struct source *src);
int pg_source_update(struct store_conn *tx, const struct source *src);
int pg_source_get(struct store_conn *c, const char *org_id, const char *id, struct source *out);
int pg_source_list(struct store_conn *c, const char *org_id, const struct page *page,
                   struct source *out, int *count);
int pg_source_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now);
int pg_inbound_insert(struct store_conn *tx, const struct inbound_message *msg);
int pg_inbound_get(struct store_conn *c, const char *org_id, const char *id,
                   struct inbound_message *out);
int pg_inbound_list(struct store_conn *c, const char *org_id, const char *source_id,
                    const char *status, const struct page *page, struct inbound_message *out,
                    int *count);
int pg_inbound_seen(struct store_conn *tx, const char *source_id, const char *dedupe_key,
                    int64_t since);

#endif
