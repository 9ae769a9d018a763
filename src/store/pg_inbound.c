/* The PostgreSQL backend, part three: inbound sources and the messages received on them. */
#include "store/pg_internal.h"

#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SOURCE_COLUMNS                                                                             \
    "id, org_id, name, verification, secret, coalesce(event_type, ''), forward, is_active, "       \
    "tolerance_seconds, created_at, updated_at"

static void read_source(const PGresult *r, int row, void *out_ptr)
{
    struct source *src = out_ptr;
    memset(src, 0, sizeof *src);
    pg_col_copy_text(r, row, 0, src->id, sizeof src->id);
    pg_col_copy_text(r, row, 1, src->org_id, sizeof src->org_id);
    pg_col_copy_text(r, row, 2, src->name, sizeof src->name);
    src->verification = pg_col_dup_text(r, row, 3);
    pg_col_copy_text(r, row, 4, src->secret, sizeof src->secret);
    pg_col_copy_text(r, row, 5, src->event_type, sizeof src->event_type);
    src->forward = pg_col_int(r, row, 6) != 0;
    src->is_active = pg_col_int(r, row, 7) != 0;
    src->tolerance_seconds = pg_col_int(r, row, 8);
    src->created_at = pg_col_int64(r, row, 9);
    src->updated_at = pg_col_int64(r, row, 10);
}

/* The id, the org and the settable fields in SOURCE_COLUMNS order: $1 to $11. */
static void source_params(struct pg_params *p, const struct source *src)
{
    pgp_text(p, src->id);
    pgp_text(p, src->org_id);
    pgp_text(p, src->name);
    pgp_text(p, src->verification);
    pgp_text(p, src->secret);
    pgp_text_or_null(p, src->event_type);
    pgp_int(p, src->forward);
    pgp_int(p, src->is_active);
    pgp_int(p, src->tolerance_seconds);
    pgp_int(p, src->created_at);
    pgp_int(p, src->updated_at);
}

int pg_source_insert(struct store_conn *tx, const struct source *src)
{
    static const char sql[] =
        "INSERT INTO sources (id, org_id, name, verification, secret, event_type, forward, "
        "is_active, tolerance_seconds, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, "
        "$7, $8, $9, $10, $11) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    source_params(&p, src);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

int pg_source_update(struct store_conn *tx, const struct source *src)
{
    static const char sql[] =
        "UPDATE sources SET name = $3, verification = $4, secret = $5, event_type = $6, "
        "forward = $7, is_active = $8, tolerance_seconds = $9, created_at = $10, updated_at = $11 "
        "WHERE id = $1 AND org_id = $2 AND deleted_at IS NULL";
    struct pg_params p = {0};
    source_params(&p, src);
    return pg_run_changed(pg_conn_of(tx), sql, &p);
}

int pg_source_get(struct store_conn *c, const char *org_id, const char *id, struct source *out)
{
    static const char sql[] = "SELECT " SOURCE_COLUMNS " FROM sources WHERE id = $1 AND ($2::text "
                              "= '' OR org_id = $2::text) AND deleted_at IS NULL";
    struct pg_params p = {0};
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_source);
}

int pg_source_list(struct store_conn *c, const char *org_id, const struct page *page,
                   struct source *out, int *count)
{
    static const char sql[] =
        "SELECT " SOURCE_COLUMNS " FROM sources WHERE org_id = $1 AND deleted_at IS NULL AND "
        "($2::bigint IS NULL OR (created_at, id) < ($2::bigint, $3::text)) ORDER BY created_at "
        "DESC, id DESC LIMIT $4";
    struct pg_params p = {0};
    pgp_text(&p, org_id);
    if (page->has_cursor) {
        pgp_int(&p, page->before_ms);
        pgp_text(&p, page->before_id);
    } else {
        pgp_null(&p);
        pgp_null(&p);
    }
    pgp_int(&p, page->limit + 1);
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_source);
}

int pg_source_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE sources SET deleted_at = $1, is_active = 0 WHERE id = $2 "
                              "AND org_id = $3 AND deleted_at IS NULL";
    struct pg_params p = {0};
    pgp_int(&p, now);
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    return pg_run_changed(pg_conn_of(tx), sql, &p);
}

/* --- messages --- */

#define INBOUND_COLUMNS                                                                            \
    "id, source_id, org_id, status, coalesce(reason, ''), http_status, dedupe_key, headers, "      \
    "body, body_truncated, coalesce(event_id, ''), created_at"

