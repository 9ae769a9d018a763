/* Events, their deliveries and attempts, and what an attempt's outcome does to its delivery and
 * its endpoint (§4.3). */
#include "store/sql.h"
#include "store/store_internal.h"

#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- events --- */

#define EVENT_COLUMNS "org_id, id, type, payload, created_at, delivery_count"

static void read_event(struct sql_stmt *s, void *out_ptr)
{
    struct event *ev = out_ptr;
    memset(ev, 0, sizeof *ev);
    sql_col_copy(s, 0, ev->org_id, sizeof ev->org_id);
    sql_col_copy(s, 1, ev->id, sizeof ev->id);
    sql_col_copy(s, 2, ev->type, sizeof ev->type);
    ev->payload = sql_col_dup(s, 3);
    ev->created_at = sql_col_int64(s, 4);
    ev->delivery_count = sql_col_int(s, 5);
}

static const char event_insert[] = "INSERT INTO events (" EVENT_COLUMNS ") VALUES (?1, ?2, ?3, "
                                   "?4, ?5, ?6) ON CONFLICT DO NOTHING";

static void bind_event(struct sql_stmt *s, const struct event *ev)
{
    sql_text(s, 1, ev->org_id);
    sql_text(s, 2, ev->id);
    sql_text(s, 3, ev->type);
    sql_text(s, 4, ev->payload);
    sql_int(s, 5, ev->created_at);
    sql_int(s, 6, ev->delivery_count);
}

int store_event_insert(struct store_conn *tx, const struct event *ev)
{
    struct sql_stmt *s = sql_prepare(tx, event_insert);
    if (s == NULL)
        return ERR_FAIL;
    bind_event(s, ev);
    return sql_insert(s);
}

int store_event_insert_new(struct store_conn *tx, const struct event *ev)
{
    struct sql_stmt *s =
        sql_prepare_rows(tx, event_insert, sql_driver_of(tx)->dialect->event_insert_rows);
    if (s == NULL)
        return ERR_FAIL;
    bind_event(s, ev);
    return sql_rows_add(s);
}

int store_event_get(struct store_conn *c, const char *org_id, const char *id, struct event *out)
{
    static const char sql[] = "SELECT " EVENT_COLUMNS " FROM events WHERE id = ?1 AND org_id = ?2";
    return sql_read_one_of_org(c, sql, id, org_id, out, read_event);
}

#define PAGE_WHERE "(?2 IS NULL OR (created_at, id) < (?2, ?3))"
#define PAGE_ORDER " ORDER BY created_at DESC, id DESC LIMIT ?4"

int store_event_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct event *out, int *count)
{
    static const char sql[] =
        "SELECT " EVENT_COLUMNS " FROM events WHERE org_id = ?1 AND " PAGE_WHERE
        " AND (?5 IS NULL OR type = ?5) AND (?6 IS NULL OR created_at >= ?6) AND (?7 IS NULL OR "
        "created_at < ?7)" PAGE_ORDER;
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org_id);
    sql_page(s, 2, page);
    sql_text_or_null(s, 5, f->type);
    sql_int_or_null(s, 6, f->since);
    sql_int_or_null(s, 7, f->until);
    return sql_read_rows(s, out, sizeof *out, count, read_event);
}

/* --- deliveries --- */

/* Shown as in_flight (§2.6): pending, due by NOW, and held by a node whose heartbeat is at or
 * after CUTOFF (NOW minus the lease): parameters, bound by bind_claim_clock. */
#define DLV_CLAIMED(NOW, CUTOFF)                                                                   \
    "(status = " SQL_NUM(DLV_PENDING_N) " AND node_id IS NOT NULL AND next_attempt_at <= " NOW     \
                                        " AND EXISTS (SELECT 1 FROM nodes n WHERE n.id = "         \
                                        "deliveries.node_id AND n.heartbeat_at >= " CUTOFF "))"

