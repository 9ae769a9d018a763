/* The PostgreSQL backend, part two: the outbound pipeline (event types, endpoints, events,
 * deliveries, attempts) and the claims of several nodes on one database (§4.5). Functions are
 * wired into the ops table in store_pg.c. */
#include "store/pg_internal.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- event types --- */

#define ET_COLUMNS "name, description, schema, created_at, updated_at"

static void read_event_type(const PGresult *r, int row, void *out_ptr)
{
    struct event_type *out = out_ptr;
    memset(out, 0, sizeof *out);
    pg_col_copy_text(r, row, 0, out->name, sizeof out->name);
    pg_col_copy_text(r, row, 1, out->description, sizeof out->description);
    out->schema = pg_col_dup_text_or_null(r, row, 2);
    out->created_at = pg_col_int64(r, row, 3);
    out->updated_at = pg_col_int64(r, row, 4);
}

int pg_event_type_insert(struct store_conn *tx, const struct event_type *et)
{
    static const char sql[] = "INSERT INTO event_types (" ET_COLUMNS ") VALUES ($1, $2, $3, $4, "
                              "$5) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    pgp_text(&p, et->name);
    pgp_text(&p, et->description);
    pgp_text_or_null(&p, et->schema);
    pgp_int(&p, et->created_at);
    pgp_int(&p, et->updated_at);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

int pg_event_type_get(struct store_conn *c, const char *name, struct event_type *out)
{
    static const char sql[] = "SELECT " ET_COLUMNS " FROM event_types WHERE name = $1";
    struct pg_params p = {0};
    pgp_text(&p, name);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_event_type);
}

int pg_event_type_list(struct store_conn *c, const struct page *page, struct event_type *out,
                       int *count)
{
    static const char sql[] = "SELECT " ET_COLUMNS " FROM event_types WHERE ($1::text IS NULL OR "
                              "name > $1) ORDER BY name LIMIT $2";
    struct pg_params p = {0};
    pgp_text(&p, page->has_cursor ? page->before_id : NULL);
    pgp_int(&p, page->limit + 1);
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_event_type);
}

int pg_event_type_update(struct store_conn *tx, const struct event_type *et)
{
    static const char sql[] =
        "UPDATE event_types SET description = $1, schema = $2, updated_at = $3 WHERE name = $4";
    struct pg_params p = {0};
    pgp_text(&p, et->description);
    pgp_text_or_null(&p, et->schema);
    pgp_int(&p, et->updated_at);
    pgp_text(&p, et->name);
    return pg_run_changed(pg_conn_of(tx), sql, &p);
}

int pg_event_type_delete(struct store_conn *tx, const char *name)
{
    static const char sql[] = "DELETE FROM event_types WHERE name = $1";
    struct pg_params p = {0};
    pgp_text(&p, name);
    return pg_run_changed(pg_conn_of(tx), sql, &p);
}

int pg_event_type_count_prefix(struct store_conn *c, const char *prefix, long *count)
{
    /* left() instead of LIKE: names may hold `_`, a LIKE wildcard */
    static const char sql[] =
        "SELECT count(*) FROM event_types WHERE left(name, length($1::text)) = $1::text";
    struct pg_params p = {0};
    pgp_text(&p, prefix);
    return pg_read_count(pg_conn_of(c), sql, &p, count);
}

/* --- endpoints --- */

#define EP_COLUMNS                                                                                 \
    "id, org_id, url, name, description, events, headers, metadata, is_active, timeout_seconds, "  \
    "coalesce(rate_limit, 0), max_in_flight, signature_scheme, secret, "                           \
    "coalesce(previous_secret, ''), coalesce(previous_secret_expires_at, 0), "                     \
    "coalesce(verified_at, 0), coalesce(last_success_at, 0), coalesce(last_failure_at, 0), "       \
    "consecutive_failures, coalesce(disabled_at, 0), coalesce(disabled_reason, ''), created_at, "  \
    "updated_at"

