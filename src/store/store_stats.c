/* An endpoint's stats (§2.4): each recorded outcome adds to counters of its endpoint's
 * 5-minute bucket, in the same transaction, so a stats query reads a few rows per bucket
 * however many deliveries the store holds. A row counts one kind of thing (a delivery that
 * ended delivered, an attempt, an attempt of a latency bucket, ...) in one node's shard. */
#include "store/sql.h"
#include "store/store_internal.h"

#include "core/mem.h"

#include <stdlib.h>
#include <string.h>

enum stat_kind {
    STAT_DELIVERED = 1, /* deliveries that ended so */
    STAT_FAILED = 2,
    STAT_EXHAUSTED = 3,
    STAT_ATTEMPTS = 10, /* attempts made */
    STAT_ATTEMPTS_FAILED = 11,
    STAT_LATENCY = 100, /* + latency_bucket(): attempts of that duration */
};

struct stat_row {
    const char *endpoint_id;
    int64_t bucket;
    int kind;
    int64_t n;
};

static int compare_rows(const void *a_ptr, const void *b_ptr)
{
    const struct stat_row *a = a_ptr, *b = b_ptr;
    int by_endpoint = strcmp(a->endpoint_id, b->endpoint_id);
    if (by_endpoint != 0)
        return by_endpoint;
    if (a->bucket != b->bucket)
        return a->bucket < b->bucket ? -1 : 1;
    return a->kind - b->kind;
}

/* The kind an outcome's delivery ended as, or 0 while it waits for a retry. */
static int ended_kind(enum delivery_status status)
{
    switch (status) {
    case DLV_DELIVERED:
        return STAT_DELIVERED;
    case DLV_FAILED:
        return STAT_FAILED;
    case DLV_EXHAUSTED:
        return STAT_EXHAUSTED;
    default:
        return 0;
    }
}

/* Up to four rows of one outcome into rows; returns how many. */
static int outcome_rows(const struct attempt_outcome *o, int64_t now, struct stat_row *rows)
{
    const struct attempt *a = &o->attempt;
    int64_t at = o->no_attempt ? now : a->started_at;
    struct stat_row row = {o->endpoint_id, at - at % STATS_BUCKET_MS, 0, 1};
    int n = 0, ended = ended_kind(o->status);

    if (ended) {
        rows[n] = row;
        rows[n++].kind = ended;
    }
    if (o->no_attempt)
        return n;
    rows[n] = row;
    rows[n++].kind = STAT_ATTEMPTS;
    if (!attempt_succeeded(a)) {
        rows[n] = row;
        rows[n++].kind = STAT_ATTEMPTS_FAILED;
    }
    rows[n] = row;
    rows[n++].kind = STAT_LATENCY + latency_bucket(a->duration_ms);
    return n;
}

/* Rows of equal keys (sorted together) summed into the first; returns the rows left. */
static int merge_rows(struct stat_row *rows, int count)
{
    int kept = 0;
    for (int i = 0; i < count; i++) {
        if (kept > 0 && compare_rows(&rows[kept - 1], &rows[i]) == 0)
            rows[kept - 1].n += rows[i].n;
        else
            rows[kept++] = rows[i];
    }
    return kept;
}

int stats_count_outcomes(struct store_conn *tx, const struct attempt_outcome *outcomes, int count,
                         int64_t now)
{
    static const char stats_add[] =
        "INSERT INTO endpoint_stats (endpoint_id, bucket, kind, shard, n) VALUES (?1, ?2, ?3, "
        "?4, ?5) ON CONFLICT (endpoint_id, bucket, kind, shard) DO UPDATE SET n = "
        "endpoint_stats.n + excluded.n";
    struct stat_row *rows = xcalloc((size_t)count * 4 + 1, sizeof *rows);
    int n = 0, rc = 0;

    for (int i = 0; i < count; i++)
        if (outcomes[i].endpoint_id[0] != '\0') /* one-shots have no endpoint to count for */
            n += outcome_rows(&outcomes[i], now, &rows[n]);
    qsort(rows, (size_t)n, sizeof *rows, compare_rows);
    n = merge_rows(rows, n);
    for (int i = 0; rc == 0 && i < n; i++) {
        struct sql_stmt *s =
            sql_prepare_rows(tx, stats_add, sql_driver_of(tx)->dialect->stats_add_rows);
        if (s == NULL) {
            rc = ERR_FAIL;
            break;
        }
        sql_text(s, 1, rows[i].endpoint_id);
        sql_int(s, 2, rows[i].bucket);
        sql_int(s, 3, rows[i].kind);
        sql_int(s, 4, tx->store->stats_shard);
        sql_int(s, 5, rows[i].n);
        rc = sql_rows_add(s);
    }
    free(rows);
    return rc;
}

/* --- reading --- */

static void add_row(struct stats_counts *c, int kind, int64_t n)
{
    if (kind >= STAT_LATENCY && kind < STAT_LATENCY + LATENCY_BUCKETS)
        c->latency[kind - STAT_LATENCY] += n;
    else if (kind == STAT_DELIVERED)
        c->delivered += n;
    else if (kind == STAT_FAILED)
        c->failed += n;
    else if (kind == STAT_EXHAUSTED)
        c->exhausted += n;
    else if (kind == STAT_ATTEMPTS)
        c->attempts += n;
    else if (kind == STAT_ATTEMPTS_FAILED)
        c->attempts_failed += n;
}

int store_endpoint_stats(struct store_conn *c, const char *endpoint_id, int64_t since,
                         int64_t step_ms, struct stats_counts *steps, int step_count)
{
    static const char sql[] = "SELECT bucket, kind, n FROM endpoint_stats WHERE endpoint_id = ?1 "
                              "AND bucket >= ?2 AND bucket < ?3";
    const struct sql_driver *d = sql_driver_of(c);
    struct sql_stmt *s = sql_prepare(c, sql);
    int rc;

    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, endpoint_id);
    sql_int(s, 2, since);
    sql_int(s, 3, since + step_ms * step_count);
    while ((rc = d->step(s)) == SQL_ROW) {
        int64_t i = (sql_col_int64(s, 0) - since) / step_ms;
        if (i >= 0 && i < step_count)
            add_row(&steps[i], sql_col_int(s, 1), sql_col_int64(s, 2));
    }
    d->reset(s);
    return rc == SQL_DONE ? 0 : ERR_FAIL;
}
