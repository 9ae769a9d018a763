/* The SQLite backend, part two: the outbound pipeline (event types, endpoints, events,
 * deliveries, attempts). Functions are wired into the ops table in store_sqlite.c. */
#include "store/sqlite_internal.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "store/sqlite_pipeline.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The derived in_flight state compares with the caller's clock, bound as ?9 (the same clock
 * that stamped next_attempt_at), not SQLite's 'now'. */
#define SQL_NOW_MS "?9"

/* --- event types --- */

#define ET_COLUMNS "name, description, schema, created_at, updated_at"

static void read_event_type(sqlite3_stmt *s, void *out_ptr)
{
    struct event_type *out = out_ptr;
    memset(out, 0, sizeof *out);
    sq_copy_text(s, 0, out->name, sizeof out->name);
    sq_copy_text(s, 1, out->description, sizeof out->description);
    out->schema = sqlite3_column_type(s, 2) == SQLITE_NULL ? NULL : sq_dup_text(s, 2);
    out->created_at = sqlite3_column_int64(s, 3);
    out->updated_at = sqlite3_column_int64(s, 4);
}

int sq_event_type_insert(struct store_conn *tx, const struct event_type *et)
{
    static const char sql[] = "INSERT INTO event_types (" ET_COLUMNS ") VALUES (?, ?, ?, ?, ?)";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, et->name);
    sq_bind_text(s, 2, et->description);
    sq_bind_text_or_null(s, 3, et->schema);
    sqlite3_bind_int64(s, 4, et->created_at);
    sqlite3_bind_int64(s, 5, et->updated_at);
    return sq_run(sq_conn(tx), s);
}

int sq_event_type_get(struct store_conn *c, const char *name, struct event_type *out)
{
    static const char sql[] = "SELECT " ET_COLUMNS " FROM event_types WHERE name = ?";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, name);
    return sq_read_one(sq_conn(c), s, out, read_event_type);
}

int sq_event_type_list(struct store_conn *c, const struct page *page, struct event_type *out,
                       int *count)
{
    static const char sql[] = "SELECT " ET_COLUMNS " FROM event_types WHERE (?1 IS NULL OR name "
                              "> ?1) ORDER BY name LIMIT ?2";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    if (page->has_cursor)
        sq_bind_text(s, 1, page->before_id);
    sqlite3_bind_int(s, 2, page->limit + 1);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_event_type);
}

int sq_event_type_update(struct store_conn *tx, const struct event_type *et)
{
    static const char sql[] =
        "UPDATE event_types SET description = ?, schema = ?, updated_at = ? WHERE name = ?";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, et->description);
    sq_bind_text_or_null(s, 2, et->schema);
    sqlite3_bind_int64(s, 3, et->updated_at);
    sq_bind_text(s, 4, et->name);
    return sq_run_changed(sq_conn(tx), s);
}

int sq_event_type_delete(struct store_conn *tx, const char *name)
{
    static const char sql[] = "DELETE FROM event_types WHERE name = ?";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, name);
    return sq_run_changed(sq_conn(tx), s);
}

int sq_event_type_count_prefix(struct store_conn *c, const char *prefix, long *count)
{
    /* substr instead of LIKE: names may hold `_`, a LIKE wildcard */
    static const char sql[] =
        "SELECT count(*) FROM event_types WHERE substr(name, 1, length(?1)) = ?1";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, prefix);
    rc = sqlite3_step(s);
    *count = rc == SQLITE_ROW ? (long)sqlite3_column_int64(s, 0) : 0;
    sq_done(s);
    return rc == SQLITE_ROW ? 0 : sq_fail(sq_conn(c)->db, "event_type_count_prefix");
}

/* --- endpoints --- */

#define EP_COLUMNS                                                                                 \
    "id, org_id, url, name, description, events, headers, metadata, is_active, timeout_seconds, "  \
    "coalesce(rate_limit, 0), max_in_flight, signature_scheme, secret, "                           \
    "coalesce(previous_secret, ''), coalesce(previous_secret_expires_at, 0), "                     \
    "coalesce(verified_at, 0), coalesce(last_success_at, 0), coalesce(last_failure_at, 0), "       \
    "consecutive_failures, coalesce(disabled_at, 0), coalesce(disabled_reason, ''), created_at, "  \
    "updated_at"

