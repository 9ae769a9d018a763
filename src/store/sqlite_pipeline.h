/* The pipeline operations of the SQLite backend (sqlite_pipeline.c), for its ops table. */
#ifndef HOOKD_STORE_SQLITE_PIPELINE_H
#define HOOKD_STORE_SQLITE_PIPELINE_H

#include "store/store.h"

int sq_event_type_insert(struct store_conn *tx, const struct event_type *et);
int sq_event_type_get(struct store_conn *c, const char *name, struct event_type *out);
int sq_event_type_list(struct store_conn *c, const struct page *page, struct event_type *out,
                       int *count);
int sq_event_type_update(struct store_conn *tx, const struct event_type *et);
int sq_event_type_delete(struct store_conn *tx, const char *name);
int sq_event_type_count_prefix(struct store_conn *c, const char *prefix, long *count);
int sq_endpoint_insert(struct store_conn *tx, const struct endpoint *ep);
int sq_endpoint_update(struct store_conn *tx, const struct endpoint *ep);
int sq_endpoint_get(struct store_conn *c, const char *org_id, const char *id, struct endpoint *out);
int sq_endpoint_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct endpoint *out, int *count);
int sq_endpoint_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now);
int sq_endpoint_fanout(struct store_conn *tx, const char *org_id, const struct fanout_list **out);
int sq_event_insert(struct store_conn *tx, const struct event *ev);
int sq_event_get(struct store_conn *c, const char *org_id, const char *id, struct event *out);
int sq_event_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                  const struct page *page, struct event *out, int *count);
int sq_delivery_insert(struct store_conn *tx, const struct delivery *d, const char *node_id);
int sq_delivery_get(struct store_conn *c, const char *org_id, const char *id, struct delivery *out);
int sq_delivery_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct delivery *out, int *count);
int sq_attempt_list(struct store_conn *c, const char *delivery_id, struct attempt *out, int max,
                    int *count);
int sq_delivery_record(struct store_conn *tx, struct attempt_outcome *o, int64_t now);
int sq_delivery_retry(struct store_conn *tx, const char *org_id, const char *id,
                      const char *node_id, int64_t now);
int sq_delivery_replay(struct store_conn *tx, const char *org_id, const char *endpoint_id,
                       int64_t since, int64_t until, unsigned statuses, const char *node_id,
                       int64_t now, long *queued);
int sq_delivery_claim_all(struct store_conn *tx, const char *node_id);
int sq_delivery_release(struct store_conn *tx, const char *node_id);
int sq_delivery_due(struct store_conn *c, const char *node_id, int64_t due, int64_t after_ms,
                    const char *after_id, struct due_delivery *out, int max, int *count);

#endif