static void read_inbound(const PGresult *r, int row, void *out_ptr)
{
    struct inbound_message *m = out_ptr;
    size_t headers_len;
    memset(m, 0, sizeof *m);
    pg_col_copy_text(r, row, 0, m->id, sizeof m->id);
    pg_col_copy_text(r, row, 1, m->source_id, sizeof m->source_id);
    pg_col_copy_text(r, row, 2, m->org_id, sizeof m->org_id);
    pg_col_copy_text(r, row, 3, m->status, sizeof m->status);
    pg_col_copy_text(r, row, 4, m->reason, sizeof m->reason);
    m->http_status = pg_col_int(r, row, 5);
    pg_col_copy_bytes_text(r, row, 6, m->dedupe_key, sizeof m->dedupe_key);
    m->headers = pg_col_dup_bytes(r, row, 7, &headers_len);
    m->body = pg_col_dup_bytes(r, row, 8, &m->body_len);
    m->body_truncated = pg_col_int(r, row, 9) != 0;
    pg_col_copy_text(r, row, 10, m->event_id, sizeof m->event_id);
    m->created_at = pg_col_int64(r, row, 11);
}

/* Bytes of a C string for a BYTEA parameter, NULL for NULL or "". */
static void text_bytes_or_null(struct pg_params *p, const char *text)
{
    if (text == NULL || *text == '\0')
        pgp_null(p);
    else
        pgp_bytes(p, text, strlen(text));
}

int pg_inbound_insert(struct store_conn *tx, const struct inbound_message *m)
{
    static const char sql[] = "INSERT INTO inbound_messages (id, source_id, org_id, status, "
                              "reason, http_status, dedupe_key, headers, body, body_truncated, "
                              "event_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, "
                              "$10, $11, $12) ON CONFLICT DO NOTHING";
    struct pg_params p = {0};
    pgp_text(&p, m->id);
    pgp_text(&p, m->source_id);
    pgp_text(&p, m->org_id);
    pgp_text(&p, m->status);
    pgp_text_or_null(&p, m->reason);
    pgp_int(&p, m->http_status);
    text_bytes_or_null(&p, m->dedupe_key);
    text_bytes_or_null(&p, m->headers);
    pgp_bytes(&p, m->body, m->body ? m->body_len : 0);
    pgp_int(&p, m->body_truncated);
    pgp_text_or_null(&p, m->event_id);
    pgp_int(&p, m->created_at);
    return pg_insert(pg_conn_of(tx), sql, &p);
}

int pg_inbound_get(struct store_conn *c, const char *org_id, const char *id,
                   struct inbound_message *out)
{
    static const char sql[] =
        "SELECT " INBOUND_COLUMNS " FROM inbound_messages WHERE id = $1 AND org_id = $2";
    struct pg_params p = {0};
    pgp_text(&p, id);
    pgp_text(&p, org_id);
    return pg_read_one(pg_conn_of(c), sql, &p, out, read_inbound);
}

int pg_inbound_list(struct store_conn *c, const char *org_id, const char *source_id,
                    const char *status, const struct page *page, struct inbound_message *out,
                    int *count)
{
    static const char sql[] =
        "SELECT " INBOUND_COLUMNS " FROM inbound_messages WHERE source_id = $1 AND org_id = $5 "
        "AND ($2::bigint IS NULL OR (created_at, id) < ($2::bigint, $3::text)) AND ($6::text IS "
        "NULL OR status = $6::text) ORDER BY created_at DESC, id DESC LIMIT $4";
    struct pg_params p = {0};
    pgp_text(&p, source_id);
    if (page->has_cursor) {
        pgp_int(&p, page->before_ms);
        pgp_text(&p, page->before_id);
    } else {
        pgp_null(&p);
        pgp_null(&p);
    }
    pgp_int(&p, page->limit + 1);
    pgp_text(&p, org_id);
    pgp_text_or_null(&p, status);
    return pg_read_rows(pg_conn_of(c), sql, &p, out, sizeof *out, count, read_inbound);
}

int pg_inbound_seen(struct store_conn *tx, const char *source_id, const char *dedupe_key,
                    int64_t since)
{
    static const char sql[] = "SELECT 1 FROM inbound_messages WHERE source_id = $1 AND "
                              "dedupe_key = $2 AND created_at >= $3 AND status = 'accepted' "
                              "LIMIT 1";
    struct pg_params p = {0};
    PGresult *res;
    int rc;
    pgp_text(&p, source_id);
    pgp_bytes(&p, dedupe_key, strlen(dedupe_key));
    pgp_int(&p, since);
    res = pg_exec(pg_conn_of(tx), sql, &p, &rc);
    if (res == NULL)
        return ERR_FAIL;
    rc = PQntuples(res) > 0 ? 0 : ERR_NOT_FOUND;
    PQclear(res);
    return rc;
}
