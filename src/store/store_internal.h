/* Shared by the store's rules (store_*.c); drivers only call store_conn_clear. */
#ifndef HOOKD_STORE_STORE_INTERNAL_H
#define HOOKD_STORE_STORE_INTERNAL_H

#include "store/store.h"

/* Empties the connection's cached fan-out lists: after a write to endpoints, a rollback, or
 * (where nodes share the database) a new transaction. */
void fanout_cache_forget(struct store_conn *c);
/* Frees what the rules keep on a connection; a driver calls it as it closes one. */
void store_conn_clear(struct store_conn *c);

/* Ends the pending deliveries of an endpoint with status and error. */
int end_pending(struct store_conn *tx, const char *endpoint_id, enum delivery_status status,
                const char *error);

/* The open transaction makes work no node holds, due from due: the other nodes are woken when
 * it commits, and look from there. */
void store_notify_from(struct store_conn *tx, int64_t due);

/* Nodes sharing a database write their stats in one of this many shards each (store.c). */
#define STATS_SHARDS 64
/* Counts the outcomes in their endpoints' stats, in the transaction that records them. */
int stats_count_outcomes(struct store_conn *tx, const struct attempt_outcome *outcomes, int count,
                         int64_t now);

#endif
