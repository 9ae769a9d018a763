/* Inbound sources and the messages received on them (§2.7). A message's headers, dedupe key
 * and body come from the sender as bytes, not always UTF-8: they are stored as bytes. */
#include "store/sql.h"

#include "core/mem.h"

#include <string.h>

#define SOURCE_COLUMNS                                                                             \
    "id, org_id, name, verification, secret, coalesce(event_type, ''), forward, is_active, "       \
    "tolerance_seconds, created_at, updated_at"

static void read_source(struct sql_stmt *s, void *out_ptr)
{
    struct source *src = out_ptr;
    memset(src, 0, sizeof *src);
    sql_col_copy(s, 0, src->id, sizeof src->id);
    sql_col_copy(s, 1, src->org_id, sizeof src->org_id);
    sql_col_copy(s, 2, src->name, sizeof src->name);
    src->verification = sql_col_dup(s, 3);
    sql_col_copy(s, 4, src->secret, sizeof src->secret);
    sql_col_copy(s, 5, src->event_type, sizeof src->event_type);
    src->forward = sql_col_int(s, 6) != 0;
    src->is_active = sql_col_int(s, 7) != 0;
    src->tolerance_seconds = sql_col_int(s, 8);
    src->created_at = sql_col_int64(s, 9);
    src->updated_at = sql_col_int64(s, 10);
}

/* The id, the org and the settable fields in SOURCE_COLUMNS order, at ?1 to ?11. */
static void bind_source(struct sql_stmt *s, const struct source *src)
{
    sql_text(s, 1, src->id);
    sql_text(s, 2, src->org_id);
    sql_text(s, 3, src->name);
    sql_text(s, 4, src->verification);
    sql_text(s, 5, src->secret);
    sql_text_or_null(s, 6, src->event_type);
    sql_int(s, 7, src->forward);
    sql_int(s, 8, src->is_active);
    sql_int(s, 9, src->tolerance_seconds);
    sql_int(s, 10, src->created_at);
    sql_int(s, 11, src->updated_at);
}

int store_source_insert(struct store_conn *tx, const struct source *src)
{
    static const char sql[] =
        "INSERT INTO sources (id, org_id, name, verification, secret, event_type, forward, "
        "is_active, tolerance_seconds, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11) ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    bind_source(s, src);
    return sql_insert(s);
}

int store_source_update(struct store_conn *tx, const struct source *src)
{
    static const char sql[] =
        "UPDATE sources SET name = ?3, verification = ?4, secret = ?5, event_type = ?6, "
        "forward = ?7, is_active = ?8, tolerance_seconds = ?9, created_at = ?10, updated_at = ?11 "
        "WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    bind_source(s, src);
    return sql_run_changed(s);
}

static void read_int(struct sql_stmt *s, void *out)
{
    *(int *)out = sql_col_int(s, 0);
}

int store_source_rejected(struct store_conn *tx, const char *id, int *in_row)
{
    static const char sql[] = "UPDATE sources SET rejected_in_row = rejected_in_row + 1 WHERE id "
                              "= ?1 RETURNING rejected_in_row";
    struct sql_stmt *s = sql_prepare(tx, sql);
    int rc;
    *in_row = 0;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    rc = sql_read_one(s, in_row, read_int);
    return rc == ERR_NOT_FOUND ? 0 : rc;
}

int store_source_accepted(struct store_conn *tx, const char *id)
{
    static const char sql[] =
        "UPDATE sources SET rejected_in_row = 0 WHERE id = ?1 AND rejected_in_row <> 0";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    return sql_run_later(s);
}

int store_source_get(struct store_conn *c, const char *org_id, const char *id, struct source *out)
{
    static const char sql[] = "SELECT " SOURCE_COLUMNS " FROM sources WHERE id = ?1 AND (?2 = '' "
                              "OR org_id = ?2) AND deleted_at IS NULL";
    return sql_read_one_of_org(c, sql, id, org_id, out, read_source);
}

int store_source_list(struct store_conn *c, const char *org_id, const struct page *page,
                      struct source *out, int *count)
{
    static const char sql[] = "SELECT " SOURCE_COLUMNS " FROM sources WHERE org_id = ?1 AND "
                              "deleted_at IS NULL AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) "
                              "ORDER BY created_at DESC, id DESC LIMIT ?4";
    return sql_read_org_page(c, sql, org_id, page, out, sizeof *out, count, read_source);
}

