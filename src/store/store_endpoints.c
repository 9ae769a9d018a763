/* The catalog of event types and the endpoints that subscribe to them, with the writer's cache
 * of fan-out lists. */
#include "store/sql.h"
#include "store/store_internal.h"

#include "core/eventname.h"
#include "core/mem.h"
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

/* --- event types --- */

#define ET_COLUMNS "name, description, schema, created_at, updated_at"

static void read_event_type(struct sql_stmt *s, void *out_ptr)
{
    struct event_type *out = out_ptr;
    memset(out, 0, sizeof *out);
    sql_col_copy(s, 0, out->name, sizeof out->name);
    sql_col_copy(s, 1, out->description, sizeof out->description);
    out->schema = sql_col_dup_or_null(s, 2);
    out->created_at = sql_col_int64(s, 3);
    out->updated_at = sql_col_int64(s, 4);
}

int store_event_type_insert(struct store_conn *tx, const struct event_type *et)
{
    static const char sql[] = "INSERT INTO event_types (" ET_COLUMNS ") VALUES (?1, ?2, ?3, ?4, "
                              "?5) ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, et->name);
    sql_text(s, 2, et->description);
    sql_text_or_null(s, 3, et->schema);
    sql_int(s, 4, et->created_at);
    sql_int(s, 5, et->updated_at);
    return sql_insert(s);
}

int store_event_type_get(struct store_conn *c, const char *name, struct event_type *out)
{
    static const char sql[] = "SELECT " ET_COLUMNS " FROM event_types WHERE name = ?1";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, name);
    return sql_read_one(s, out, read_event_type);
}

int store_event_type_list(struct store_conn *c, const struct page *page, struct event_type *out,
                          int *count)
{
    static const char sql[] = "SELECT " ET_COLUMNS " FROM event_types WHERE (?1 IS NULL OR name "
                              "> ?1) ORDER BY name LIMIT ?2";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, page->has_cursor ? page->before_id : NULL);
    sql_int(s, 2, page->limit + 1);
    return sql_read_rows(s, out, sizeof *out, count, read_event_type);
}

int store_event_type_update(struct store_conn *tx, const struct event_type *et)
{
    static const char sql[] =
        "UPDATE event_types SET description = ?1, schema = ?2, updated_at = ?3 WHERE name = ?4";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, et->description);
    sql_text_or_null(s, 2, et->schema);
    sql_int(s, 3, et->updated_at);
    sql_text(s, 4, et->name);
    return sql_run_changed(s);
}

int store_event_type_delete(struct store_conn *tx, const char *name)
{
    static const char sql[] = "DELETE FROM event_types WHERE name = ?1";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, name);
    return sql_run_changed(s);
}

int store_event_type_count_prefix(struct store_conn *c, const char *prefix, long *count)
{
    /* substr instead of LIKE: names may hold `_`, a LIKE wildcard */
    static const char sql[] =
        "SELECT count(*) FROM event_types WHERE substr(name, 1, length(?1)) = ?1";
    struct sql_stmt *s = sql_prepare(c, sql);
    *count = 0;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, prefix);
    return sql_read_count(s, count);
}

static void read_endpoint_ref(struct sql_stmt *s, void *out)
{
    struct endpoint_ref *ref = out;
    sql_col_copy(s, 0, ref->id, sizeof ref->id);
}

int store_endpoint_subscribers(struct store_conn *c, const char *pattern, struct endpoint_ref *ids,
                               int max, int *count)
{
    /* the list is stored as compact JSON: an entry is "pattern" between quotes; LIKE's
     * wildcards (and its escape) in the pattern are escaped */
    static const char sql[] = "SELECT id FROM endpoints WHERE deleted_at IS NULL AND events LIKE "
                              "?1 ESCAPE '\\' ORDER BY created_at, id LIMIT ?2";
    char like[2 * EVENT_NAME_MAX + 8], *o = like;
    struct sql_stmt *s;

    *count = 0;
    if (strlen(pattern) > EVENT_NAME_MAX)
        return 0;
    *o++ = '%';
    *o++ = '"';
    for (const char *p = pattern; *p; p++) {
        if (*p == '%' || *p == '_' || *p == '\\')
            *o++ = '\\';
        *o++ = *p;
    }
    memcpy(o, "\"%", 3);
    if ((s = sql_prepare(c, sql)) == NULL)
        return ERR_FAIL;
    sql_text(s, 1, like);
    sql_int(s, 2, max);
    return sql_read_rows(s, ids, sizeof *ids, count, read_endpoint_ref);
}