static void read_endpoint(const PGresult *r, int row, void *out_ptr)
{
    struct endpoint *ep = out_ptr;
    memset(ep, 0, sizeof *ep);
    pg_col_copy_text(r, row, 0, ep->id, sizeof ep->id);
    pg_col_copy_text(r, row, 1, ep->org_id, sizeof ep->org_id);
    ep->url = pg_col_dup_text(r, row, 2);
    pg_col_copy_text(r, row, 3, ep->name, sizeof ep->name);
    ep->description = pg_col_dup_text(r, row, 4);
    ep->events = pg_col_dup_text(r, row, 5);
    ep->headers = pg_col_dup_text(r, row, 6);
    ep->metadata = pg_col_dup_text(r, row, 7);
    ep->is_active = pg_col_int(r, row, 8) != 0;
    ep->timeout_seconds = pg_col_int(r, row, 9);
    ep->rate_limit = pg_col_double(r, row, 10);
    ep->max_in_flight = pg_col_int(r, row, 11);
    pg_col_copy_text(r, row, 12, ep->signature_scheme, sizeof ep->signature_scheme);
    pg_col_copy_text(r, row, 13, ep->secret, sizeof ep->secret);
    pg_col_copy_text(r, row, 14, ep->previous_secret, sizeof ep->previous_secret);
    ep->previous_secret_expires_at = pg_col_int64(r, row, 15);
    ep->verified_at = pg_col_int64(r, row, 16);
    ep->last_success_at = pg_col_int64(r, row, 17);
    ep->last_failure_at = pg_col_int64(r, row, 18);
    ep->consecutive_failures = pg_col_int(r, row, 19);
    ep->disabled_at = pg_col_int64(r, row, 20);
    pg_col_copy_text(r, row, 21, ep->disabled_reason, sizeof ep->disabled_reason);
    ep->created_at = pg_col_int64(r, row, 22);
    ep->updated_at = pg_col_int64(r, row, 23);
}

/* The id, the org and the settable fields in EP_COLUMNS order: $1 to $24. */
static void endpoint_params(struct pg_params *p, const struct endpoint *ep)
{
    pgp_text(p, ep->id);
    pgp_text(p, ep->org_id);
    pgp_text(p, ep->url);
    pgp_text(p, ep->name);
    pgp_text(p, ep->description ? ep->description : "");
    pgp_text(p, ep->events ? ep->events : "[]");
    pgp_text(p, ep->headers ? ep->headers : "{}");
    pgp_text(p, ep->metadata ? ep->metadata : "{}");
    pgp_int(p, ep->is_active);
    pgp_int(p, ep->timeout_seconds);
    pgp_positive_double_or_null(p, ep->rate_limit);
    pgp_int(p, ep->max_in_flight);
    pgp_text(p, ep->signature_scheme);
    pgp_text(p, ep->secret);
    pgp_text_or_null(p, ep->previous_secret);
    pgp_int_or_null(p, ep->previous_secret_expires_at);
    pgp_int_or_null(p, ep->verified_at);
    pgp_int_or_null(p, ep->last_success_at);
    pgp_int_or_null(p, ep->last_failure_at);
    pgp_int(p, ep->consecutive_failures);
    pgp_int_or_null(p, ep->disabled_at);
    pgp_text_or_null(p, ep->disabled_reason);
    pgp_int(p, ep->created_at);
    pgp_int(p, ep->updated_at);
}

/* Ends the pending deliveries of an endpoint with status and error. */
static int end_pending(struct pg_conn *c, const char *endpoint_id, enum delivery_status status,
                       const char *error)
{
    static const char sql[] = "UPDATE deliveries SET status = $1, last_error = $2, "
                              "next_attempt_at = NULL WHERE endpoint_id = $3 AND status = 0";
    struct pg_params p = {0};
    pgp_int(&p, (int)status);
    pgp_text(&p, error);
    pgp_text(&p, endpoint_id);
    return pg_run(c, sql, &p);
}