static void read_endpoint(sqlite3_stmt *s, void *out_ptr)
{
    struct endpoint *ep = out_ptr;
    memset(ep, 0, sizeof *ep);
    sq_copy_text(s, 0, ep->id, sizeof ep->id);
    sq_copy_text(s, 1, ep->org_id, sizeof ep->org_id);
    ep->url = sq_dup_text(s, 2);
    sq_copy_text(s, 3, ep->name, sizeof ep->name);
    ep->description = sq_dup_text(s, 4);
    ep->events = sq_dup_text(s, 5);
    ep->headers = sq_dup_text(s, 6);
    ep->metadata = sq_dup_text(s, 7);
    ep->is_active = sqlite3_column_int(s, 8) != 0;
    ep->timeout_seconds = sqlite3_column_int(s, 9);
    ep->rate_limit = sqlite3_column_double(s, 10);
    ep->max_in_flight = sqlite3_column_int(s, 11);
    sq_copy_text(s, 12, ep->signature_scheme, sizeof ep->signature_scheme);
    sq_copy_text(s, 13, ep->secret, sizeof ep->secret);
    sq_copy_text(s, 14, ep->previous_secret, sizeof ep->previous_secret);
    ep->previous_secret_expires_at = sqlite3_column_int64(s, 15);
    ep->verified_at = sqlite3_column_int64(s, 16);
    ep->last_success_at = sqlite3_column_int64(s, 17);
    ep->last_failure_at = sqlite3_column_int64(s, 18);
    ep->consecutive_failures = sqlite3_column_int(s, 19);
    ep->disabled_at = sqlite3_column_int64(s, 20);
    sq_copy_text(s, 21, ep->disabled_reason, sizeof ep->disabled_reason);
    ep->created_at = sqlite3_column_int64(s, 22);
    ep->updated_at = sqlite3_column_int64(s, 23);
}

/* Binds the settable fields in EP_COLUMNS order from index `first` (id and org_id excluded). */
static void bind_endpoint_fields(sqlite3_stmt *s, int first, const struct endpoint *ep)
{
    int i = first;
    sq_bind_text(s, i++, ep->url);
    sq_bind_text(s, i++, ep->name);
    sq_bind_text(s, i++, ep->description ? ep->description : "");
    sq_bind_text(s, i++, ep->events ? ep->events : "[]");
    sq_bind_text(s, i++, ep->headers ? ep->headers : "{}");
    sq_bind_text(s, i++, ep->metadata ? ep->metadata : "{}");
    sqlite3_bind_int(s, i++, ep->is_active);
    sqlite3_bind_int(s, i++, ep->timeout_seconds);
    if (ep->rate_limit > 0)
        sqlite3_bind_double(s, i++, ep->rate_limit);
    else
        sqlite3_bind_null(s, i++);
    sqlite3_bind_int(s, i++, ep->max_in_flight);
    sq_bind_text(s, i++, ep->signature_scheme);
    sq_bind_text(s, i++, ep->secret);
    sq_bind_text_or_null(s, i++, ep->previous_secret);
    sq_bind_int64_or_null(s, i++, ep->previous_secret_expires_at);
    sq_bind_int64_or_null(s, i++, ep->verified_at);
    sq_bind_int64_or_null(s, i++, ep->last_success_at);
    sq_bind_int64_or_null(s, i++, ep->last_failure_at);
    sqlite3_bind_int(s, i++, ep->consecutive_failures);
    sq_bind_int64_or_null(s, i++, ep->disabled_at);
    sq_bind_text_or_null(s, i++, ep->disabled_reason);
    sqlite3_bind_int64(s, i++, ep->created_at);
    sqlite3_bind_int64(s, i, ep->updated_at);
}

/* Ends the pending deliveries of an endpoint with status and error. */
static int end_pending(struct sqlite_conn *c, const char *endpoint_id, enum delivery_status status,
                       const char *error)
{
    static const char sql[] = "UPDATE deliveries SET status = ?, last_error = ?, "
                              "next_attempt_at = NULL WHERE endpoint_id = ? AND status = 0";
    sqlite3_stmt *s = sq_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int(s, 1, (int)status);
    sq_bind_text(s, 2, error);
    sq_bind_text(s, 3, endpoint_id);
    return sq_run(c, s);
}

