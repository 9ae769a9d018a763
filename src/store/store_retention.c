/* Retention (§4.6): history older than the cutoff goes, a bounded batch at a time, through the
 * indexes the lists use (by org, or by source, then created_at), so a purge reads only what it
 * deletes. */
#include "store/sql.h"
#include "store/store_internal.h"

#include "core/mem.h"
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

/* the done deliveries of one org, oldest first: the same rows for both statements below */
#define OLD_DELIVERIES                                                                             \
    "SELECT id FROM deliveries WHERE org_id = ?1 AND created_at < ?2 AND status <> " SQL_NUM(      \
        DLV_PENDING_N) " ORDER BY created_at, id LIMIT ?3"

/* Runs sql with (owner, cutoff, max_rows), adding what it deleted to *purged. */
static int purge_one(struct store_conn *tx, const char *sql, const char *owner, int64_t cutoff,
                     int max_rows, long *purged)
{
    struct sql_stmt *s = sql_prepare(tx, sql);
    long changed = 0;
    int rc;
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, owner);
    sql_int(s, 2, cutoff);
    sql_int(s, 3, max_rows);
    rc = sql_run_rows(s, &changed);
    *purged += changed;
    return rc;
}

static int purge_org(struct store_conn *tx, const char *org_id, int64_t cutoff, int max_rows,
                     long *purged)
{
    static const char attempts[] = "DELETE FROM attempts WHERE delivery_id IN (" OLD_DELIVERIES ")";
    static const char deliveries[] = "DELETE FROM deliveries WHERE id IN (" OLD_DELIVERIES ")";
    /* an event goes with its last delivery, so a pending one keeps it */
    static const char events[] =
        "DELETE FROM events WHERE org_id = ?1 AND id IN (SELECT e.id FROM events e WHERE "
        "e.org_id = ?1 AND e.created_at < ?2 AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE "
        "d.org_id = e.org_id AND d.event_id = e.id) ORDER BY e.created_at, e.id LIMIT ?3)";
    /* each of the org's sources through its (source_id, created_at) index, in one statement */
    static const char messages[] =
        "DELETE FROM inbound_messages WHERE id IN (SELECT m.id FROM sources s JOIN "
        "inbound_messages m ON m.source_id = s.id WHERE s.org_id = ?1 AND m.created_at < ?2 "
        "LIMIT ?3)";
    /* the org's endpoints' stats, deleted endpoints' included */
    static const char stats[] =
        "DELETE FROM endpoint_stats WHERE (endpoint_id, bucket) IN (SELECT st.endpoint_id, "
        "st.bucket FROM endpoints e JOIN endpoint_stats st ON st.endpoint_id = e.id WHERE "
        "e.org_id = ?1 AND st.bucket < ?2 LIMIT ?3)";
    int rc = purge_one(tx, attempts, org_id, cutoff, max_rows, purged);
    if (rc == 0)
        rc = purge_one(tx, deliveries, org_id, cutoff, max_rows, purged);
    if (rc == 0)
        rc = purge_one(tx, events, org_id, cutoff, max_rows, purged);
    if (rc == 0)
        rc = purge_one(tx, messages, org_id, cutoff, max_rows, purged);
    if (rc == 0)
        rc = purge_one(tx, stats, org_id, cutoff, max_rows, purged);
    return rc;
}

/* An org to purge, and how long it keeps its history. */
struct org_keep {
    char id[ID_MAX];
    int retention_days; /* 0: the server's */
};

static void read_org_keep(struct sql_stmt *s, void *out_ptr)
{
    struct org_keep *out = out_ptr;
    sql_col_copy(s, 0, out->id, sizeof out->id);
    out->retention_days = sql_col_int(s, 1);
}

#define ORGS_PER_CALL 64

int store_history_purge(struct store_conn *tx, int64_t now, int64_t keep_ms, int max_rows,
                        char after_org[ID_MAX], long *purged)
{
    static const char orgs[] =
        "SELECT id, retention_days FROM orgs WHERE id > ?1 ORDER BY id LIMIT ?2";
    struct org_keep *org_ids = xcalloc(ORGS_PER_CALL, sizeof *org_ids);
    struct sql_stmt *s = sql_prepare(tx, orgs);
    int org_count = 0, i, rc = ERR_FAIL;

    *purged = 0;
    if (s != NULL) {
        sql_text(s, 1, after_org);
        sql_int(s, 2, ORGS_PER_CALL);
        rc = sql_read_rows(s, org_ids, sizeof *org_ids, &org_count, read_org_keep);
    }
    for (i = 0; rc == 0 && i < org_count && *purged < max_rows; i++) {
        int64_t days = org_ids[i].retention_days;
        int64_t cutoff = now - (days > 0 ? days * 86400000 : keep_ms);
        rc = purge_org(tx, org_ids[i].id, cutoff, max_rows, purged);
    }
    /* where the next call begins: at the org the budget ran out in (it may have more), after
     * the last one listed, or, past the last org, from the first */
    if (rc == 0 && *purged >= max_rows) {
        if (i >= 2)
            text_copy(after_org, ID_MAX, org_ids[i - 2].id);
    } else if (rc == 0) {
        text_copy(after_org, ID_MAX, org_count == ORGS_PER_CALL ? org_ids[org_count - 1].id : "");
    }
    free(org_ids);
    return rc;
}

static void skip_row(struct sql_stmt *s, void *out)
{
    (void)s;
    (void)out;
}

int store_reclaim(struct store_conn *tx, bool *more)
{
    const char *sql = sql_driver_of(tx)->dialect->reclaim;
    struct sql_stmt *s;
    char no_room; /* the rows are only counted */
    int pages = 0, rc;

    *more = false;
    if (sql == NULL)
        return 0;
    s = sql_prepare(tx, sql);
    if (s == NULL)
        return ERR_FAIL;
    rc = sql_read_rows(s, &no_room, 0, &pages, skip_row);
    *more = rc == 0 && pages >= STORE_RECLAIM_PAGES;
    return rc;
}