int pg_endpoint_insert(struct store_conn *tx, const struct endpoint *ep)
{
    static const char sql[] =
        "INSERT INTO endpoints (id, org_id, url, name, description, events, headers, metadata, "
        "is_active, timeout_seconds, rate_limit, max_in_flight, signature_scheme, secret, "
        "previous_secret, previous_secret_expires_at, verified_at, last_success_at, "
        "last_failure_at, consecutive_failures, disabled_at, disabled_reason, created_at, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, "
        "$16, $17, $18, $19, $20, $21, $22, $23, $24) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    endpoint_params(&p, ep);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

int pg_endpoint_update(struct store_conn *tx, const struct endpoint *ep)
{
    static const char sql[] =
        "UPDATE endpoints SET url = $3, name = $4, description = $5, events = $6, headers = $7, "
        "metadata = $8, is_active = $9, timeout_seconds = $10, rate_limit = $11, "
        "max_in_flight = $12, signature_scheme = $13, secret = $14, previous_secret = $15, "
        "previous_secret_expires_at = $16, verified_at = $17, last_success_at = $18, "
        "last_failure_at = $19, consecutive_failures = $20, disabled_at = $21, "
        "disabled_reason = $22, created_at = $23, updated_at = $24 "
        "WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL";
    struct pg_params p = {0};
    int rc;
    endpoint_params(&p, ep);
    rc = pg_run_changed(pg_conn_of(tx), sql, &p);
    /* an inactive endpoint keeps nothing queued (§2.6: failed, "endpoint inactive") */
    if (rc == 0 && !ep->is_active)
        rc = end_pending(pg_conn_of(tx), ep->id, DLV_FAILED, "endpoint inactive");
    return rc;
}

int pg_endpoint_get(struct store_conn *c, const char *org_id, const char *id, struct endpoint *out)
{
    static const char sql[] = "SELECT " EP_COLUMNS " FROM endpoints WHERE id = $1 AND org_id = "
                              "$2 AND deleted_at IS NULL";
    struct pg_params p = {0};
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_endpoint);
}

/* The cursor of a (created_at, id) list as $2 and $3 (NULL for the first page) and its limit
 * as $4, after $1. */
static void page_params(struct pg_params *p, const struct page *page)
{
    if (page->has_cursor) {
        pgp_int(p, page->before_ms);
        pgp_text(p, page->before_id);
    } else {
        pgp_null(p);
        pgp_null(p);
    }
    pgp_int(p, page->limit + 1);
}

#define PAGE_WHERE "($2::bigint IS NULL OR (created_at, id) < ($2::bigint, $3::text))"
#define PAGE_ORDER " ORDER BY created_at DESC, id DESC LIMIT $4"

int pg_endpoint_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct endpoint *out, int *count)
{
    static const char sql[] =
        "SELECT " EP_COLUMNS " FROM endpoints WHERE org_id = $1 AND deleted_at IS NULL AND "
        "" PAGE_WHERE " AND ($5::int < 0 OR is_active = $5::int)" PAGE_ORDER;
    struct pg_params p = {0};
    pgp_text(&p, org_id);
    page_params(&p, page);
    pgp_int(&p, f->is_active);
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_endpoint);
}

int pg_endpoint_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE endpoints SET deleted_at = $1, is_active = 0 WHERE id = $2 "
                              "AND org_id = $3 AND deleted_at IS NULL";
    struct pg_params p = {0};
    int rc;
    pgp_int(&p, now);
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    rc = pg_run_changed(pg_conn_of(tx), sql, &p);
    return rc ? rc : end_pending(pg_conn_of(tx), id, DLV_EXHAUSTED, "endpoint deleted");
}