int sq_endpoint_insert(struct store_conn *tx, const struct endpoint *ep)
{
    static const char sql[] =
        "INSERT INTO endpoints (id, org_id, url, name, description, events, headers, metadata, "
        "is_active, timeout_seconds, rate_limit, max_in_flight, signature_scheme, secret, "
        "previous_secret, previous_secret_expires_at, verified_at, last_success_at, "
        "last_failure_at, consecutive_failures, disabled_at, disabled_reason, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?)";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, ep->id);
    sq_bind_text(s, 2, ep->org_id);
    bind_endpoint_fields(s, 3, ep);
    return sq_run(sq_conn(tx), s);
}

int sq_endpoint_update(struct store_conn *tx, const struct endpoint *ep)
{
    static const char sql[] =
        "UPDATE endpoints SET url = ?3, name = ?4, description = ?5, events = ?6, headers = ?7, "
        "metadata = ?8, is_active = ?9, timeout_seconds = ?10, rate_limit = ?11, "
        "max_in_flight = ?12, signature_scheme = ?13, secret = ?14, previous_secret = ?15, "
        "previous_secret_expires_at = ?16, verified_at = ?17, last_success_at = ?18, "
        "last_failure_at = ?19, consecutive_failures = ?20, disabled_at = ?21, "
        "disabled_reason = ?22, created_at = ?23, updated_at = ?24 "
        "WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, ep->id);
    sq_bind_text(s, 2, ep->org_id);
    bind_endpoint_fields(s, 3, ep);
    int rc = sq_run_changed(sq_conn(tx), s);
    /* an inactive endpoint keeps nothing queued (§2.6: failed, "endpoint inactive") */
    if (rc == 0 && !ep->is_active)
        rc = end_pending(sq_conn(tx), ep->id, DLV_FAILED, "endpoint inactive");
    return rc;
}

int sq_endpoint_get(struct store_conn *c, const char *org_id, const char *id, struct endpoint *out)
{
    static const char sql[] = "SELECT " EP_COLUMNS " FROM endpoints WHERE id = ? AND org_id = ? "
                              "AND deleted_at IS NULL";
    return sq_read_one_by(sq_conn(c), sql, id, org_id, out, read_endpoint);
}

/* Binds the cursor of a (created_at, id) list at ?2 and ?3 and its limit at ?4. */
static void bind_page(sqlite3_stmt *s, const struct page *page)
{
    if (page->has_cursor) {
        sqlite3_bind_int64(s, 2, page->before_ms);
        sq_bind_text(s, 3, page->before_id);
    }
    sqlite3_bind_int(s, 4, page->limit + 1);
}

#define PAGE_WHERE "(?2 IS NULL OR (created_at, id) < (?2, ?3))"
#define PAGE_ORDER " ORDER BY created_at DESC, id DESC LIMIT ?4"

int sq_endpoint_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct endpoint *out, int *count)
{
    static const char sql[] =
        "SELECT " EP_COLUMNS
        " FROM endpoints WHERE org_id = ?1 AND deleted_at IS NULL AND " PAGE_WHERE
        " AND (?5 < 0 OR is_active = ?5)" PAGE_ORDER;
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org_id);
    bind_page(s, page);
    sqlite3_bind_int(s, 5, f->is_active);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_endpoint);
}

int sq_endpoint_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE endpoints SET deleted_at = ?, is_active = 0 WHERE id = ? "
                              "AND org_id = ? AND deleted_at IS NULL";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, id);
    sq_bind_text(s, 3, org_id);
    rc = sq_run_changed(sq_conn(tx), s);
    return rc ? rc : end_pending(sq_conn(tx), id, DLV_EXHAUSTED, "endpoint deleted");
}

#define FANOUT_SLOTS 64 /* orgs whose lists are kept; a busy server serves a few at a time */

struct sq_fanout_slot {
    char org_id[ID_MAX];
    bool valid;
    struct fanout_list list;
};

static void endpoints_changed(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sq_fanout_forget(sqlite3_user_data(ctx));
}