/* --- endpoints --- */

#define EP_COLUMNS                                                                                 \
    "id, org_id, url, name, description, events, headers, metadata, is_active, timeout_seconds, "  \
    "coalesce(rate_limit, 0), max_in_flight, signature_scheme, secret, "                           \
    "coalesce(previous_secret, ''), coalesce(previous_secret_expires_at, 0), "                     \
    "coalesce(verified_at, 0), coalesce(last_success_at, 0), coalesce(last_failure_at, 0), "       \
    "consecutive_failures, coalesce(disabled_at, 0), coalesce(disabled_reason, ''), created_at, "  \
    "updated_at, operational, retry_schedule, coalesce(disable_after, 0), filter, "                \
    "CASE WHEN kind = 'poll' THEN 1 ELSE 0 END, CASE WHEN ordering = 'fifo' THEN 1 ELSE 0 END, "   \
    "poll_token_hash"

static void read_endpoint(struct sql_stmt *s, void *out_ptr)
{
    struct endpoint *ep = out_ptr;
    memset(ep, 0, sizeof *ep);
    sql_col_copy(s, 0, ep->id, sizeof ep->id);
    sql_col_copy(s, 1, ep->org_id, sizeof ep->org_id);
    ep->url = sql_col_dup(s, 2);
    sql_col_copy(s, 3, ep->name, sizeof ep->name);
    ep->description = sql_col_dup(s, 4);
    ep->events = sql_col_dup(s, 5);
    ep->headers = sql_col_dup(s, 6);
    ep->metadata = sql_col_dup(s, 7);
    ep->is_active = sql_col_int(s, 8) != 0;
    ep->timeout_seconds = sql_col_int(s, 9);
    ep->rate_limit = sql_col_double(s, 10);
    ep->max_in_flight = sql_col_int(s, 11);
    sql_col_copy(s, 12, ep->signature_scheme, sizeof ep->signature_scheme);
    sql_col_copy(s, 13, ep->secret, sizeof ep->secret);
    sql_col_copy(s, 14, ep->previous_secret, sizeof ep->previous_secret);
    ep->previous_secret_expires_at = sql_col_int64(s, 15);
    ep->verified_at = sql_col_int64(s, 16);
    ep->last_success_at = sql_col_int64(s, 17);
    ep->last_failure_at = sql_col_int64(s, 18);
    ep->consecutive_failures = sql_col_int(s, 19);
    ep->disabled_at = sql_col_int64(s, 20);
    sql_col_copy(s, 21, ep->disabled_reason, sizeof ep->disabled_reason);
    ep->created_at = sql_col_int64(s, 22);
    ep->updated_at = sql_col_int64(s, 23);
    ep->operational = sql_col_int(s, 24) != 0;
    ep->retry_schedule = sql_col_dup_or_null(s, 25);
    ep->disable_after = sql_col_int(s, 26);
    ep->filter = sql_col_dup_or_null(s, 27);
    ep->is_poll = sql_col_int(s, 28) != 0;
    ep->is_fifo = sql_col_int(s, 29) != 0;
    sql_col_copy_bytes_exact(s, 30, ep->poll_token_hash, sizeof ep->poll_token_hash);
}

/* The id, the org and every settable field in EP_COLUMNS order, at ?1 to ?24, then the policy
 * and the filter at ?25 to ?27. */
static void bind_endpoint(struct sql_stmt *s, const struct endpoint *ep)
{
    int i = 1;
    sql_text(s, i++, ep->id);
    sql_text(s, i++, ep->org_id);
    sql_text(s, i++, ep->url);
    sql_text(s, i++, ep->name);
    sql_text(s, i++, ep->description ? ep->description : "");
    sql_text(s, i++, ep->events ? ep->events : "[]");
    sql_text(s, i++, ep->headers ? ep->headers : "{}");
    sql_text(s, i++, ep->metadata ? ep->metadata : "{}");
    sql_int(s, i++, ep->is_active);
    sql_int(s, i++, ep->timeout_seconds);
    sql_positive_double_or_null(s, i++, ep->rate_limit);
    sql_int(s, i++, ep->max_in_flight);
    sql_text(s, i++, ep->signature_scheme);
    sql_text(s, i++, ep->secret);
    sql_text_or_null(s, i++, ep->previous_secret);
    sql_int_or_null(s, i++, ep->previous_secret_expires_at);
    sql_int_or_null(s, i++, ep->verified_at);
    sql_int_or_null(s, i++, ep->last_success_at);
    sql_int_or_null(s, i++, ep->last_failure_at);
    sql_int(s, i++, ep->consecutive_failures);
    sql_int_or_null(s, i++, ep->disabled_at);
    sql_text_or_null(s, i++, ep->disabled_reason);
    sql_int(s, i++, ep->created_at);
    sql_int(s, i++, ep->updated_at);
    sql_text_or_null(s, i++, ep->retry_schedule);
    sql_int_or_null(s, i++, ep->disable_after);
    sql_text_or_null(s, i, ep->filter);
}

