/* The fan-out of an event: the one way work enters the pipeline, for every producer (the API's
 * events, inbound sources, test sends). A draft is built on the producer's thread, stored with
 * its deliveries inside a write (group commit), and handed to this node's engine after the
 * commit, so that nothing outside the engine builds its jobs. */
#ifndef HOOKD_ENGINE_FANOUT_H
#define HOOKD_ENGINE_FANOUT_H

#include "core/err.h"
#include "engine/engine.h"
#include "store/store.h"

#include <jansson.h>

struct fanout;

/* A new event of org_id: id NULL mints one (else the producer's, deduped by the caller); data
 * is the JSON text of the payload's data, put in the envelope as it is. */
struct fanout *fanout_new(const char *org_id, const char *id, const char *type, const char *data);
/* NULL is a no-op; takes void * to serve as a call's data destructor. */
void fanout_free(void *fanout);
const struct event *fanout_event(const struct fanout *f);
/* Whether the event's id is the producer's own (to dedupe on). */
bool fanout_has_producer_id(const struct fanout *f);
/* The id of the first delivery stored, "" before any. */
const char *fanout_first_delivery(const struct fanout *f);

/* Restricts the fan-out to these endpoints (a JSON array of ids; a reference is taken)
 * instead of the org's subscriptions, and adds a one-shot delivery to url (copied) if not NULL. */
void fanout_set_targets(struct fanout *f, json_t *endpoint_ids, const char *url);
/* The producer's parsed data (a reference is taken; it must not change while the draft lives),
 * which payload filters then read instead of parsing the envelope again in the writer. */
void fanout_set_data_json(struct fanout *f, json_t *data);
/* Makes it a test send: one delivery to endpoint_id, whatever its state and subscriptions
 * (poll: the endpoint's consumer reads it). */
void fanout_set_test_endpoint(struct fanout *f, const char *endpoint_id, bool poll);

/* The event's ordering key (issue 17): a fifo endpoint delivers one of each key at a time, in
 * order; NULL or "" is the endpoint's one key. */
void fanout_set_ordering_key(struct fanout *f, const char *key);

/* Makes it one of hookd's operational notices (engine/notices.h): to the org's operational
 * endpoints that subscribe to its type, never to its other endpoints. */
void fanout_set_operational(struct fanout *f);

/* In a write: the deliveries of every matching endpoint, then the event. node_id claims them
 * for this node's engine (NULL when the node runs none: they wait in the store). An unknown
 * endpoint id is a validation error on endpoint_ids. */
int fanout_store(struct store_conn *tx, struct fanout *f, const char *node_id, struct err *e);
/* After the commit: the new deliveries go to the engine (NULL: none on this node). */
void fanout_hand_off(struct fanout *f, struct engine *eng);

#endif