int sq_fanout_track(struct sqlite_conn *c)
{
    static const char triggers[] =
        "CREATE TEMP TRIGGER IF NOT EXISTS fanout_insert AFTER INSERT ON endpoints "
        "BEGIN SELECT hookd_endpoints_changed(); END;"
        "CREATE TEMP TRIGGER IF NOT EXISTS fanout_delete AFTER DELETE ON endpoints "
        "BEGIN SELECT hookd_endpoints_changed(); END;"
        "CREATE TEMP TRIGGER IF NOT EXISTS fanout_update AFTER UPDATE OF id, org_id, is_active, "
        "deleted_at, events ON endpoints BEGIN SELECT hookd_endpoints_changed(); END;";
    if (c->fanout_cache)
        return 0;
    if (sqlite3_create_function(c->db, "hookd_endpoints_changed", 0, SQLITE_UTF8, c,
                                endpoints_changed, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(c->db, triggers, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(c->db, "fan-out triggers");
    c->fanout_cache = xcalloc(FANOUT_SLOTS, sizeof *c->fanout_cache);
    return 0;
}

void sq_fanout_forget(struct sqlite_conn *c)
{
    for (int i = 0; c->fanout_cache && i < FANOUT_SLOTS; i++)
        c->fanout_cache[i].valid = false;
}

void sq_fanout_free(struct sqlite_conn *c)
{
    for (int i = 0; c->fanout_cache && i < FANOUT_SLOTS; i++)
        fanout_list_free(&c->fanout_cache[i].list);
    free(c->fanout_cache);
    c->fanout_cache = NULL;
    fanout_list_free(&c->fanout);
}

static struct sq_fanout_slot *fanout_slot(struct sqlite_conn *c, const char *org_id)
{
    return &c->fanout_cache[text_hash(org_id) % FANOUT_SLOTS];
}

int sq_endpoint_fanout(struct store_conn *tx, const char *org_id, const struct fanout_list **out)
{
    static const char sql[] = "SELECT id, events FROM endpoints WHERE org_id = ? AND is_active = "
                              "1 AND deleted_at IS NULL ORDER BY id";
    struct sqlite_conn *c = sq_conn(tx);
    struct sq_fanout_slot *slot = c->fanout_cache ? fanout_slot(c, org_id) : NULL;
    struct fanout_list *list = slot ? &slot->list : &c->fanout;
    sqlite3_stmt *s;
    int rc;

    *out = list;
    if (slot && slot->valid && strcmp(slot->org_id, org_id) == 0)
        return 0;
    if (slot)
        slot->valid = false; /* until the list below is read whole */
    fanout_list_reset(list);
    s = sq_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org_id);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *events = (const char *)sqlite3_column_text(s, 1);
        if (id == NULL || events == NULL) { /* out of memory: no guess at a filter */
            rc = SQLITE_NOMEM;
            break;
        }
        fanout_list_add(list, id, events);
    }
    sq_done(s);
    if (rc != SQLITE_DONE) {
        fanout_list_reset(list);
        return sq_fail(c->db, "endpoint_fanout");
    }
    if (slot) {
        text_copy(slot->org_id, sizeof slot->org_id, org_id);
        slot->valid = true;
    }
    return 0;
}

/* --- events --- */

static void read_event(sqlite3_stmt *s, void *out_ptr)
{
    struct event *ev = out_ptr;
    memset(ev, 0, sizeof *ev);
    sq_copy_text(s, 0, ev->org_id, sizeof ev->org_id);
    sq_copy_text(s, 1, ev->id, sizeof ev->id);
    sq_copy_text(s, 2, ev->type, sizeof ev->type);
    ev->payload = sq_dup_text(s, 3);
    ev->created_at = sqlite3_column_int64(s, 4);
    ev->delivery_count = sqlite3_column_int(s, 5);
}

#define EVENT_COLUMNS "org_id, id, type, payload, created_at, delivery_count"

int sq_event_insert(struct store_conn *tx, const struct event *ev)
{
    static const char sql[] = "INSERT INTO events (" EVENT_COLUMNS ") VALUES (?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, ev->org_id);
    sq_bind_text(s, 2, ev->id);
    sq_bind_text(s, 3, ev->type);
    sqlite3_bind_text(s, 4, ev->payload, -1, SQLITE_STATIC);
    sqlite3_bind_int64(s, 5, ev->created_at);
    sqlite3_bind_int(s, 6, ev->delivery_count);
    return sq_run(sq_conn(tx), s);
}

int sq_event_get(struct store_conn *c, const char *org_id, const char *id, struct event *out)
{
    static const char sql[] = "SELECT " EVENT_COLUMNS " FROM events WHERE org_id = ? AND id = ?";
    return sq_read_one_by(sq_conn(c), sql, org_id, id, out, read_event);
}

int sq_event_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                  const struct page *page, struct event *out, int *count)
{
    static const char sql[] =
        "SELECT " EVENT_COLUMNS " FROM events WHERE org_id = ?1 AND " PAGE_WHERE
        " AND (?5 IS NULL OR type = ?5) AND (?6 IS NULL OR "
        "created_at >= ?6) AND (?7 IS NULL OR created_at < ?7)" PAGE_ORDER;
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org_id);
    bind_page(s, page);
    sq_bind_text_or_null(s, 5, f->type);
    sq_bind_int64_or_null(s, 6, f->since);
    sq_bind_int64_or_null(s, 7, f->until);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_event);
}