#define DLV_COLUMNS(NOW, CUTOFF)                                                                   \
    "id, org_id, event_id, coalesce(endpoint_id, ''), url, event_type, status, " DLV_CLAIMED(      \
        NOW, CUTOFF) ", attempt_count, schedule_start, coalesce(next_attempt_at, 0), "             \
                     "coalesce(last_attempt_at, 0), coalesce(last_response_status, 0), "           \
                     "coalesce(last_error, ''), created_at, coalesce(delivered_at, 0)"

static void read_delivery(struct sql_stmt *s, void *out_ptr)
{
    struct delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    sql_col_copy(s, 0, d->id, sizeof d->id);
    sql_col_copy(s, 1, d->org_id, sizeof d->org_id);
    sql_col_copy(s, 2, d->event_id, sizeof d->event_id);
    sql_col_copy(s, 3, d->endpoint_id, sizeof d->endpoint_id);
    d->url = sql_col_dup_or_null(s, 4);
    sql_col_copy(s, 5, d->event_type, sizeof d->event_type);
    d->status = (enum delivery_status)sql_col_int(s, 6);
    d->claimed = sql_col_int(s, 7) != 0;
    d->attempt_count = sql_col_int(s, 8);
    d->schedule_start = sql_col_int(s, 9);
    d->next_attempt_at = sql_col_int64(s, 10);
    d->last_attempt_at = sql_col_int64(s, 11);
    d->last_response_status = sql_col_int(s, 12);
    sql_col_copy(s, 13, d->last_error, sizeof d->last_error);
    d->created_at = sql_col_int64(s, 14);
    d->delivered_at = sql_col_int64(s, 15);
}

/* Binds DLV_CLAIMED's NOW at ?first and CUTOFF at ?first+1. */
static void bind_claim_clock(struct sql_stmt *s, int first, struct store_conn *c)
{
    int64_t now = time_now_ms();
    sql_int(s, first, now);
    sql_int(s, first + 1, sql_lease_cutoff(c, now));
}

int store_delivery_insert(struct store_conn *tx, const struct delivery *d, const char *node_id)
{
    static const char sql[] =
        "INSERT INTO deliveries (id, org_id, event_id, endpoint_id, url, event_type, node_id, "
        "attempt_count, schedule_start, next_attempt_at, created_at, ordering_key) VALUES (?1, ?2, "
        "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING";
    struct sql_stmt *s =
        sql_prepare_rows(tx, sql, sql_driver_of(tx)->dialect->delivery_insert_rows);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, d->id);
    sql_text(s, 2, d->org_id);
    sql_text(s, 3, d->event_id);
    sql_text_or_null(s, 4, d->endpoint_id);
    sql_text_or_null(s, 5, d->url);
    sql_text(s, 6, d->event_type);
    sql_text_or_null(s, 7, node_id);
    sql_int(s, 8, d->attempt_count);
    sql_int(s, 9, d->schedule_start);
    sql_int(s, 10, d->next_attempt_at);
    sql_int(s, 11, d->created_at);
    sql_text_or_null(s, 12, d->ordering_key);
    rc = sql_rows_add(s); /* a fresh id: nothing to learn from it */
    /* work that no node holds wakes the idle nodes when the transaction commits (but for a
     * poll endpoint's: never theirs) */
    if (rc == 0 && (node_id == NULL || *node_id == '\0') && d->next_attempt_at != DLV_NEVER_DUE)
        store_notify_from(tx, d->next_attempt_at);
    return rc;
}

int store_delivery_get(struct store_conn *c, const char *org_id, const char *id,
                       struct delivery *out)
{
    static const char sql[] = "SELECT " DLV_COLUMNS("?3", "?4") " FROM deliveries WHERE id = ?1 "
                                                                "AND org_id = ?2";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    sql_text(s, 2, org_id);
    bind_claim_clock(s, 3, c);
    return sql_read_one(s, out, read_delivery);
}