int pg_endpoint_fanout(struct store_conn *tx, const char *org_id, const struct fanout_list **out)
{
    static const char sql[] = "SELECT id, events FROM endpoints WHERE org_id = $1 AND is_active "
                              "= 1 AND deleted_at IS NULL ORDER BY id";
    struct pg_conn *c = pg_conn_of(tx);
    struct pg_params p = {0};
    PGresult *res;
    int rc;

    fanout_list_reset(&c->fanout);
    *out = &c->fanout;
    pgp_text(&p, org_id);
    res = pg_exec(c, sql, &p, &rc);
    if (res == NULL)
        return ERR_FAIL;
    for (int i = 0; i < PQntuples(res); i++)
        fanout_list_add(&c->fanout, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
    PQclear(res);
    return 0;
}

/* --- events --- */

#define EVENT_COLUMNS "org_id, id, type, payload, created_at, delivery_count"

static void read_event(const PGresult *r, int row, void *out_ptr)
{
    struct event *ev = out_ptr;
    memset(ev, 0, sizeof *ev);
    pg_col_copy_text(r, row, 0, ev->org_id, sizeof ev->org_id);
    pg_col_copy_text(r, row, 1, ev->id, sizeof ev->id);
    pg_col_copy_text(r, row, 2, ev->type, sizeof ev->type);
    ev->payload = pg_col_dup_text(r, row, 3);
    ev->created_at = pg_col_int64(r, row, 4);
    ev->delivery_count = pg_col_int(r, row, 5);
}

int pg_event_insert(struct store_conn *tx, const struct event *ev)
{
    static const char sql[] = "INSERT INTO events (" EVENT_COLUMNS ") VALUES ($1, $2, $3, $4, $5, "
                              "$6) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    pgp_text(&p, ev->org_id);
    pgp_text(&p, ev->id);
    pgp_text(&p, ev->type);
    pgp_text(&p, ev->payload);
    pgp_int(&p, ev->created_at);
    pgp_int(&p, ev->delivery_count);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

int pg_event_get(struct store_conn *c, const char *org_id, const char *id, struct event *out)
{
    static const char sql[] = "SELECT " EVENT_COLUMNS " FROM events WHERE org_id = $1 AND id = $2";
    struct pg_params p = {0};
    pgp_text(&p, org_id);
    pgp_text(&p, id);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_event);
}

int pg_event_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                  const struct page *page, struct event *out, int *count)
{
    static const char sql[] =
        "SELECT " EVENT_COLUMNS " FROM events WHERE org_id = $1 AND " PAGE_WHERE
        " AND ($5::text IS NULL OR type = $5::text) AND ($6::bigint IS NULL OR created_at >= "
        "$6::bigint) AND ($7::bigint IS NULL OR created_at < $7::bigint)" PAGE_ORDER;
    struct pg_params p = {0};
    pgp_text(&p, org_id);
    page_params(&p, page);
    pgp_text_or_null(&p, f->type);
    pgp_int_or_null(&p, f->since);
    pgp_int_or_null(&p, f->until);
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_event);
}

/* --- deliveries --- */

/* Pending and held by a live node (§4.5): shown as in_flight. NOW and CUTOFF (now - lease) are
 * parameters; a node whose heartbeat is older than the lease holds nothing any more. */
#define DLV_CLAIMED(NOW, CUTOFF)                                                                   \
    "(status = 0 AND node_id IS NOT NULL AND next_attempt_at <= " NOW " AND EXISTS (SELECT 1 "     \
    "FROM nodes n WHERE n.id = deliveries.node_id AND n.heartbeat_at >= " CUTOFF "))"

#define DLV_COLUMNS(NOW, CUTOFF)                                                                   \
    "id, org_id, event_id, coalesce(endpoint_id, ''), url, event_type, status, " DLV_CLAIMED(      \
        NOW, CUTOFF) ", attempt_count, schedule_start, coalesce(next_attempt_at, 0), "             \
                     "coalesce(last_attempt_at, 0), coalesce(last_response_status, 0), "           \
                     "coalesce(last_error, ''), created_at, coalesce(delivered_at, 0)"

static void read_delivery(const PGresult *r, int row, void *out_ptr)
{
    struct delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    pg_col_copy_text(r, row, 0, d->id, sizeof d->id);
    pg_col_copy_text(r, row, 1, d->org_id, sizeof d->org_id);
    pg_col_copy_text(r, row, 2, d->event_id, sizeof d->event_id);
    pg_col_copy_text(r, row, 3, d->endpoint_id, sizeof d->endpoint_id);
    d->url = pg_col_dup_text_or_null(r, row, 4);
    pg_col_copy_text(r, row, 5, d->event_type, sizeof d->event_type);
    d->status = (enum delivery_status)pg_col_int(r, row, 6);
    d->claimed = pg_col_bool(r, row, 7);
    d->attempt_count = pg_col_int(r, row, 8);
    d->schedule_start = pg_col_int(r, row, 9);
    d->next_attempt_at = pg_col_int64(r, row, 10);
    d->last_attempt_at = pg_col_int64(r, row, 11);
    d->last_response_status = pg_col_int(r, row, 12);
    pg_col_copy_text(r, row, 13, d->last_error, sizeof d->last_error);
    d->created_at = pg_col_int64(r, row, 14);
    d->delivered_at = pg_col_int64(r, row, 15);
}