/* --- deliveries --- */

#define DLV_COLUMNS                                                                                \
    "id, org_id, event_id, coalesce(endpoint_id, ''), url, event_type, status, "                   \
    "status = 0 AND node_id IS NOT NULL AND next_attempt_at <= " SQL_NOW_MS ", attempt_count, "    \
    "schedule_start, coalesce(next_attempt_at, 0), coalesce(last_attempt_at, 0), "                 \
    "coalesce(last_response_status, 0), coalesce(last_error, ''), created_at, "                    \
    "coalesce(delivered_at, 0)"

static void read_delivery(sqlite3_stmt *s, void *out_ptr)
{
    struct delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    sq_copy_text(s, 0, d->id, sizeof d->id);
    sq_copy_text(s, 1, d->org_id, sizeof d->org_id);
    sq_copy_text(s, 2, d->event_id, sizeof d->event_id);
    sq_copy_text(s, 3, d->endpoint_id, sizeof d->endpoint_id);
    d->url = sqlite3_column_type(s, 4) == SQLITE_NULL ? NULL : sq_dup_text(s, 4);
    sq_copy_text(s, 5, d->event_type, sizeof d->event_type);
    d->status = (enum delivery_status)sqlite3_column_int(s, 6);
    d->claimed = sqlite3_column_int(s, 7) != 0;
    d->attempt_count = sqlite3_column_int(s, 8);
    d->schedule_start = sqlite3_column_int(s, 9);
    d->next_attempt_at = sqlite3_column_int64(s, 10);
    d->last_attempt_at = sqlite3_column_int64(s, 11);
    d->last_response_status = sqlite3_column_int(s, 12);
    sq_copy_text(s, 13, d->last_error, sizeof d->last_error);
    d->created_at = sqlite3_column_int64(s, 14);
    d->delivered_at = sqlite3_column_int64(s, 15);
}

int sq_delivery_insert(struct store_conn *tx, const struct delivery *d, const char *node_id)
{
    static const char sql[] =
        "INSERT INTO deliveries (id, org_id, event_id, endpoint_id, url, event_type, node_id, "
        "attempt_count, schedule_start, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?)";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, d->id);
    sq_bind_text(s, 2, d->org_id);
    sq_bind_text(s, 3, d->event_id);
    sq_bind_text_or_null(s, 4, d->endpoint_id);
    sq_bind_text_or_null(s, 5, d->url);
    sq_bind_text(s, 6, d->event_type);
    sq_bind_text_or_null(s, 7, node_id);
    sqlite3_bind_int(s, 8, d->attempt_count);
    sqlite3_bind_int(s, 9, d->schedule_start);
    sqlite3_bind_int64(s, 10, d->next_attempt_at);
    sqlite3_bind_int64(s, 11, d->created_at);
    return sq_run(sq_conn(tx), s);
}

int sq_delivery_get(struct store_conn *c, const char *org_id, const char *id, struct delivery *out)
{
    static const char sql[] =
        "SELECT " DLV_COLUMNS " FROM deliveries WHERE id = ?1 AND org_id = ?2";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, id);
    sq_bind_text(s, 2, org_id);
    sqlite3_bind_int64(s, 9, time_now_ms());
    return sq_read_one(sq_conn(c), s, out, read_delivery);
}

