/* The delivery engine (§4): one dispatcher thread driving libcurl's multi interface. Work
 * arrives in memory from the writer right after a commit (engine_submit), or from the store
 * (start-up, replays, retries far in the future, overflow). Results go back to the writer in
 * batches. All functions here are thread-safe unless said otherwise. */
#ifndef HOOKD_ENGINE_ENGINE_H
#define HOOKD_ENGINE_ENGINE_H

#include "core/config.h"
#include "core/err.h"
#include "store/store.h"
#include "store/writer.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>

/* An envelope shared by every delivery of one event (sent byte-identical to each). */
struct payload {
    atomic_int refs;
    char *event_type; /* owned */
    size_t len;
    char data[];
};

/* A copy of data[0..len) with one reference. */
struct payload *payload_new(const char *data, size_t len, const char *event_type);
struct payload *payload_retain(struct payload *p);
/* Drops a reference; NULL is a no-op. */
void payload_release(struct payload *p);

/* One delivery in the engine's memory. */
struct engine_job {
    char id[ID_MAX];
    char org_id[ID_MAX];
    char event_id[ID_MAX];
    char endpoint_id[ID_MAX]; /* "" for a one-shot delivery */
    char *url;                /* one-shot URL; owned */
    int attempt_count;        /* attempts made so far */
    int schedule_start;
    int64_t due; /* ms */
    struct payload *payload;
    struct engine_job *next;      /* list and queue link */
    struct engine_job *hash_next; /* the engine's index of known jobs */
};

/* A new job (one payload reference taken). */
struct engine_job *engine_job_new(const char *id, const char *org_id, const char *event_id,
                                  const char *endpoint_id, const char *url, struct payload *payload,
                                  int64_t due);
void engine_job_free(struct engine_job *job);

/* An ad-hoc signed request (the ping of endpoint creation): not a delivery, not logged. */
struct engine_ping {
    char url[LIMIT_URL_BYTES + 1];
    char secret[SECRET_BYTES];
    char event_id[ID_MAX];
    bool hex_scheme;
    char *headers_json; /* custom headers object or NULL; owned by the caller */
    int timeout_seconds;
    struct payload *payload; /* the caller's reference, released by the caller */
    /* Called once on the engine thread: http_status 0 when no response came (error says why). */
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
 * the store), hands the last results to the writer and joins the thread. NULL is a no-op. */
void engine_stop(struct engine *eng);
void engine_free(struct engine *eng);

/* Hands over a list of jobs (linked by ->next) just committed by this node. */
void engine_submit(struct engine *eng, struct engine_job *jobs);
/* The store has new due work for this node (a replay, a manual retry): look for it. */
void engine_kick(struct engine *eng);
/* An endpoint changed (updated, rotated, disabled, deleted): reload it before its next use. */
void engine_endpoint_changed(struct engine *eng, const char *endpoint_id);
/* An org changed (primary secret, scheme) or was deleted: reload all of its endpoints. */
void engine_org_changed(struct engine *eng, const char *org_id);
/* Sends a ping; ping must stay valid until its done() has run. */
void engine_ping(struct engine *eng, struct engine_ping *ping);

/* The fixed and signature headers of one request (§3), as "Name: value" lines appended to
 * list (curl_slist), and into json when not NULL. Exposed for the tests. */
#include <curl/curl.h>
struct sign_input {
    const char *event_id, *event_type, *delivery_id;
    int attempt;
    long long timestamp;
    const char *body;
    size_t body_len;
    bool hex_scheme;
    const char *secret;
    const char *previous_secret; /* NULL or "" when not rotating */
    const char *custom_lines;    /* "Name: value\n" lines, or NULL */
};
/* The headers of one request, built without allocating: list nodes and text live here. */
#define HEADER_BLOCK_NODES 40
#define HEADER_BLOCK_TEXT (24 * 1024)
struct header_block {
    struct curl_slist nodes[HEADER_BLOCK_NODES];
    char text[HEADER_BLOCK_TEXT];
    size_t used;
    int count;
};
/* Fills block and returns its list (NULL-terminated through ->next). */
struct curl_slist *engine_request_headers(const struct sign_input *in, struct header_block *block);

/* A custom headers object (JSON text, as endpoints store it) as "Name: value\n" lines;
 * NULL if there are none. free() it. */
char *header_lines_from_json(const char *json);
/* The lines of a header list, "Name: value\n" each, for the delivery log. free() it. */
char *header_lines_of(const struct curl_slist *list);

#endif
