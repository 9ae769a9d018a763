/* The SQLite backend, part three: inbound sources and the messages received on them. */
#include "store/sqlite_internal.h"

#include "core/mem.h"
#include "store/sqlite_inbound.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_COLUMNS                                                                             \
    "id, org_id, name, verification, secret, coalesce(event_type, ''), forward, is_active, "       \
    "tolerance_seconds, created_at, updated_at"

static void read_source(sqlite3_stmt *s, void *out_ptr)
{
    struct source *src = out_ptr;
    memset(src, 0, sizeof *src);
    sq_copy_text(s, 0, src->id, sizeof src->id);
    sq_copy_text(s, 1, src->org_id, sizeof src->org_id);
    sq_copy_text(s, 2, src->name, sizeof src->name);
    src->verification = sq_dup_text(s, 3);
    sq_copy_text(s, 4, src->secret, sizeof src->secret);
    sq_copy_text(s, 5, src->event_type, sizeof src->event_type);
    src->forward = sqlite3_column_int(s, 6) != 0;
    src->is_active = sqlite3_column_int(s, 7) != 0;
    src->tolerance_seconds = sqlite3_column_int(s, 8);
    src->created_at = sqlite3_column_int64(s, 9);
    src->updated_at = sqlite3_column_int64(s, 10);
}

/* Binds the settable fields from index 3 on, in SOURCE_COLUMNS order. */
static void bind_source_fields(sqlite3_stmt *s, const struct source *src)
{
    sq_bind_text(s, 3, src->name);
    sq_bind_text(s, 4, src->verification);
    sq_bind_text(s, 5, src->secret);
    sq_bind_text_or_null(s, 6, src->event_type);
    sqlite3_bind_int(s, 7, src->forward);
    sqlite3_bind_int(s, 8, src->is_active);
    sqlite3_bind_int(s, 9, src->tolerance_seconds);
    sqlite3_bind_int64(s, 10, src->created_at);
    sqlite3_bind_int64(s, 11, src->updated_at);
}

int sq_source_insert(struct store_conn *tx, const struct source *src)
{
    static const char sql[] =
        "INSERT INTO sources (id, org_id, name, verification, secret, event_type, forward, "
        "is_active, tolerance_seconds, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
        "?7, ?8, ?9, ?10, ?11)";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, src->id);
    sq_bind_text(s, 2, src->org_id);
    bind_source_fields(s, src);
    return sq_run(sq_conn(tx), s);
}

int sq_source_update(struct store_conn *tx, const struct source *src)
{
    static const char sql[] =
        "UPDATE sources SET name = ?3, verification = ?4, secret = ?5, event_type = ?6, "
        "forward = ?7, is_active = ?8, tolerance_seconds = ?9, created_at = ?10, updated_at = ?11 "
        "WHERE id = ?1 AND org_id = ?2 AND deleted_at IS NULL";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, src->id);
    sq_bind_text(s, 2, src->org_id);
    bind_source_fields(s, src);
    return sq_run_changed(sq_conn(tx), s);
}

int sq_source_get(struct store_conn *c, const char *org_id, const char *id, struct source *out)
{
    static const char sql[] = "SELECT " SOURCE_COLUMNS " FROM sources WHERE id = ?1 AND (?2 = '' "
                              "OR org_id = ?2) AND deleted_at IS NULL";
    return sq_read_one_by(sq_conn(c), sql, id, org_id, out, read_source);
}

int sq_source_list(struct store_conn *c, const char *org_id, const struct page *page,
                   struct source *out, int *count)
{
    static const char sql[] = "SELECT " SOURCE_COLUMNS " FROM sources WHERE org_id = ?1 AND "
                              "deleted_at IS NULL AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) "
                              "ORDER BY created_at DESC, id DESC LIMIT ?4";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, org_id);
    if (page->has_cursor) {
        sqlite3_bind_int64(s, 2, page->before_ms);
        sq_bind_text(s, 3, page->before_id);
    }
    sqlite3_bind_int(s, 4, page->limit + 1);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_source);
}

int sq_source_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE sources SET deleted_at = ?1, is_active = 0 WHERE id = ?2 "
                              "AND org_id = ?3 AND deleted_at IS NULL";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sqlite3_bind_int64(s, 1, now);
    sq_bind_text(s, 2, id);
    sq_bind_text(s, 3, org_id);
    return sq_run_changed(sq_conn(tx), s);
}

/* --- messages --- */

#define INBOUND_COLUMNS                                                                            \
    "id, source_id, org_id, status, coalesce(reason, ''), http_status, coalesce(dedupe_key, ''), " \
    "headers, body, body_truncated, coalesce(event_id, ''), created_at"