int sq_delivery_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct delivery *out, int *count)
{
    /* ?8: the status filter; 100 (DLV_IN_FLIGHT) and 0 split pending by the derived claim */
    static const char sql[] =
        "SELECT " DLV_COLUMNS " FROM deliveries WHERE org_id = ?1 "
        "AND " PAGE_WHERE " AND (?5 IS NULL OR endpoint_id = ?5) AND (?6 IS NULL OR event_id = "
        "?6) AND (?7 IS NULL OR created_at >= ?7) AND (?8 < 0 OR status = (CASE WHEN ?8 = 100 "
        "THEN 0 ELSE ?8 END))" PAGE_ORDER;
    static const char sql_split[] =
        "SELECT " DLV_COLUMNS " FROM deliveries WHERE org_id = ?1 AND " PAGE_WHERE
        " AND (?5 IS NULL OR endpoint_id = ?5) AND (?6 IS NULL OR event_id = ?6) AND (?7 IS NULL "
        "OR created_at >= ?7) AND status = 0 AND (node_id IS NOT NULL AND next_attempt_at "
        "<= " SQL_NOW_MS ") = (?8 = 100)" PAGE_ORDER;
    bool split = f->status == DLV_PENDING || f->status == DLV_IN_FLIGHT;
    sqlite3_stmt *s = sq_prepare(sq_conn(c), split ? sql_split : sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org_id);
    bind_page(s, page);
    sq_bind_text_or_null(s, 5, f->endpoint_id);
    sq_bind_text_or_null(s, 6, f->event_id);
    sq_bind_int64_or_null(s, 7, f->since);
    sqlite3_bind_int(s, 8, f->status);
    sqlite3_bind_int64(s, 9, time_now_ms());
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_delivery);
}

static void read_attempt(sqlite3_stmt *s, void *out_ptr)
{
    struct attempt *a = out_ptr;
    memset(a, 0, sizeof *a);
    sq_copy_text(s, 0, a->id, sizeof a->id);
    sq_copy_text(s, 1, a->delivery_id, sizeof a->delivery_id);
    a->n = sqlite3_column_int(s, 2);
    a->started_at = sqlite3_column_int64(s, 3);
    a->duration_ms = sqlite3_column_int(s, 4);
    a->response_status = sqlite3_column_int(s, 5);
    a->response_body = sqlite3_column_type(s, 6) == SQLITE_NULL ? NULL : sq_dup_text(s, 6);
    a->response_headers = sqlite3_column_type(s, 7) == SQLITE_NULL ? NULL : sq_dup_text(s, 7);
    sq_copy_text(s, 8, a->error, sizeof a->error);
    a->request_headers = sqlite3_column_type(s, 9) == SQLITE_NULL ? NULL : sq_dup_text(s, 9);
}

int sq_attempt_list(struct store_conn *c, const char *delivery_id, struct attempt *out, int max,
                    int *count)
{
    static const char sql[] =
        "SELECT id, delivery_id, n, started_at, duration_ms, coalesce(response_status, 0), "
        "response_body, response_headers, coalesce(error, ''), request_headers FROM attempts "
        "WHERE delivery_id = ? ORDER BY n LIMIT ?";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, delivery_id);
    sqlite3_bind_int(s, 2, max);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_attempt);
}

static int insert_attempt(struct sqlite_conn *c, const struct attempt *a)
{
    static const char sql[] =
        "INSERT INTO attempts (id, delivery_id, n, started_at, duration_ms, response_status, "
        "response_body, response_headers, error, request_headers) VALUES (?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?)";
    sqlite3_stmt *s = sq_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, a->id);
    sq_bind_text(s, 2, a->delivery_id);
    sqlite3_bind_int(s, 3, a->n);
    sqlite3_bind_int64(s, 4, a->started_at);
    sqlite3_bind_int(s, 5, a->duration_ms);
    sq_bind_int64_or_null(s, 6, a->response_status);
    sq_bind_text_or_null(s, 7, a->response_body);
    sq_bind_text_or_null(s, 8, a->response_headers);
    sq_bind_text_or_null(s, 9, a->error);
    sq_bind_text_or_null(s, 10, a->request_headers);
    return sq_run(c, s);
}