int store_source_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE sources SET deleted_at = ?1, is_active = 0 WHERE id = ?2 "
                              "AND org_id = ?3 AND deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text(s, 2, id);
    sql_text(s, 3, org_id);
    return sql_run_changed(s);
}

/* --- messages --- */

#define INBOUND_COLUMNS                                                                            \
    "id, source_id, org_id, status, coalesce(reason, ''), http_status, dedupe_key, headers, "      \
    "body, body_truncated, coalesce(event_id, ''), created_at"

static void read_inbound(struct sql_stmt *s, void *out_ptr)
{
    struct inbound_message *m = out_ptr;
    size_t headers_len;
    memset(m, 0, sizeof *m);
    sql_col_copy(s, 0, m->id, sizeof m->id);
    sql_col_copy(s, 1, m->source_id, sizeof m->source_id);
    sql_col_copy(s, 2, m->org_id, sizeof m->org_id);
    sql_col_copy(s, 3, m->status, sizeof m->status);
    sql_col_copy(s, 4, m->reason, sizeof m->reason);
    m->http_status = sql_col_int(s, 5);
    sql_col_copy_bytes_text(s, 6, m->dedupe_key, sizeof m->dedupe_key);
    m->headers = sql_col_dup_bytes(s, 7, &headers_len);
    m->body = sql_col_dup_bytes(s, 8, &m->body_len);
    m->body_truncated = sql_col_int(s, 9) != 0;
    sql_col_copy(s, 10, m->event_id, sizeof m->event_id);
    m->created_at = sql_col_int64(s, 11);
}

int store_inbound_insert(struct store_conn *tx, const struct inbound_message *m)
{
    static const char sql[] = "INSERT INTO inbound_messages (id, source_id, org_id, status, "
                              "reason, http_status, dedupe_key, headers, body, body_truncated, "
                              "event_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
                              "?10, ?11, ?12) ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, m->id);
    sql_text(s, 2, m->source_id);
    sql_text(s, 3, m->org_id);
    sql_text(s, 4, m->status);
    sql_text_or_null(s, 5, m->reason);
    sql_int(s, 6, m->http_status);
    sql_bytes_or_null(s, 7, m->dedupe_key);
    sql_bytes_or_null(s, 8, m->headers);
    sql_bytes(s, 9, m->body, m->body ? m->body_len : 0);
    sql_int(s, 10, m->body_truncated);
    sql_text_or_null(s, 11, m->event_id);
    sql_int(s, 12, m->created_at);
    return sql_insert(s);
}

int store_inbound_get(struct store_conn *c, const char *org_id, const char *id,
                      struct inbound_message *out)
{
    static const char sql[] =
        "SELECT " INBOUND_COLUMNS " FROM inbound_messages WHERE id = ?1 AND org_id = ?2";
    return sql_read_one_of_org(c, sql, id, org_id, out, read_inbound);
}

int store_inbound_list(struct store_conn *c, const char *org_id, const char *source_id,
                       const char *status, const struct page *page, struct inbound_message *out,
                       int *count)
{
    static const char sql[] =
        "SELECT " INBOUND_COLUMNS " FROM inbound_messages WHERE source_id = ?1 AND (?2 IS NULL OR "
        "(created_at, id) < (?2, ?3)) AND org_id = ?5 AND (?6 IS NULL OR status = ?6) ORDER BY "
        "created_at DESC, id DESC LIMIT ?4";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, source_id);
    sql_page(s, 2, page);
    sql_text(s, 5, org_id);
    sql_text_or_null(s, 6, status);
    return sql_read_rows(s, out, sizeof *out, count, read_inbound);
}

int store_inbound_seen(struct store_conn *tx, const char *source_id, const char *dedupe_key,
                       int64_t since)
{
    static const char sql[] = "SELECT count(*) FROM inbound_messages WHERE source_id = ?1 AND "
                              "dedupe_key = ?2 AND created_at >= ?3 AND status = 'accepted'";
    struct sql_stmt *s = sql_prepare(tx, sql);
    long found;
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, source_id);
    sql_bytes(s, 2, dedupe_key, strlen(dedupe_key));
    sql_int(s, 3, since);
    rc = sql_read_count(s, &found);
    return rc ? rc : found > 0 ? 0 : ERR_NOT_FOUND;
}
