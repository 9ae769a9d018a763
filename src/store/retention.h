/* Retention (§4.6) as a background pass: history older than the retention period goes in small
 * batches through the writer, paced so that the purge takes a bounded share of the writer's time
 * and ingest goes on beside it. */
#ifndef HOOKD_STORE_RETENTION_H
#define HOOKD_STORE_RETENTION_H

#include "store/writer.h"

#include <stdint.h>

struct retention;

/* Starts purging history older than keep_ms through w: at once (a store that was away has a
 * backlog), then every few seconds. NULL if its thread cannot start. */
struct retention *retention_start(struct writer *w, int64_t keep_ms);
/* Stops after the batch under way, before the writer stops; NULL is a no-op. */
void retention_stop(struct retention *r);

#endif
