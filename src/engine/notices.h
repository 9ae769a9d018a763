/* Operational webhooks: hookd's own events about an org's webhooks (an endpoint disabled or
 * enabled, a delivery out of attempts, an inbound source failing), sent to the org's
 * operational endpoint through the normal pipeline, so they are signed, retried and logged as
 * any delivery. A notice is a fan-out to the org's operational endpoints only, stored in the
 * write that caused it and handed to the engine after that write commits. */
#ifndef HOOKD_ENGINE_NOTICES_H
#define HOOKD_ENGINE_NOTICES_H

#include "engine/engine.h"
#include "store/store.h"

#include <jansson.h>

#define NOTICE_ENDPOINT_DISABLED "endpoint.disabled"
#define NOTICE_ENDPOINT_ENABLED "endpoint.enabled"
#define NOTICE_DELIVERY_EXHAUSTED "delivery.exhausted"
#define NOTICE_SOURCE_FAILING "source.failing"

/* Rejections in a row that make an inbound source "failing" (told once per streak). */
#define SOURCE_FAILING_AFTER 5

/* Whether pattern (a valid name or prefix.* pattern) names a notice type: what an operational
 * endpoint's events filter may hold, in place of the catalog's types. */
bool notice_pattern_is_known(const char *pattern);

/* The notices of one write, waiting for its commit. Zeroed is empty. */
struct notices {
    struct fanout **items;
    int count, cap;
};

/* In a write: a notice of type with data (a JSON object; the reference is stolen) for org_id,
 * when it has an active operational endpoint subscribed to type. about_endpoint is the
 * endpoint the notice is about (NULL: none): the operational endpoint's own troubles make no
 * notice, as they could only feed themselves. node_id as in fanout_store. */
int notice_store(struct store_conn *tx, struct notices *n, const char *org_id,
                 const char *about_endpoint, const char *type, json_t *data, const char *node_id);
/* After the commit: the notices' deliveries go to eng (NULL: they wait in the store); empties
 * the list. */
void notices_hand_off(struct notices *n, struct engine *eng);
/* Without a commit: drops them. */
void notices_free(struct notices *n);

#endif