/* Now and the oldest heartbeat that still holds claims, for DLV_CLAIMED. */
static void claim_params(struct pg_params *p, struct store_conn *c)
{
    int64_t now = time_now_ms();
    pgp_int(p, now);
    pgp_int(p, now - pg_lease_ms(c));
}

int pg_delivery_insert(struct store_conn *tx, const struct delivery *d, const char *node_id)
{
    static const char sql[] =
        "INSERT INTO deliveries (id, org_id, event_id, endpoint_id, url, event_type, node_id, "
        "attempt_count, schedule_start, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    int rc;
    pgp_text(&p, d->id);
    pgp_text(&p, d->org_id);
    pgp_text(&p, d->event_id);
    pgp_text_or_null(&p, d->endpoint_id);
    pgp_text_or_null(&p, d->url);
    pgp_text(&p, d->event_type);
    pgp_text_or_null(&p, node_id);
    pgp_int(&p, d->attempt_count);
    pgp_int(&p, d->schedule_start);
    pgp_int(&p, d->next_attempt_at);
    pgp_int(&p, d->created_at);
    rc = pg_insert(pg_conn_of(tx), sql, &p);
    /* work that no node holds wakes the idle nodes when the transaction commits */
    if (rc == 0 && (node_id == NULL || *node_id == '\0'))
        pg_conn_of(tx)->notify = true;
    return rc;
}

int pg_delivery_get(struct store_conn *c, const char *org_id, const char *id, struct delivery *out)
{
    static const char sql[] = "SELECT " DLV_COLUMNS(
        "$3::bigint", "$4::bigint") " FROM "
                                    "deliveries WHERE id = $1 AND org_id = $2";
    struct pg_params p = {0};
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    claim_params(&p, c);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_delivery);
}

int pg_delivery_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct delivery *out, int *count)
{
    /* $8: the status filter; 100 (DLV_IN_FLIGHT) and 0 split pending by the derived claim */
    static const char sql[] = "SELECT " DLV_COLUMNS(
        "$9::bigint",
        "$10::bigint") " FROM deliveries WHERE org_id = $1 "
                       "AND " PAGE_WHERE
                       " AND ($5::text IS NULL OR endpoint_id = $5::text) AND ($6::text IS "
                       "NULL OR event_id = $6::text) AND ($7::bigint IS NULL OR created_at >= "
                       "$7::bigint) AND "
                       "($8::int < 0 OR status = (CASE WHEN $8::int = 100 THEN 0 ELSE $8::int "
                       "END))" PAGE_ORDER;
    static const char sql_split[] = "SELECT " DLV_COLUMNS(
        "$9::bigint",
        "$10::bigint") " FROM deliveries WHERE org_id = $1 "
                       "AND " PAGE_WHERE
                       " AND ($5::text IS NULL OR endpoint_id = $5::text) AND ($6::text IS "
                       "NULL OR event_id = $6::text) AND ($7::bigint IS NULL OR created_at >= "
                       "$7::bigint) AND "
                       "status = 0 AND " DLV_CLAIMED("$9::bigint",
                                                     "$10::bigint") " = ($8::int = 100)" PAGE_ORDER;
    bool split = f->status == DLV_PENDING || f->status == DLV_IN_FLIGHT;
    struct pg_params p = {0};
    pgp_text(&p, org_id);
    page_params(&p, page);
    pgp_text_or_null(&p, f->endpoint_id);
    pgp_text_or_null(&p, f->event_id);
    pgp_int_or_null(&p, f->since);
    pgp_int(&p, f->status);
    claim_params(&p, c);
    return pg_read_rows(pg_conn_of(c), split ? sql_split : sql, &p, out, sizeof *out, count,
                        read_delivery);
}