int end_pending(struct store_conn *tx, const char *endpoint_id, enum delivery_status status,
                const char *error)
{
    static const char sql[] =
        "UPDATE deliveries SET status = ?1, last_error = ?2, next_attempt_at = NULL WHERE "
        "endpoint_id = ?3 AND status = " SQL_NUM(DLV_PENDING_N);
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, (int)status);
    sql_text(s, 2, error);
    sql_text(s, 3, endpoint_id);
    return sql_run(s);
}

int store_endpoint_insert(struct store_conn *tx, const struct endpoint *ep)
{
    static const char sql[] =
        "INSERT INTO endpoints (id, org_id, url, name, description, events, headers, metadata, "
        "is_active, timeout_seconds, rate_limit, max_in_flight, signature_scheme, secret, "
        "previous_secret, previous_secret_expires_at, verified_at, last_success_at, "
        "last_failure_at, consecutive_failures, disabled_at, disabled_reason, created_at, "
        "updated_at, retry_schedule, disable_after, filter, operational, kind, ordering) VALUES "
        "(?1, "
        "?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
        "?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29, ?30) ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    fanout_cache_forget(tx);
    bind_endpoint(s, ep);
    sql_int(s, 28, ep->operational);
    sql_text(s, 29, ep->is_poll ? "poll" : "push");
    sql_text(s, 30, ep->is_fifo ? "fifo" : "none");
    return sql_insert(s);
}

int store_endpoint_update(struct store_conn *tx, const struct endpoint *ep)
{
    static const char sql[] =
        "UPDATE endpoints SET url = ?3, name = ?4, description = ?5, events = ?6, headers = ?7, "
        "metadata = ?8, is_active = ?9, timeout_seconds = ?10, rate_limit = ?11, "
        "max_in_flight = ?12, signature_scheme = ?13, secret = ?14, previous_secret = ?15, "
        "previous_secret_expires_at = ?16, verified_at = ?17, last_success_at = ?18, "
        "last_failure_at = ?19, consecutive_failures = ?20, disabled_at = ?21, "
        "disabled_reason = ?22, created_at = ?23, updated_at = ?24, retry_schedule = ?25, "
        "disable_after = ?26, filter = ?27, ordering = ?28 "
        "WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    fanout_cache_forget(tx);
    bind_endpoint(s, ep);
    sql_text(s, 28, ep->is_fifo ? "fifo" : "none");
    rc = sql_run_changed(s);
    /* an inactive endpoint keeps nothing queued (§2.6: failed, "endpoint inactive") */
    if (rc == 0 && !ep->is_active)
        rc = end_pending(tx, ep->id, DLV_FAILED, "endpoint inactive");
    return rc;
}

int store_endpoint_get(struct store_conn *c, const char *org_id, const char *id,
                       struct endpoint *out)
{
    static const char sql[] = "SELECT " EP_COLUMNS " FROM endpoints WHERE id = ?1 AND (?2 = '' "
                              "OR org_id = ?2) AND deleted_at IS NULL";
    return sql_read_one_of_org(c, sql, id, org_id, out, read_endpoint);
}

int store_endpoint_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                        const struct page *page, struct endpoint *out, int *count)
{
    static const char sql[] = "SELECT " EP_COLUMNS " FROM endpoints WHERE org_id = ?1 AND "
                              "deleted_at IS NULL AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) "
                              "AND (?5 < 0 OR is_active = ?5) AND operational = 0 ORDER BY "
                              "created_at DESC, id DESC LIMIT ?4";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org_id);
    sql_page(s, 2, page);
    sql_int(s, 5, f->is_active);
    return sql_read_rows(s, out, sizeof *out, count, read_endpoint);
}

int store_endpoint_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE endpoints SET deleted_at = ?1, is_active = 0 WHERE id = ?2 "
                              "AND org_id = ?3 AND deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    fanout_cache_forget(tx);
    sql_int(s, 1, now);
    sql_text(s, 2, id);
    sql_text(s, 3, org_id);
    rc = sql_run_changed(s);
    return rc ? rc : end_pending(tx, id, DLV_EXHAUSTED, "endpoint deleted");
}