/* Counts a terminal outcome on the endpoint (§4.3) and disables it at the threshold. */
static int count_outcome(struct sqlite_conn *c, struct attempt_outcome *o, int64_t now)
{
    /* a success changes the row only if it ends a failure streak or the last one is over a
     * second old: at thousands of deliveries a second, most would rewrite it for nothing */
    static const char success[] = "UPDATE endpoints SET consecutive_failures = 0, "
                                  "last_success_at = ?1 WHERE id = ?2 AND (consecutive_failures "
                                  "<> 0 OR last_success_at IS NULL OR last_success_at < ?1 - 1000)";
    static const char failure[] = "UPDATE endpoints SET consecutive_failures = "
                                  "consecutive_failures + 1, last_failure_at = ?1 WHERE id = ?2 "
                                  "RETURNING consecutive_failures, is_active";
    static const char disable[] = "UPDATE endpoints SET is_active = 0, disabled_at = ?, "
                                  "disabled_reason = ? WHERE id = ?";
    bool delivered = o->status == DLV_DELIVERED;
    sqlite3_stmt *s = sq_prepare(c, delivered ? success : failure);
    int failures = 0, is_active = 0, rc;

    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, o->endpoint_id);
    if (delivered)
        return sq_run(c, s);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        failures = sqlite3_column_int(s, 0);
        is_active = sqlite3_column_int(s, 1);
        rc = sqlite3_step(s);
    }
    sq_done(s);
    if (rc != SQLITE_DONE)
        return sq_fail(c->db, "count_outcome");
    if (!is_active || (!o->disable_gone && failures < o->disable_after))
        return 0;
    s = sq_prepare(c, disable);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, o->disable_gone ? "gone" : "consecutive_failures");
    sq_bind_text(s, 3, o->endpoint_id);
    rc = sq_run(c, s);
    if (rc == 0)
        rc = end_pending(c, o->endpoint_id, DLV_FAILED, "endpoint inactive");
    o->disabled = rc == 0;
    return rc;
}

int sq_delivery_record(struct store_conn *tx, struct attempt_outcome *o, int64_t now)
{
    static const char sql[] =
        "UPDATE deliveries SET status = ?, attempt_count = ?, next_attempt_at = ?, "
        "last_attempt_at = ?, last_response_status = ?, last_error = ?, delivered_at = ? "
        "WHERE id = ? AND status = 0";
    struct sqlite_conn *c = sq_conn(tx);
    const struct attempt *a = &o->attempt;
    char last_error[ERROR_BYTES];
    sqlite3_stmt *s;
    int rc = o->no_attempt ? 0 : insert_attempt(c, a);

    if (rc != 0)
        return rc;
    if (a->error[0])
        text_copy(last_error, sizeof last_error, a->error);
    else if (a->response_status < 200 || a->response_status > 299)
        snprintf(last_error, sizeof last_error, "HTTP %d", a->response_status);
    else
        last_error[0] = '\0';
    s = sq_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int(s, 1, (int)o->status);
    sqlite3_bind_int(s, 2, a->n);
    sq_bind_int64_or_null(s, 3, o->status == DLV_PENDING ? o->next_attempt_at : 0);
    sqlite3_bind_int64(s, 4, a->started_at);
    sq_bind_int64_or_null(s, 5, a->response_status);
    sq_bind_text_or_null(s, 6, last_error);
    /* delivered when the receiver answered, not when the writer got to it */
    sq_bind_int64_or_null(s, 7, o->status == DLV_DELIVERED ? a->started_at + a->duration_ms : 0);
    sq_bind_text(s, 8, a->delivery_id);
    rc = sq_run_changed(c, s);
    if (rc == ERR_NOT_FOUND)
        return 0; /* already ended (endpoint deleted or disabled meanwhile): keep the attempt */
    if (rc != 0 || o->endpoint_id[0] == '\0' || o->no_attempt)
        return rc;
    if (o->status == DLV_PENDING) {
        static const char failed_attempt[] =
            "UPDATE endpoints SET last_failure_at = ? WHERE id = ?";
        s = sq_prepare(c, failed_attempt);
        if (s == NULL)
            return ERR_FAIL;
        sqlite3_bind_int64(s, 1, now);
        sq_bind_text(s, 2, o->endpoint_id);
        return sq_run(c, s);
    }
    return count_outcome(c, o, now);
}

int sq_delivery_retry(struct store_conn *tx, const char *org_id, const char *id,
                      const char *node_id, int64_t now)
{
    static const char sql[] =
        "UPDATE deliveries SET status = 0, schedule_start = attempt_count, next_attempt_at = ?, "
        "node_id = ? WHERE id = ? AND org_id = ? AND status IN (2, 3)";
    struct delivery d = {0};
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, node_id);
    sq_bind_text(s, 3, id);
    sq_bind_text(s, 4, org_id);
    rc = sq_run_changed(sq_conn(tx), s);
    if (rc != ERR_NOT_FOUND)
        return rc;
    /* absent, or in a state that cannot be retried */
    rc = sq_delivery_get(tx, org_id, id, &d);
    free(d.url);
    return rc == 0 ? ERR_CONFLICT : rc;
}

