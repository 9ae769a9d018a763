/* The inbound operations of the SQLite backend (sqlite_inbound.c), for its ops table. */
#ifndef HOOKD_STORE_SQLITE_INBOUND_H
#define HOOKD_STORE_SQLITE_INBOUND_H

#include "store/store.h"

int sq_source_insert(struct store_conn *tx, const struct source *src);
int sq_source_update(struct store_conn *tx, const struct source *src);
int sq_source_get(struct store_conn *c, const char *org_id, const char *id, struct source *out);
int sq_source_list(struct store_conn *c, const char *org_id, const struct page *page,
                   struct source *out, int *count);
int sq_source_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now);
int sq_inbound_insert(struct store_conn *tx, const struct inbound_message *m);
int sq_inbound_get(struct store_conn *c, const char *org_id, const char *id,
                   struct inbound_message *out);
int sq_inbound_list(struct store_conn *c, const char *org_id, const char *source_id,
                    const char *status, const struct page *page, struct inbound_message *out,
                    int *count);
int sq_inbound_seen(struct store_conn *tx, const char *source_id, const char *dedupe_key,
                    int64_t since);

#endif
