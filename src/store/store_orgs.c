/* Tenants, credentials, remembered responses and node heartbeats. */
#include "store/sql.h"
#include "store/store_internal.h"

#include "core/mem.h"
#include "core/text.h"

#include <string.h>

/* --- orgs --- */

#define ORG_COLUMNS                                                                                \
    "id, name, primary_secret, signature_scheme, created_at, retention_days, "                     \
    "coalesce(portal_name, ''), coalesce(portal_logo_url, ''), coalesce(portal_accent_color, '')"

static void read_org(struct sql_stmt *s, void *out_ptr)
{
    struct org *out = out_ptr;
    sql_col_copy(s, 0, out->id, sizeof out->id);
    sql_col_copy(s, 1, out->name, sizeof out->name);
    sql_col_copy(s, 2, out->primary_secret, sizeof out->primary_secret);
    sql_col_copy(s, 3, out->signature_scheme, sizeof out->signature_scheme);
    out->created_at = sql_col_int64(s, 4);
    out->retention_days = sql_col_int(s, 5); /* NULL reads as 0 */
    sql_col_copy(s, 6, out->portal_name, sizeof out->portal_name);
    sql_col_copy(s, 7, out->portal_logo_url, sizeof out->portal_logo_url);
    sql_col_copy(s, 8, out->portal_accent_color, sizeof out->portal_accent_color);
}

int store_org_insert(struct store_conn *tx, const struct org *org)
{
    static const char sql[] = "INSERT INTO orgs (id, name, primary_secret, signature_scheme, "
                              "created_at, retention_days) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                              "ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org->id);
    sql_text(s, 2, org->name);
    sql_text(s, 3, org->primary_secret);
    sql_text(s, 4, org->signature_scheme);
    sql_int(s, 5, org->created_at);
    sql_int_or_null(s, 6, org->retention_days);
    return sql_insert(s);
}

int store_org_get(struct store_conn *c, const char *id, struct org *out)
{
    static const char sql[] =
        "SELECT " ORG_COLUMNS " FROM orgs WHERE id = ?1 AND deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    return sql_read_one(s, out, read_org);
}

int store_org_list(struct store_conn *c, const struct page *page, struct org *out, int *count)
{
    static const char sql[] = "SELECT " ORG_COLUMNS " FROM orgs WHERE deleted_at IS NULL AND "
                              "(?1 IS NULL OR (created_at, id) < (?1, ?2)) ORDER BY created_at "
                              "DESC, id DESC LIMIT ?3";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_page(s, 1, page);
    return sql_read_rows(s, out, sizeof *out, count, read_org);
}

int store_org_update(struct store_conn *tx, const struct org *org)
{
    static const char sql[] =
        "UPDATE orgs SET name = ?1, primary_secret = ?2, signature_scheme = ?3, retention_days = "
        "?5, portal_name = ?6, portal_logo_url = ?7, portal_accent_color = ?8 WHERE id = ?4 AND "
        "deleted_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org->name);
    sql_text(s, 2, org->primary_secret);
    sql_text(s, 3, org->signature_scheme);
    sql_text(s, 4, org->id);
    sql_int_or_null(s, 5, org->retention_days);
    sql_text_or_null(s, 6, org->portal_name);
    sql_text_or_null(s, 7, org->portal_logo_url);
    sql_text_or_null(s, 8, org->portal_accent_color);
    return sql_run_changed(s);
}

/* Deletes the org (§2.2): its keys and portal sessions are revoked, its endpoints and sources
 * deleted, and its queued deliveries end exhausted; its history stays until retention purges it. */
int store_org_delete(struct store_conn *tx, const char *id, int64_t now)
{
    static const char delete_org[] =
        "UPDATE orgs SET deleted_at = ?1 WHERE id = ?2 AND deleted_at IS NULL";
    static const char revoke_keys[] =
        "UPDATE api_keys SET revoked_at = ?1 WHERE org_id = ?2 AND revoked_at IS NULL";
    static const char delete_endpoints[] = "UPDATE endpoints SET deleted_at = ?1, is_active = 0 "
                                           "WHERE org_id = ?2 AND deleted_at IS NULL";
    static const char delete_sources[] = "UPDATE sources SET deleted_at = ?1, is_active = 0 "
                                         "WHERE org_id = ?2 AND deleted_at IS NULL";
    static const char end_deliveries[] = "UPDATE deliveries SET status = " SQL_NUM(
        DLV_EXHAUSTED_N) ", last_error = 'organization "
                         "deleted', next_attempt_at = NULL WHERE org_id = ?2 AND status = " SQL_NUM(
                             DLV_PENDING_N);
    static const char revoke_portals[] =
        "UPDATE portal_sessions SET revoked_at = ?1 WHERE org_id = ?2 AND revoked_at IS NULL";
    const char *const steps[] = {delete_org,     revoke_keys,    delete_endpoints,
                                 delete_sources, end_deliveries, revoke_portals};
    int rc = 0;

    fanout_cache_forget(tx);
    for (size_t i = 0; rc == 0 && i < sizeof steps / sizeof steps[0]; i++) {
        struct sql_stmt *s = sql_prepare(tx, steps[i]);
        if (s == NULL)
            return ERR_FAIL;
        sql_int(s, 1, now);
        sql_text(s, 2, id);
        rc = i == 0 ? sql_run_changed(s) : sql_run(s);
    }
    return rc;
}

/* --- keys --- */