int store_delivery_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                        const struct page *page, struct delivery *out, int *count)
{
#define DLV_LIST_WHERE                                                                             \
    " FROM deliveries WHERE org_id = ?1 AND " PAGE_WHERE " AND (?5 IS NULL OR endpoint_id = ?5) "  \
    "AND (?6 IS NULL OR event_id = ?6) AND (?7 IS NULL OR created_at >= ?7) AND "
    /* ?8: the status filter; DLV_IN_FLIGHT and pending split pending by the derived claim */
    static const char sql[] =
        "SELECT " DLV_COLUMNS("?9", "?10") DLV_LIST_WHERE "(?8 < 0 OR status = ?8)" PAGE_ORDER;
    static const char sql_split[] = "SELECT " DLV_COLUMNS("?9", "?10") DLV_LIST_WHERE
        "status = " SQL_NUM(DLV_PENDING_N) " AND " DLV_CLAIMED("?9", "?10") " = (?8 = " SQL_NUM(
            DLV_IN_FLIGHT) ")" PAGE_ORDER;
#undef DLV_LIST_WHERE
    bool split = f->status == DLV_PENDING || f->status == DLV_IN_FLIGHT;
    struct sql_stmt *s = sql_prepare(c, split ? sql_split : sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org_id);
    sql_page(s, 2, page);
    sql_text_or_null(s, 5, f->endpoint_id);
    sql_text_or_null(s, 6, f->event_id);
    sql_int_or_null(s, 7, f->since);
    sql_int(s, 8, f->status);
    bind_claim_clock(s, 9, c);
    return sql_read_rows(s, out, sizeof *out, count, read_delivery);
}

/* --- attempts --- */

static void read_attempt(struct sql_stmt *s, void *out_ptr)
{
    struct attempt *a = out_ptr;
    memset(a, 0, sizeof *a);
    sql_col_copy(s, 0, a->id, sizeof a->id);
    sql_col_copy(s, 1, a->delivery_id, sizeof a->delivery_id);
    a->n = sql_col_int(s, 2);
    a->started_at = sql_col_int64(s, 3);
    a->duration_ms = sql_col_int(s, 4);
    a->response_status = sql_col_int(s, 5);
    a->response_body = sql_col_dup_or_null(s, 6);
    a->response_headers = sql_col_dup_or_null(s, 7);
    sql_col_copy(s, 8, a->error, sizeof a->error);
    a->request_headers = sql_col_dup_or_null(s, 9);
}

int store_attempt_list(struct store_conn *c, const char *delivery_id, struct attempt *out, int max,
                       int *count)
{
    static const char sql[] =
        "SELECT id, delivery_id, n, started_at, duration_ms, coalesce(response_status, 0), "
        "response_body, response_headers, coalesce(error, ''), request_headers FROM attempts "
        "WHERE delivery_id = ?1 ORDER BY n LIMIT ?2";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, delivery_id);
    sql_int(s, 2, max);
    return sql_read_rows(s, out, sizeof *out, count, read_attempt);
}

/* --- outcomes --- */

/* The writes of an outcome that wait for no answer: its attempt, its delivery when there is
 * nothing to decide from the update (delivered, one-shot, ended without an attempt), its
 * endpoint's success. They gather into one set statement each where the dialect has them
 * (sql_prepare_rows). */
static const char attempt_insert[] =
    "INSERT INTO attempts (id, delivery_id, n, started_at, duration_ms, response_status, "
    "response_body, response_headers, error, request_headers) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
    "?7, ?8, ?9, ?10) ON CONFLICT DO NOTHING";
static const char delivery_update[] =
    "UPDATE deliveries SET status = ?1, attempt_count = ?2, next_attempt_at = ?3, "
    "last_attempt_at = ?4, last_response_status = ?5, last_error = ?6, delivered_at = ?7 "
    "WHERE id = ?8 AND status = ?9"; /* a parameter: no plan may take the due index for it */
