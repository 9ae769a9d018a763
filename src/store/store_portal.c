/* Customer portal sessions (issue 16): a one-time link, exchanged once for a session. */
#include "store/sql.h"
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

#define PORTAL_COLUMNS                                                                             \
    "id, org_id, link_hash, session_hash, read_only, endpoint_ids, expires_in_ms, expires_at, "    \
    "coalesce(exchanged_at, 0), coalesce(session_expires_at, 0), coalesce(revoked_at, 0), "        \
    "created_at"

void portal_session_clear(struct portal_session *ps)
{
    if (ps == NULL)
        return;
    free(ps->endpoint_ids);
    ps->endpoint_ids = NULL;
}

static void read_portal(struct sql_stmt *s, void *out_ptr)
{
    struct portal_session *ps = out_ptr;
    memset(ps, 0, sizeof *ps);
    sql_col_copy(s, 0, ps->id, sizeof ps->id);
    sql_col_copy(s, 1, ps->org_id, sizeof ps->org_id);
    sql_col_copy_bytes_exact(s, 2, ps->link_hash, sizeof ps->link_hash);
    sql_col_copy_bytes_exact(s, 3, ps->session_hash, sizeof ps->session_hash);
    ps->read_only = sql_col_int(s, 4) != 0;
    ps->endpoint_ids = sql_col_dup_or_null(s, 5);
    ps->expires_in_ms = sql_col_int64(s, 6);
    ps->expires_at = sql_col_int64(s, 7);
    ps->exchanged_at = sql_col_int64(s, 8);
    ps->session_expires_at = sql_col_int64(s, 9);
    ps->revoked_at = sql_col_int64(s, 10);
    ps->created_at = sql_col_int64(s, 11);
}

int store_portal_insert(struct store_conn *tx, const struct portal_session *ps)
{
    static const char sql[] = "INSERT INTO portal_sessions (id, org_id, link_hash, read_only, "
                              "endpoint_ids, expires_in_ms, expires_at, created_at) VALUES (?1, "
                              "?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, ps->id);
    sql_text(s, 2, ps->org_id);
    sql_bytes(s, 3, ps->link_hash, sizeof ps->link_hash);
    sql_int(s, 4, ps->read_only);
    sql_text_or_null(s, 5, ps->endpoint_ids);
    sql_int(s, 6, ps->expires_in_ms);
    sql_int(s, 7, ps->expires_at);
    sql_int(s, 8, ps->created_at);
    return sql_insert(s);
}

int store_portal_get(struct store_conn *c, const char *org_id, const char *id,
                     struct portal_session *out)
{
    static const char sql[] = "SELECT " PORTAL_COLUMNS " FROM portal_sessions WHERE id = ?1 AND "
                              "(?2 = '' OR org_id = ?2)";
    return sql_read_one_of_org(c, sql, id, org_id, out, read_portal);
}

int store_portal_list(struct store_conn *c, const char *org_id, const struct page *page,
                      struct portal_session *out, int *count)
{
    static const char sql[] = "SELECT " PORTAL_COLUMNS " FROM portal_sessions WHERE org_id = ?1 "
                              "AND (?2 IS NULL OR (created_at, id) < (?2, ?3)) ORDER BY "
                              "created_at DESC, id DESC LIMIT ?4";
    return sql_read_org_page(c, sql, org_id, page, out, sizeof *out, count, read_portal);
}

int store_portal_exchange(struct store_conn *tx, const char *id,
                          const unsigned char session_hash[32], int64_t now)
{
    static const char sql[] = "UPDATE portal_sessions SET session_hash = ?1, exchanged_at = ?2, "
                              "session_expires_at = ?2 + expires_in_ms WHERE id = ?3 AND "
                              "exchanged_at IS NULL AND revoked_at IS NULL AND expires_at > ?2";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_bytes(s, 1, session_hash, 32);
    sql_int(s, 2, now);
    sql_text(s, 3, id);
    return sql_run_changed(s);
}

int store_portal_revoke(struct store_conn *tx, const char *org_id, const char *id, int64_t now)
{
    static const char sql[] = "UPDATE portal_sessions SET revoked_at = ?1 WHERE id = ?2 AND "
                              "org_id = ?3 AND revoked_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text(s, 2, id);
    sql_text(s, 3, org_id);
    return sql_run_changed(s);
}