static void read_attempt(const PGresult *r, int row, void *out_ptr)
{
    struct attempt *a = out_ptr;
    memset(a, 0, sizeof *a);
    pg_col_copy_text(r, row, 0, a->id, sizeof a->id);
    pg_col_copy_text(r, row, 1, a->delivery_id, sizeof a->delivery_id);
    a->n = pg_col_int(r, row, 2);
    a->started_at = pg_col_int64(r, row, 3);
    a->duration_ms = pg_col_int(r, row, 4);
    a->response_status = pg_col_int(r, row, 5);
    a->response_body = pg_col_dup_text_or_null(r, row, 6);
    a->response_headers = pg_col_dup_text_or_null(r, row, 7);
    pg_col_copy_text(r, row, 8, a->error, sizeof a->error);
    a->request_headers = pg_col_dup_text_or_null(r, row, 9);
}

int pg_attempt_list(struct store_conn *c, const char *delivery_id, struct attempt *out, int max,
                    int *count)
{
    static const char sql[] =
        "SELECT id, delivery_id, n, started_at, duration_ms, coalesce(response_status, 0), "
        "response_body, response_headers, coalesce(error, ''), request_headers FROM attempts "
        "WHERE delivery_id = $1 ORDER BY n LIMIT $2";
    struct pg_params p = {0};
    pgp_text(&p, delivery_id);
    pgp_int(&p, max);
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_attempt);
}

static int insert_attempt(struct pg_conn *c, const struct attempt *a)
{
    static const char sql[] =
        "INSERT INTO attempts (id, delivery_id, n, started_at, duration_ms, response_status, "
        "response_body, response_headers, error, request_headers) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8, $9, $10) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    pgp_text(&p, a->id);
    pgp_text(&p, a->delivery_id);
    pgp_int(&p, a->n);
    pgp_int(&p, a->started_at);
    pgp_int(&p, a->duration_ms);
    pgp_int_or_null(&p, a->response_status);
    pgp_text_or_null(&p, a->response_body);
    pgp_text_or_null(&p, a->response_headers);
    pgp_text_or_null(&p, a->error);
    pgp_text_or_null(&p, a->request_headers);
    return pg_insert(c, sql, &p);
}

/* Counts a terminal outcome on the endpoint (§4.3) and disables it at the threshold. */
static int count_outcome(struct pg_conn *c, struct attempt_outcome *o, int64_t now)
{
    /* as in SQLite: no write when the row would not change but for a sub-second stamp */
    static const char success[] =
        "UPDATE endpoints SET consecutive_failures = 0, "
        "last_success_at = $1::bigint WHERE id = $2 AND (consecutive_failures "
        "<> 0 OR last_success_at IS NULL OR last_success_at < $1::bigint - 1000)";
    static const char failure[] = "UPDATE endpoints SET consecutive_failures = "
                                  "consecutive_failures + 1, last_failure_at = $1 WHERE id = $2 "
                                  "RETURNING consecutive_failures, is_active";
    static const char disable[] = "UPDATE endpoints SET is_active = 0, disabled_at = $1, "
                                  "disabled_reason = $2 WHERE id = $3";
    struct pg_params p = {0}, off = {0};
    int failures = 0, is_active = 0, rc;
    PGresult *res;

    pgp_int(&p, now);
    pgp_text(&p, o->endpoint_id);
    if (o->status == DLV_DELIVERED)
        return pg_run(c, success, &p);
    res = pg_exec(c, failure, &p, &rc);
    if (res == NULL)
        return rc;
    if (PQntuples(res) > 0) {
        failures = pg_col_int(res, 0, 0);
        is_active = pg_col_int(res, 0, 1);
    }
    PQclear(res);
    if (!is_active || (!o->disable_gone && failures < o->disable_after))
        return 0;
    pgp_int(&off, now);
    pgp_text(&off, o->disable_gone ? "gone" : "consecutive_failures");
    pgp_text(&off, o->endpoint_id);
    rc = pg_run(c, disable, &off);
    if (rc == 0)
        rc = end_pending(c, o->endpoint_id, DLV_FAILED, "endpoint inactive");
    o->disabled = rc == 0;
    return rc;
}