/* A success changes the row only if it ends a failure streak or the last one is over a second
 * old: at thousands of deliveries a second, most would rewrite it for nothing. Only an active
 * endpoint counts it: the delivery update before it is not waited for, and a delivery already
 * ended (its endpoint deleted or disabled meanwhile) leaves it as is. */
static const char endpoint_success[] =
    "UPDATE endpoints SET consecutive_failures = 0, last_success_at = ?1 WHERE id = ?2 AND "
    "is_active = 1 AND (consecutive_failures <> 0 OR last_success_at IS NULL OR "
    "last_success_at < ?1 - 1000)";

static int add_attempt(struct sql_stmt *s, const struct attempt *a)
{
    sql_text(s, 1, a->id);
    sql_text(s, 2, a->delivery_id);
    sql_int(s, 3, a->n);
    sql_int(s, 4, a->started_at);
    sql_int(s, 5, a->duration_ms);
    sql_int_or_null(s, 6, a->response_status);
    sql_text_or_null(s, 7, a->response_body);
    sql_text_or_null(s, 8, a->response_headers);
    sql_text_or_null(s, 9, a->error);
    sql_text_or_null(s, 10, a->request_headers);
    return sql_rows_add(s);
}

/* Binds the delivery's update (its last_error into the caller's buffer). */
static void bind_delivery_update(struct sql_stmt *s, const struct attempt_outcome *o,
                                 char last_error[ERROR_BYTES])
{
    const struct attempt *a = &o->attempt;
    if (a->error[0])
        text_copy(last_error, ERROR_BYTES, a->error);
    else if (!attempt_succeeded(a))
        snprintf(last_error, ERROR_BYTES, "HTTP %d", a->response_status);
    else
        last_error[0] = '\0';
    sql_int(s, 1, (int)o->status);
    sql_int(s, 2, a->n);
    sql_int_or_null(s, 3, o->status == DLV_PENDING ? o->next_attempt_at : 0);
    sql_int(s, 4, a->started_at);
    sql_int_or_null(s, 5, a->response_status);
    sql_text_or_null(s, 6, last_error);
    /* delivered when the receiver answered, not when the writer got to it */
    sql_int_or_null(s, 7, o->status == DLV_DELIVERED ? a->started_at + a->duration_ms : 0);
    sql_text(s, 8, a->delivery_id);
    sql_int(s, 9, DLV_PENDING);
}

static bool waits_for_nothing(const struct attempt_outcome *o)
{
    return o->status == DLV_DELIVERED || o->endpoint_id[0] == '\0' || o->no_attempt;
}