static void read_inbound(sqlite3_stmt *s, void *out_ptr)
{
    struct inbound_message *m = out_ptr;
    const void *body;
    memset(m, 0, sizeof *m);
    sq_copy_text(s, 0, m->id, sizeof m->id);
    sq_copy_text(s, 1, m->source_id, sizeof m->source_id);
    sq_copy_text(s, 2, m->org_id, sizeof m->org_id);
    sq_copy_text(s, 3, m->status, sizeof m->status);
    sq_copy_text(s, 4, m->reason, sizeof m->reason);
    m->http_status = sqlite3_column_int(s, 5);
    sq_copy_text(s, 6, m->dedupe_key, sizeof m->dedupe_key);
    m->headers = sq_dup_text(s, 7);
    body = sqlite3_column_blob(s, 8);
    m->body_len = (size_t)sqlite3_column_bytes(s, 8);
    m->body = xmalloc(m->body_len + 1);
    if (body)
        memcpy(m->body, body, m->body_len);
    m->body[m->body_len] = '\0';
    m->body_truncated = sqlite3_column_int(s, 9) != 0;
    sq_copy_text(s, 10, m->event_id, sizeof m->event_id);
    m->created_at = sqlite3_column_int64(s, 11);
}

int sq_inbound_insert(struct store_conn *tx, const struct inbound_message *m)
{
    static const char sql[] = "INSERT INTO inbound_messages (id, source_id, org_id, status, "
                              "reason, http_status, dedupe_key, headers, body, body_truncated, "
                              "event_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, m->id);
    sq_bind_text(s, 2, m->source_id);
    sq_bind_text(s, 3, m->org_id);
    sq_bind_text(s, 4, m->status);
    sq_bind_text_or_null(s, 5, m->reason);
    sqlite3_bind_int(s, 6, m->http_status);
    sq_bind_text_or_null(s, 7, m->dedupe_key);
    sq_bind_text_or_null(s, 8, m->headers);
    sqlite3_bind_blob(s, 9, m->body ? m->body : "", (int)m->body_len, SQLITE_STATIC);
    sqlite3_bind_int(s, 10, m->body_truncated);
    sq_bind_text_or_null(s, 11, m->event_id);
    sqlite3_bind_int64(s, 12, m->created_at);
    return sq_run(sq_conn(tx), s);
}

int sq_inbound_get(struct store_conn *c, const char *org_id, const char *id,
                   struct inbound_message *out)
{
    static const char sql[] =
        "SELECT " INBOUND_COLUMNS " FROM inbound_messages WHERE id = ? AND org_id = ?";
    return sq_read_one_by(sq_conn(c), sql, id, org_id, out, read_inbound);
}

int sq_inbound_list(struct store_conn *c, const char *org_id, const char *source_id,
                    const char *status, const struct page *page, struct inbound_message *out,
                    int *count)
{
    static const char sql[] =
        "SELECT " INBOUND_COLUMNS " FROM inbound_messages WHERE source_id = ?1 AND org_id = ?5 "
        "AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) AND (?6 IS NULL OR status = ?6) "
        "ORDER BY created_at DESC, id DESC LIMIT ?4";
    sqlite3_stmt *s = sq_prepare(sq_conn(c), sql);
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, source_id);
    if (page->has_cursor) {
        sqlite3_bind_int64(s, 2, page->before_ms);
        sq_bind_text(s, 3, page->before_id);
    }
    sqlite3_bind_int(s, 4, page->limit + 1);
    sq_bind_text(s, 5, org_id);
    sq_bind_text_or_null(s, 6, status);
    return sq_read_rows(sq_conn(c), s, out, sizeof *out, count, read_inbound);
}

int sq_inbound_seen(struct store_conn *tx, const char *source_id, const char *dedupe_key,
                    int64_t since)
{
    static const char sql[] = "SELECT 1 FROM inbound_messages WHERE source_id = ? AND "
                              "dedupe_key = ? AND created_at >= ? AND status = 'accepted' LIMIT 1";
    sqlite3_stmt *s = sq_prepare(sq_conn(tx), sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sq_bind_text(s, 1, source_id);
    sq_bind_text(s, 2, dedupe_key);
    sqlite3_bind_int64(s, 3, since);
    rc = sqlite3_step(s);
    sq_done(s);
    if (rc == SQLITE_ROW)
        return 0;
    return rc == SQLITE_DONE ? ERR_NOT_FOUND : sq_fail(sq_conn(tx)->db, "inbound_seen");
}