int sq_delivery_replay(struct store_conn *tx, const char *org_id, const char *endpoint_id,
                       int64_t since, int64_t until, unsigned statuses, const char *node_id,
                       int64_t now, long *queued)
{
    static const char sql[] =
        "SELECT DISTINCT event_id, event_type FROM deliveries WHERE org_id = ?1 AND endpoint_id "
        "= ?2 AND created_at >= ?3 AND (?4 IS NULL OR created_at < ?4) AND ((1 << status) & ?5) "
        "!= 0 ORDER BY event_id";
    struct sqlite_conn *c = sq_conn(tx);
    sqlite3_stmt *s = sq_prepare(c, sql);
    struct delivery *found = NULL;
    int n = 0, cap = 0, rc;

    *queued = 0;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org_id);
    sq_bind_text(s, 2, endpoint_id);
    sqlite3_bind_int64(s, 3, since);
    sq_bind_int64_or_null(s, 4, until);
    sqlite3_bind_int(s, 5, (int)statuses);
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            found = xrealloc(found, (size_t)cap * sizeof *found);
        }
        memset(&found[n], 0, sizeof found[n]);
        sq_copy_text(s, 0, found[n].event_id, sizeof found[n].event_id);
        sq_copy_text(s, 1, found[n].event_type, sizeof found[n].event_type);
        n++;
    }
    sq_done(s);
    if (rc != SQLITE_DONE) {
        free(found);
        return sq_fail(c->db, "delivery_replay");
    }
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        delivery_fresh(&found[i], org_id, endpoint_id, now);
        rc = sq_delivery_insert(tx, &found[i], node_id);
    }
    free(found);
    if (rc == 0)
        *queued = n;
    return rc;
}

/* One serving process owns a SQLite file (its lock), so every pending delivery is already
 * this node's: nothing to write, and delivery_due does not filter on the node. */
int sq_delivery_claim_all(struct store_conn *tx, const char *node_id)
{
    (void)tx;
    (void)node_id;
    return 0;
}

int sq_delivery_release(struct store_conn *tx, const char *node_id)
{
    static const char sql[] = "UPDATE deliveries SET node_id = NULL WHERE status = 0 AND "
                              "node_id = ?";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, node_id);
    return sq_run(sq_conn(tx), s);
}

static void read_due(sqlite3_stmt *s, void *out_ptr)
{
    struct due_delivery *d = out_ptr;
    memset(d, 0, sizeof *d);
    sq_copy_text(s, 0, d->id, sizeof d->id);
    sq_copy_text(s, 1, d->org_id, sizeof d->org_id);
    sq_copy_text(s, 2, d->event_id, sizeof d->event_id);
    sq_copy_text(s, 3, d->endpoint_id, sizeof d->endpoint_id);
    d->url = sqlite3_column_type(s, 4) == SQLITE_NULL ? NULL : sq_dup_text(s, 4);
    sq_copy_text(s, 5, d->event_type, sizeof d->event_type);
    d->attempt_count = sqlite3_column_int(s, 6);
    d->schedule_start = sqlite3_column_int(s, 7);
    d->next_attempt_at = sqlite3_column_int64(s, 8);
    d->payload = sq_dup_text(s, 9);
}

int sq_delivery_due(struct store_conn *c, const char *node_id, int64_t due, int64_t after_ms,
                    const char *after_id, struct due_delivery *out, int max, int *count)
{
    static const char sql[] =
        "SELECT d.id, d.org_id, d.event_id, coalesce(d.endpoint_id, ''), d.url, d.event_type, "
        "d.attempt_count, d.schedule_start, d.next_attempt_at, e.payload FROM deliveries d "
        "JOIN events e ON e.org_id = d.org_id AND e.id = d.event_id WHERE d.status = 0 AND "
        "?1 IS NOT NULL AND d.next_attempt_at <= ?2 AND (d.next_attempt_at, d.id) > (?3, ?4) "
        "ORDER BY d.next_attempt_at, d.id LIMIT ?5";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, node_id);
    sqlite3_bind_int64(s, 2, due);
    sqlite3_bind_int64(s, 3, after_ms);
    sq_bind_text(s, 4, after_id);
    sqlite3_bind_int(s, 5, max);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_due);
}