/* last_success: the endpoint of the batch's last success, whose next one adds nothing */
static int add_outcome(struct store_conn *tx, const struct attempt_outcome *o, int64_t now,
                       char last_success[ID_MAX])
{
    const struct sql_dialect *d = sql_driver_of(tx)->dialect;
    char last_error[ERROR_BYTES];
    struct sql_stmt *s;
    int rc = 0;

    if (!o->no_attempt) {
        s = sql_prepare_rows(tx, attempt_insert, d->attempt_insert_rows);
        rc = s ? add_attempt(s, &o->attempt) : ERR_FAIL;
    }
    if (rc != 0 || (s = sql_prepare_rows(tx, delivery_update, d->delivery_update_rows)) == NULL)
        return ERR_FAIL;
    bind_delivery_update(s, o, last_error);
    if ((rc = sql_rows_add(s)) != 0)
        return rc;
    if (o->status != DLV_DELIVERED || o->endpoint_id[0] == '\0' || o->no_attempt ||
        strcmp(last_success, o->endpoint_id) == 0)
        return 0;
    text_copy(last_success, ID_MAX, o->endpoint_id);
    if ((s = sql_prepare_rows(tx, endpoint_success, d->endpoint_success_rows)) == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text(s, 2, o->endpoint_id);
    return sql_rows_add(s);
}

/* Disables the endpoint (§4.3) and ends what it has queued. */
static int disable_endpoint(struct store_conn *tx, const char *endpoint_id, const char *reason,
                            int64_t now)
{
    static const char sql[] = "UPDATE endpoints SET is_active = 0, disabled_at = ?1, "
                              "disabled_reason = ?2 WHERE id = ?3";
    struct sql_stmt *s = sql_prepare(tx, sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    fanout_cache_forget(tx);
    sql_int(s, 1, now);
    sql_text(s, 2, reason);
    sql_text(s, 3, endpoint_id);
    rc = sql_run(s);
    return rc ? rc : end_pending(tx, endpoint_id, DLV_FAILED, "endpoint inactive");
}

/* Counts a failure on the endpoint (§4.3) and disables it at the threshold. */
static int count_failure(struct store_conn *tx, struct attempt_outcome *o, int64_t now)
{
    static const char sql[] = "UPDATE endpoints SET consecutive_failures = "
                              "consecutive_failures + 1, last_failure_at = ?1 WHERE id = ?2 "
                              "RETURNING consecutive_failures, is_active";
    struct sql_stmt *s = sql_prepare(tx, sql);
    int failures = 0, is_active = 0, rc;

    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text(s, 2, o->endpoint_id);
    rc = sql_driver_of(tx)->step(s);
    if (rc == SQL_ROW) {
        failures = sql_col_int(s, 0);
        is_active = sql_col_int(s, 1);
        rc = sql_driver_of(tx)->step(s);
    }
    sql_driver_of(tx)->reset(s);
    if (rc != SQL_DONE)
        return ERR_FAIL;
    if (!is_active || (!o->disable_gone && failures < o->disable_after))
        return 0;
    rc = disable_endpoint(tx, o->endpoint_id, outcome_disable_reason(o), now);
    o->disabled = rc == 0;
    return rc;
}

/* A failed attempt of an endpoint's delivery: the update says whether it still counts. */
static int record_failure(struct store_conn *tx, struct attempt_outcome *o, int64_t now)
{
    static const char failed_attempt[] = "UPDATE endpoints SET last_failure_at = ?1 WHERE id = ?2";
    char last_error[ERROR_BYTES];
    struct sql_stmt *s = sql_prepare(tx, attempt_insert);
    int rc = s ? add_attempt(s, &o->attempt) : ERR_FAIL;

    if (rc != 0 || (s = sql_prepare(tx, delivery_update)) == NULL)
        return ERR_FAIL;
    bind_delivery_update(s, o, last_error);
    rc = sql_run_changed(s);
    if (rc == ERR_NOT_FOUND) {
        o->stale = true; /* ended meanwhile (endpoint deleted or disabled): keep the attempt */
        return 0;
    }
    if (rc != 0)
        return rc;
    if (o->status != DLV_PENDING)
        return count_failure(tx, o, now);
    s = sql_prepare(tx, failed_attempt);
    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text(s, 2, o->endpoint_id);
    return sql_run_later(s);
}

int store_delivery_record(struct store_conn *tx, struct attempt_outcome *outcomes, int count,
                          int64_t now)
{
    char last_success[ID_MAX] = "";
    int rc = 0;
    for (int i = 0; rc == 0 && i < count; i++) {
        struct attempt_outcome *o = &outcomes[i];
        if (waits_for_nothing(o)) {
            rc = add_outcome(tx, o, now, last_success);
        } else {
            rc = record_failure(tx, o, now);
            last_success[0] = '\0'; /* a failure may come between two successes */
        }
    }
    return rc ? rc : stats_count_outcomes(tx, outcomes, count, now);
}

int store_delivery_retry(struct store_conn *tx, const char *org_id, const char *id,
                         const char *node_id, int64_t now)
{
    static const char sql[] = "UPDATE deliveries SET status = " SQL_NUM(
        DLV_PENDING_N) ", schedule_start = "
                       "attempt_count, next_attempt_at = ?1, node_id = ?2 WHERE id = ?3 AND org_id "
                       "= ?4 AND "
                       "status IN (" SQL_NUM(DLV_FAILED_N) ", " SQL_NUM(DLV_EXHAUSTED_N) ")";
    static const char exists[] = "SELECT count(*) FROM deliveries WHERE id = ?1 AND org_id = ?2";
    struct sql_stmt *s = sql_prepare(tx, sql);
    long found;
    int rc;

    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text_or_null(s, 2, node_id);
    sql_text(s, 3, id);
    sql_text(s, 4, org_id);
    rc = sql_run_changed(s);
    if (rc == 0 && (node_id == NULL || *node_id == '\0'))
        store_notify_from(tx, now);
    if (rc != ERR_NOT_FOUND)
        return rc;
    /* absent, or in a state that cannot be retried */
    s = sql_prepare(tx, exists);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    sql_text(s, 2, org_id);
    rc = sql_read_count(s, &found);
    return rc ? rc : found > 0 ? ERR_CONFLICT : ERR_NOT_FOUND;
}

static void read_replayed(struct sql_stmt *s, void *out_ptr)
{
    struct delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    sql_col_copy(s, 0, d->event_id, sizeof d->event_id);
    sql_col_copy(s, 1, d->event_type, sizeof d->event_type);
}

int store_delivery_replay(struct store_conn *tx, const char *org_id, const char *endpoint_id,
                          int64_t since, int64_t until, unsigned statuses, const char *node_id,
                          int64_t now, long *queued)
{
    static const char count_sql[] =
        "SELECT count(DISTINCT event_id) FROM deliveries WHERE org_id = ?1 AND endpoint_id = ?2 "
        "AND created_at >= ?3 AND (?4 IS NULL OR created_at < ?4) AND ((1 << status) & ?5) <> 0";
    static const char sql[] =
        "SELECT DISTINCT event_id, event_type FROM deliveries WHERE org_id = ?1 AND endpoint_id "
        "= ?2 AND created_at >= ?3 AND (?4 IS NULL OR created_at < ?4) AND ((1 << status) & ?5) "
        "<> 0 ORDER BY event_id LIMIT ?6";
    const char *const steps[] = {count_sql, sql};
    struct delivery *found = NULL;
    long n = 0;
    int rc = 0, read = 0;

    *queued = 0;
    /* read whole before the inserts: the new deliveries could match the query */
    for (int i = 0; i < 2 && rc == 0; i++) {
        struct sql_stmt *s = sql_prepare(tx, steps[i]);
        if (s == NULL)
            return ERR_FAIL;
        sql_text(s, 1, org_id);
        sql_text(s, 2, endpoint_id);
        sql_int(s, 3, since);
        sql_int_or_null(s, 4, until);
        sql_int(s, 5, (int64_t)statuses);
        if (i == 0) {
            rc = sql_read_count(s, &n);
            found = xcalloc((size_t)n + 1, sizeof *found);
        } else {
            sql_int(s, 6, n);
            rc = sql_read_rows(s, found, sizeof *found, &read, read_replayed);
        }
    }
    for (int i = 0; i < read && rc == 0; i++) {
        delivery_fresh(&found[i], org_id, endpoint_id, now);
        rc = store_delivery_insert(tx, &found[i], node_id);
    }
    free(found);
    if (rc == 0)
        *queued = read;
    return rc;
}

int store_delivery_release(struct store_conn *tx, const char *node_id)
{
    static const char sql[] = "UPDATE deliveries SET node_id = NULL WHERE status = " SQL_NUM(
        DLV_PENDING_N) " AND node_id = ?1";
    struct sql_stmt *s = sql_prepare(tx, sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, node_id);
    rc = sql_run(s);
    if (rc == 0)
        store_notify_from(tx, 0); /* the other nodes take it up, whenever it was due */
    return rc;
}

static void read_due(struct sql_stmt *s, void *out_ptr)
{
    struct due_delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    sql_col_copy(s, 0, d->id, sizeof d->id);
    sql_col_copy(s, 1, d->org_id, sizeof d->org_id);
    sql_col_copy(s, 2, d->event_id, sizeof d->event_id);
    sql_col_copy(s, 3, d->endpoint_id, sizeof d->endpoint_id);
    d->url = sql_col_dup_or_null(s, 4);
    sql_col_copy(s, 5, d->event_type, sizeof d->event_type);
    d->attempt_count = sql_col_int(s, 6);
    d->schedule_start = sql_col_int(s, 7);
    d->next_attempt_at = sql_col_int64(s, 8);
    d->payload = sql_col_dup(s, 9);
}

int store_delivery_due(struct store_conn *c, const struct due_scan *scan, struct due_delivery *out,
                       int max, int *count)
{
    struct sql_stmt *s;

    *count = 0;
    if (scan->node_id == NULL)
        return 0;
    s = sql_prepare(c, sql_driver_of(c)->dialect->delivery_due);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, scan->node_id);
    sql_int(s, 2, scan->due);
    sql_int(s, 3, scan->after_ms);
    sql_text(s, 4, scan->after_id ? scan->after_id : "");
    sql_int(s, 5, max);
    sql_int(s, 6, sql_lease_cutoff(c, time_now_ms()));
    sql_int(s, 7, scan->held);
    sql_int(s, 8, scan->part);
    sql_int(s, 9, scan->parts > 1 ? scan->parts : 1);
    return sql_read_rows(s, out, sizeof *out, count, read_due);
}

static void read_queue_stats(struct sql_stmt *s, void *out_ptr)
{
    struct queue_stats *out = out_ptr;
    out->pending = (long)sql_col_int64(s, 0);
    out->oldest_due = out->pending > 0 ? sql_col_int64(s, 1) : INT64_MAX; /* min() of none */
}

int store_queue_stats(struct store_conn *c, struct queue_stats *out)
{
    /* both read the due index only (partial on pending) */
    static const char sql[] = "SELECT count(*), min(next_attempt_at) FROM deliveries WHERE status "
                              "= " SQL_NUM(DLV_PENDING_N);
    struct sql_stmt *s = sql_prepare(c, sql);
    out->pending = 0;
    out->oldest_due = INT64_MAX;
    return s ? sql_read_one(s, out, read_queue_stats) : ERR_FAIL;
}

/* --- pull delivery (issue 17) --- */

/* A poll endpoint's deliveries are pending and never due (DLV_NEVER_DUE, in deliveries_polled
 * only); one handed out has attempt_count > schedule_start. */
#define POLLED_WHERE                                                                               \
    "endpoint_id = ?2 AND status = " SQL_NUM(DLV_PENDING_N) " AND next_attempt_at = " SQL_NUM(     \
        DLV_NEVER_DUE)

static void read_polled(struct sql_stmt *s, void *out_ptr)
{
    struct polled *p = out_ptr;
    sql_col_copy(s, 0, p->delivery_id, sizeof p->delivery_id);
    p->payload = sql_col_dup(s, 1);
}

int store_poll(struct store_conn *tx, const char *endpoint_id, const char *cursor, int64_t now,
               struct polled *out, int max, int *count)
{
    static const char ack[] = "UPDATE deliveries SET status = " SQL_NUM(
        DLV_DELIVERED_N) ", delivered_at = ?1, "
                         "next_attempt_at = NULL WHERE " POLLED_WHERE
                         " AND attempt_count > schedule_start AND "
                         "id <= ?3";
    static const char take[] =
        "SELECT d.id, e.payload FROM deliveries d JOIN events e ON e.org_id = d.org_id AND e.id = "
        "d.event_id WHERE d.endpoint_id = ?1 AND d.status = " SQL_NUM(
            DLV_PENDING_N) " AND d.next_attempt_at = " SQL_NUM(DLV_NEVER_DUE) " AND (?2 IS NULL OR "
                                                                              "d.id > ?2 OR "
                                                                              "d.attempt_count = "
                                                                              "d.schedule_start) "
                                                                              "ORDER BY d.id LIMIT "
                                                                              "?3";
    static const char hand_out[] = "UPDATE deliveries SET attempt_count = attempt_count + 1, "
                                   "last_attempt_at = ?1 WHERE id = ?2";
    struct sql_stmt *s;
    int rc = 0;

    *count = 0;
    if (cursor) {
        if ((s = sql_prepare(tx, ack)) == NULL)
            return ERR_FAIL;
        sql_int(s, 1, now);
        sql_text(s, 2, endpoint_id);
        sql_text(s, 3, cursor);
        if ((rc = sql_run(s)) != 0)
            return rc;
    }
    if ((s = sql_prepare(tx, take)) == NULL)
        return ERR_FAIL;
    sql_text(s, 1, endpoint_id);
    sql_text_or_null(s, 2, cursor);
    sql_int(s, 3, max);
    if ((rc = sql_read_rows(s, out, sizeof *out, count, read_polled)) != 0)
        return rc;
    for (int i = 0; rc == 0 && i < *count; i++) {
        if ((s = sql_prepare(tx, hand_out)) == NULL)
            return ERR_FAIL;
        sql_int(s, 1, now);
        sql_text(s, 2, out[i].delivery_id);
        rc = sql_run(s);
    }
    return rc;
}

/* --- FIFO ordering per key (issue 17) --- */

int store_fifo_is_head(struct store_conn *tx, const char *endpoint_id, const char *key, bool *head)
{
    static const char sql[] = "SELECT count(*) FROM deliveries WHERE endpoint_id = ?1 AND "
                              "ordering_key = ?2 AND status = " SQL_NUM(DLV_PENDING_N);
    struct sql_stmt *s;
    long earlier = 0;
    int rc = store_endpoint_lock(tx, endpoint_id);
    *head = false;
    if (rc != 0 || (s = sql_prepare(tx, sql)) == NULL)
        return rc ? rc : ERR_FAIL;
    sql_text(s, 1, endpoint_id);
    sql_text(s, 2, key);
    rc = sql_read_count(s, &earlier);
    *head = earlier == 0;
    return rc;
}

/* The ended delivery's key lets its next one start: due now, held by node_id. */
static int fifo_promote(struct store_conn *tx, struct attempt_outcome *o, const char *node_id,
                        int64_t now)
{
    static const char sql[] =
        "UPDATE deliveries SET next_attempt_at = ?1, node_id = ?2 WHERE id = (SELECT n.id FROM "
        "deliveries n JOIN deliveries d ON d.id = ?3 WHERE n.endpoint_id = d.endpoint_id AND "
        "n.ordering_key = d.ordering_key AND n.status = " SQL_NUM(
            DLV_PENDING_N) " AND n.next_attempt_at = " SQL_NUM(DLV_NEVER_DUE) " ORDER BY n.id "
                                                                              "LIMIT 1)";
    struct sql_stmt *s;
    long changed = 0;
    int rc = store_endpoint_lock(tx, o->endpoint_id);
    if (rc != 0 || (s = sql_prepare(tx, sql)) == NULL)
        return rc ? rc : ERR_FAIL;
    sql_int(s, 1, now);
    sql_text_or_null(s, 2, node_id);
    sql_text(s, 3, o->attempt.delivery_id);
    rc = sql_run_rows(s, &changed);
    o->promoted = changed > 0;
    if (rc == 0 && o->promoted && node_id == NULL)
        store_notify_from(tx, now);
    return rc;
}

int store_fifo_promote_ended(struct store_conn *tx, struct attempt_outcome *outcomes, int count,
                             const char *node_id, int64_t now)
{
    int rc = 0;
    for (int i = 0; rc == 0 && i < count; i++)
        if (outcomes[i].fifo && outcomes[i].status != DLV_PENDING && !outcomes[i].stale)
            rc = fifo_promote(tx, &outcomes[i], node_id, now);
    return rc;
}
