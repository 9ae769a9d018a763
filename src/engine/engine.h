/* The delivery engine (§4): N delivery loops (--delivery-threads), each a thread driving
 * libcurl's multi interface for the endpoints sharded to it. Work arrives in memory from the
 * writer right after a commit (engine_submit, through fanout.h), or from the store (start-up,
 * replays, retries far in the future, overflow). Results go back to the writer in batches. All
 * functions here are thread-safe unless said otherwise. */
#ifndef HOOKD_ENGINE_ENGINE_H
#define HOOKD_ENGINE_ENGINE_H

#include "core/config.h"
#include "core/err.h"
#include "engine/job.h"
#include "store/store.h"
#include "store/writer.h"

#include <stdbool.h>

/* An ad-hoc signed request (the ping of endpoint creation): not a delivery, not logged. */
struct engine_ping {
    char url[LIMIT_URL_BYTES + 1];
    char secret[SECRET_BYTES];
    char event_id[ID_MAX];
    bool hex_scheme;
    bool ed25519_scheme;
    char *headers_json; /* custom headers object or NULL; owned by the caller */
    int timeout_seconds;
    struct payload *payload; /* the caller's reference, released by the caller */
    /* Called once on an engine thread: http_status 0 when no response came (error says why). */
    void (*done)(struct engine_ping *ping, int http_status, const char *error);
};

struct engine_options {
    const struct config *cfg;
    struct store *store;
    struct writer *writer;
    const char *node_id;
};

struct engine;

struct engine *engine_start(const struct engine_options *opts, struct err *e);
/* Stops dispatching, lets attempts in flight finish for up to 10 s (the rest stay pending in
 * the store), hands the last results to the writer and joins the threads. NULL is a no-op. */
void engine_stop(struct engine *eng);
void engine_free(struct engine *eng);

/* Hands over a list of jobs (linked by ->next) just committed by this node; the engine owns
 * them from here. */
void engine_submit(struct engine *eng, struct engine_job *jobs);
/* The store has new due work for this node (a replay, a manual retry): look for it. */
void engine_kick(struct engine *eng);
/* An endpoint changed (updated, rotated, disabled, deleted): reload it before its next use. */
void engine_endpoint_changed(struct engine *eng, const char *endpoint_id);
/* An org changed (primary secret, scheme) or was deleted: reload all of its endpoints. */
void engine_org_changed(struct engine *eng, const char *org_id);
/* Sends a ping; ping must stay valid until its done() has run. */
void engine_ping(struct engine *eng, struct engine_ping *ping);

#endif