int pg_delivery_record(struct store_conn *tx, struct attempt_outcome *o, int64_t now)
{
    static const char sql[] =
        "UPDATE deliveries SET status = $1, attempt_count = $2, next_attempt_at = $3, "
        "last_attempt_at = $4, last_response_status = $5, last_error = $6, delivered_at = $7 "
        "WHERE id = $8 AND status = 0";
    static const char failed_attempt[] = "UPDATE endpoints SET last_failure_at = $1 WHERE id = $2";
    struct pg_conn *c = pg_conn_of(tx);
    const struct attempt *a = &o->attempt;
    char last_error[ERROR_BYTES];
    struct pg_params p = {0}, ep = {0};
    int rc = o->no_attempt ? 0 : insert_attempt(c, a);

    if (rc != 0)
        return rc;
    if (a->error[0])
        text_copy(last_error, sizeof last_error, a->error);
    else if (a->response_status < 200 || a->response_status > 299)
        snprintf(last_error, sizeof last_error, "HTTP %d", a->response_status);
    else
        last_error[0] = '\0';
    pgp_int(&p, (int)o->status);
    pgp_int(&p, a->n);
    pgp_int_or_null(&p, o->status == DLV_PENDING ? o->next_attempt_at : 0);
    pgp_int(&p, a->started_at);
    pgp_int_or_null(&p, a->response_status);
    pgp_text_or_null(&p, last_error);
    /* delivered when the receiver answered, not when the writer got to it */
    pgp_int_or_null(&p, o->status == DLV_DELIVERED ? a->started_at + a->duration_ms : 0);
    pgp_text(&p, a->delivery_id);
    rc = pg_run_changed(c, sql, &p);
    if (rc == ERR_NOT_FOUND)
        return 0; /* already ended (endpoint deleted or disabled meanwhile): keep the attempt */
    if (rc != 0 || o->endpoint_id[0] == '\0' || o->no_attempt)
        return rc;
    if (o->status == DLV_PENDING) {
        pgp_int(&ep, now);
        pgp_text(&ep, o->endpoint_id);
        return pg_run(c, failed_attempt, &ep);
    }
    return count_outcome(c, o, now);
}

int pg_delivery_retry(struct store_conn *tx, const char *org_id, const char *id,
                      const char *node_id, int64_t now)
{
    static const char sql[] =
        "UPDATE deliveries SET status = 0, schedule_start = attempt_count, next_attempt_at = $1, "
        "node_id = $2 WHERE id = $3 AND org_id = $4 AND status IN (2, 3)";
    static const char exists[] = "SELECT 1 FROM deliveries WHERE id = $1 AND org_id = $2";
    struct pg_params p = {0}, by_id = {0};
    PGresult *res;
    int rc;

    pgp_int(&p, now);
    pgp_text(&p, node_id);
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    rc = pg_run_changed(pg_conn_of(tx), sql, &p);
    if (rc == 0 && (node_id == NULL || *node_id == '\0'))
        pg_conn_of(tx)->notify = true;
    if (rc != ERR_NOT_FOUND)
        return rc;
    /* absent, or in a state that cannot be retried */
    pgp_text(&by_id, id);
    pgp_text(&by_id, org_id);
    res = pg_exec(pg_conn_of(tx), exists, &by_id, &rc);
    if (res == NULL)
        return ERR_FAIL;
    rc = PQntuples(res) > 0 ? ERR_CONFLICT : ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}

int pg_delivery_replay(struct store_conn *tx, const char *org_id, const char *endpoint_id,
                       int64_t since, int64_t until, unsigned statuses, const char *node_id,
                       int64_t now, long *queued)
{
    static const char sql[] =
        "SELECT DISTINCT event_id, event_type FROM deliveries WHERE org_id = $1 AND endpoint_id "
        "= $2 AND created_at >= $3 AND ($4::bigint IS NULL OR created_at < $4::bigint) AND "
        "((1 << status) & $5::int) <> 0 ORDER BY event_id";
    struct pg_conn *c = pg_conn_of(tx);
    struct pg_params p = {0};
    struct delivery d;
    PGresult *res;
    int n, rc;

    *queued = 0;
    pgp_text(&p, org_id);
    pgp_text(&p, endpoint_id);
    pgp_int(&p, since);
    pgp_int_or_null(&p, until);
    pgp_int(&p, (int64_t)statuses);
    res = pg_exec(c, sql, &p, &rc);
    if (res == NULL)
        return ERR_FAIL;
    n = PQntuples(res);
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        memset(&d, 0, sizeof d);
        pg_col_copy_text(res, i, 0, d.event_id, sizeof d.event_id);
        pg_col_copy_text(res, i, 1, d.event_type, sizeof d.event_type);
        delivery_fresh(&d, org_id, endpoint_id, now);
        rc = pg_delivery_insert(tx, &d, node_id);
    }
    PQclear(res);
    if (rc == 0)
        *queued = n;
    return rc;
}