#define KEY_COLUMNS "id, coalesce(org_id, ''), name, scopes, secret_hash, created_at, revoked_at"

static void read_key(struct sql_stmt *s, void *out_ptr)
{
    struct api_key *out = out_ptr;
    sql_col_copy(s, 0, out->id, sizeof out->id);
    sql_col_copy(s, 1, out->org_id, sizeof out->org_id);
    sql_col_copy(s, 2, out->name, sizeof out->name);
    out->scopes = (unsigned)sql_col_int(s, 3);
    sql_col_copy_bytes_exact(s, 4, out->secret_hash, sizeof out->secret_hash);
    out->created_at = sql_col_int64(s, 5);
    out->revoked_at = sql_col_int64(s, 6);
}

int store_key_insert(struct store_conn *tx, const struct api_key *key)
{
    static const char sql[] =
        "INSERT INTO api_keys (id, org_id, name, scopes, secret_hash, created_at) VALUES (?1, "
        "nullif(?2, ''), ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, key->id);
    sql_text(s, 2, key->org_id);
    sql_text(s, 3, key->name);
    sql_int(s, 4, key->scopes);
    sql_bytes(s, 5, key->secret_hash, sizeof key->secret_hash);
    sql_int(s, 6, key->created_at);
    return sql_insert(s);
}

int store_key_get(struct store_conn *c, const char *id, struct api_key *out)
{
    static const char sql[] = "SELECT " KEY_COLUMNS " FROM api_keys WHERE id = ?1";
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    return sql_read_one(s, out, read_key);
}

int store_key_list(struct store_conn *c, const char *org_id, const struct page *page,
                   struct api_key *out, int *count)
{
    static const char sql[] =
        "SELECT " KEY_COLUMNS " FROM api_keys WHERE coalesce(org_id, '') = ?1 AND (?2 IS NULL OR "
        "(created_at, id) < (?2, ?3)) ORDER BY created_at DESC, id DESC LIMIT ?4";
    return sql_read_org_page(c, sql, org_id, page, out, sizeof *out, count, read_key);
}

int store_key_revoke(struct store_conn *tx, const char *id, int64_t now)
{
    static const char sql[] =
        "UPDATE api_keys SET revoked_at = ?1 WHERE id = ?2 AND revoked_at IS NULL";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, now);
    sql_text(s, 2, id);
    return sql_run_changed(s);
}

int store_key_count(struct store_conn *c, long *count)
{
    static const char sql[] = "SELECT count(*) FROM api_keys";
    struct sql_stmt *s = sql_prepare(c, sql);
    *count = 0;
    return s ? sql_read_count(s, count) : ERR_FAIL;
}

/* --- idempotency --- */

static void read_idem(struct sql_stmt *s, void *out_ptr)
{
    struct idem_record *out = out_ptr;
    sql_col_copy_bytes_exact(s, 0, out->request_hash, sizeof out->request_hash);
    out->status = sql_col_int(s, 1);
    out->body = sql_col_dup(s, 2);
    out->created_at = sql_col_int64(s, 3);
}

int store_idem_get(struct store_conn *c, const char *scope, const char *key, int64_t not_before,
                   struct idem_record *out)
{
    static const char sql[] = "SELECT request_hash, status, body, created_at FROM idempotency"
                              " WHERE scope = ?1 AND key = ?2 AND created_at >= ?3";
    struct sql_stmt *s = sql_prepare(c, sql);
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, scope);
    sql_text(s, 2, key);
    sql_int(s, 3, not_before);
    rc = sql_read_one(s, out, read_idem);
    if (rc == 0) {
        text_copy(out->scope, sizeof out->scope, scope);
        text_copy(out->key, sizeof out->key, key);
    }
    return rc;
}

int store_idem_put(struct store_conn *tx, const struct idem_record *rec)
{
    static const char sql[] =
        "INSERT INTO idempotency (scope, key, request_hash, status, body, created_at) VALUES "
        "(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (scope, key) DO UPDATE SET request_hash = "
        "excluded.request_hash, status = excluded.status, body = excluded.body, created_at = "
        "excluded.created_at";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, rec->scope);
    sql_text(s, 2, rec->key);
    sql_bytes(s, 3, rec->request_hash, sizeof rec->request_hash);
    sql_int(s, 4, rec->status);
    sql_text(s, 5, rec->body);
    sql_int(s, 6, rec->created_at);
    return sql_run_later(s);
}

int store_idem_purge(struct store_conn *tx, int64_t older_than, int max_rows)
{
    static const char sql[] =
        "DELETE FROM idempotency WHERE (scope, key) IN (SELECT scope, key FROM idempotency "
        "WHERE created_at < ?1 LIMIT ?2)";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_int(s, 1, older_than);
    sql_int(s, 2, max_rows);
    return sql_run(s);
}

/* --- nodes --- */

int store_node_heartbeat(struct store_conn *tx, const char *node_id, int64_t now)
{
    static const char sql[] =
        "INSERT INTO nodes (id, started_at, heartbeat_at) VALUES (?1, ?2, ?2) ON CONFLICT (id) "
        "DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, node_id);
    sql_int(s, 2, now);
    return sql_run(s);
}

int store_node_remove(struct store_conn *tx, const char *node_id)
{
    static const char sql[] = "DELETE FROM nodes WHERE id = ?1";
    struct sql_stmt *s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, node_id);
    return sql_run(s);
}