int store_endpoint_lock(struct store_conn *tx, const char *endpoint_id)
{
    const char *sql = sql_driver_of(tx)->dialect->endpoint_lock;
    struct sql_stmt *s;
    long rows;
    if (sql == NULL)
        return 0;
    if ((s = sql_prepare(tx, sql)) == NULL)
        return ERR_FAIL;
    sql_text(s, 1, endpoint_id);
    return sql_run_rows(s, &rows);
}

int store_endpoint_poll_token(struct store_conn *tx, const char *id, const unsigned char hash[32])
{
    static const char sql[] = "UPDATE endpoints SET poll_token_hash = ?1 WHERE id = ?2";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_bytes(s, 1, hash, 32);
    sql_text(s, 2, id);
    return sql_run_changed(s);
}

int store_endpoint_operational(struct store_conn *c, const char *org_id, struct endpoint *out)
{
    static const char sql[] = "SELECT " EP_COLUMNS " FROM endpoints WHERE org_id = ?1 AND "
                              "operational = 1 AND deleted_at IS NULL ORDER BY created_at LIMIT 1";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org_id);
    return sql_read_one(s, out, read_endpoint);
}

/* --- fan-out lists --- */

/* The writer keeps the lists of the orgs it fans out for. Every change to endpoints goes
 * through the functions above on the writer's connection, and they empty the cache; where
 * other nodes change endpoints too (a shared database) a list lasts one transaction, which
 * still sees every change committed before its requests arrived. */
#define FANOUT_SLOTS 64 /* orgs whose lists are kept; a busy server serves a few at a time */

struct fanout_slot {
    char org_id[ID_MAX];
    bool valid;
    struct fanout_list list;
};

struct fanout_cache {
    struct fanout_slot slots[FANOUT_SLOTS];
};

void fanout_cache_forget(struct store_conn *c)
{
    for (int i = 0; c->fanout_cache && i < FANOUT_SLOTS; i++)
        c->fanout_cache->slots[i].valid = false;
}

void store_conn_clear(struct store_conn *c)
{
    for (int i = 0; c->fanout_cache && i < FANOUT_SLOTS; i++)
        fanout_list_free(&c->fanout_cache->slots[i].list);
    free(c->fanout_cache);
    c->fanout_cache = NULL;
}

int store_endpoint_fanout(struct store_conn *tx, const char *org_id, const struct fanout_list **out)
{
    static const char sql[] =
        "SELECT id, events, operational, filter, CASE WHEN kind = 'poll' THEN 1 ELSE 0 END, CASE "
        "WHEN ordering = 'fifo' THEN 1 ELSE 0 END FROM endpoints WHERE org_id = ?1 AND is_active "
        "= 1 AND deleted_at IS NULL ORDER BY id";
    struct fanout_slot *slot;
    struct sql_stmt *s;
    int rc;

    if (tx->fanout_cache == NULL)
        tx->fanout_cache = xcalloc(1, sizeof *tx->fanout_cache);
    slot = &tx->fanout_cache->slots[text_hash(org_id) % FANOUT_SLOTS];
    *out = &slot->list;
    if (slot->valid && strcmp(slot->org_id, org_id) == 0)
        return 0;
    slot->valid = false; /* until the list below is read whole */
    fanout_list_reset(&slot->list);
    s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org_id);
    while ((rc = sql_driver_of(tx)->step(s)) == SQL_ROW) {
        struct fanout_target t = {.operational = sql_col_int(s, 2) != 0,
                                  .is_poll = sql_col_int(s, 4) != 0,
                                  .is_fifo = sql_col_int(s, 5) != 0};
        sql_col_copy(s, 0, t.id, sizeof t.id);
        t.events = sql_col_dup(s, 1);
        t.filter = sql_col_dup_or_null(s, 3);
        fanout_list_add(&slot->list, &t);
        free(t.events);
        free(t.filter);
    }
    sql_driver_of(tx)->reset(s);
    if (rc != SQL_DONE) {
        fanout_list_reset(&slot->list);
        return ERR_FAIL;
    }
    text_copy(slot->org_id, sizeof slot->org_id, org_id);
    slot->valid = true;
    return 0;
}

int store_endpoints_inactive(struct store_conn *c, long *count)
{
    static const char sql[] =
        "SELECT count(*) FROM endpoints WHERE is_active = 0 AND deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(c, sql);
    *count = 0;
    return s ? sql_read_count(s, count) : ERR_FAIL;
}