/* Claims happen in delivery_due, a batch at a time: nothing to take up at start. */
int pg_delivery_claim_all(struct store_conn *tx, const char *node_id)
{
    (void)tx;
    (void)node_id;
    return 0;
}

int pg_delivery_release(struct store_conn *tx, const char *node_id)
{
    static const char sql[] = "UPDATE deliveries SET node_id = NULL WHERE status = 0 AND "
                              "node_id = $1";
    struct pg_params p = {0};
    int rc;
    pgp_text(&p, node_id);
    rc = pg_run(pg_conn_of(tx), sql, &p);
    if (rc == 0)
        pg_conn_of(tx)->notify = true; /* the other nodes take it up */
    return rc;
}

static void read_due(const PGresult *r, int row, void *out_ptr)
{
    struct due_delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    pg_col_copy_text(r, row, 0, d->id, sizeof d->id);
    pg_col_copy_text(r, row, 1, d->org_id, sizeof d->org_id);
    pg_col_copy_text(r, row, 2, d->event_id, sizeof d->event_id);
    pg_col_copy_text(r, row, 3, d->endpoint_id, sizeof d->endpoint_id);
    d->url = pg_col_dup_text_or_null(r, row, 4);
    pg_col_copy_text(r, row, 5, d->event_type, sizeof d->event_type);
    d->attempt_count = pg_col_int(r, row, 6);
    d->schedule_start = pg_col_int(r, row, 7);
    d->next_attempt_at = pg_col_int64(r, row, 8);
    d->payload = pg_col_dup_text(r, row, 9);
}

/* Claims what it returns (§4.5): due pending deliveries that no live node holds, or that this
 * node holds, become this node's. One statement, so atomic in autocommit on a read
 * connection; SKIP LOCKED lets nodes scanning together take disjoint batches. */
int pg_delivery_due(struct store_conn *c, const char *node_id, int64_t due, int64_t after_ms,
                    const char *after_id, struct due_delivery *out, int max, int *count)
{
    static const char sql[] =
        "WITH claimed AS (UPDATE deliveries SET node_id = $1::text WHERE id IN (SELECT q.id FROM "
        "deliveries q WHERE q.status = 0 AND q.next_attempt_at <= $2::bigint AND "
        "(q.next_attempt_at, q.id) > ($3::bigint, $4::text) AND (q.node_id IS NULL OR q.node_id "
        "= $1::text OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.id = q.node_id AND "
        "n.heartbeat_at >= $6::bigint)) ORDER BY q.next_attempt_at, q.id LIMIT $5::int FOR "
        "UPDATE SKIP LOCKED) "
        "RETURNING id, org_id, event_id, endpoint_id, url, event_type, attempt_count, "
        "schedule_start, next_attempt_at) "
        "SELECT d.id, d.org_id, d.event_id, coalesce(d.endpoint_id, ''), d.url, d.event_type, "
        "d.attempt_count, d.schedule_start, d.next_attempt_at, e.payload FROM claimed d JOIN "
        "events e ON e.org_id = d.org_id AND e.id = d.event_id ORDER BY d.next_attempt_at, d.id";
    struct pg_params p = {0};

    *count = 0;
    if (node_id == NULL)
        return 0;
    pgp_text(&p, node_id);
    pgp_int(&p, due);
    pgp_int(&p, after_ms);
    pgp_text(&p, after_id ? after_id : "");
    pgp_int(&p, max);
    pgp_int(&p, time_now_ms() - pg_lease_ms(c));
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_due);
}
