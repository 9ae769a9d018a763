/* Transfers: libcurl easy handles reused from request to request, their callbacks (the
 * response kept for the log, the address check on every socket libcurl opens), the multi
 * handle that drives them, and the classes of transfer errors. One pool per delivery loop;
 * not thread-safe. */
#ifndef HOOKD_ENGINE_TRANSFER_H
#define HOOKD_ENGINE_TRANSFER_H

#include "engine/job.h"
#include "engine/request.h"
#include "engine/urlcheck.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#define RESPONSE_BODY_MAX 1024 /* bytes of a response kept for the log (§4.1) */
#define RESPONSE_HEADERS_MAX 8 /* response headers kept for the log */

struct engine_ping;
struct sched_endpoint;

struct transfer {
    CURL *easy;
    struct engine_job *job;   /* a delivery, or */
    struct engine_ping *ping; /* a ping */
    struct sched_endpoint *ep;
    struct curl_slist *headers; /* into header_block */
    struct header_block header_block;
    struct curl_slist *resolve;                        /* HOOKD_TEST_HOSTS pins, or NULL */
    char response_headers[RESPONSE_HEADERS_MAX * 128]; /* "name: value\n" lines */
    size_t response_headers_len;
    int response_header_count;
    char body[RESPONSE_BODY_MAX + 1];
    size_t body_len;
    char retry_after[64];
    char error_text[CURL_ERROR_SIZE]; /* libcurl's words on a failure, for the debug log */
    bool blocked;                     /* the address check refused the connection */
    bool allow_private;               /* --allow-private, for that check */
    int attempt;
    int64_t started_ms, start_ns;
    struct transfer *next_free;
    struct transfer *prev_active, *next_active; /* while in the multi handle */
};

struct transfer_pool {
    CURLM *multi;
    struct url_policy policy;
    const char *proxy;       /* "" ignores the proxy variables */
    struct curl_blob *ca;    /* the trusted CAs, or NULL for libcurl's default */
    bool test_hosts;         /* HOOKD_TEST_HOSTS is set */
    struct transfer *active; /* transfers in the multi handle */
    struct transfer *free_list;
    int in_flight;
};

/* A pool over multi (owned by the caller); policy, proxy and ca must outlive it. */
void transfer_pool_init(struct transfer_pool *pool, CURLM *multi, const struct url_policy *policy,
                        const char *proxy, struct curl_blob *ca);
/* Frees the idle transfers; none may be active. */
void transfer_pool_free(struct transfer_pool *pool);

/* A transfer ready for its request: headers to set, then transfer_start. */
struct transfer *transfer_get(struct transfer_pool *pool);
/* Adds the request to the multi handle: POST body to url with t->headers. */
void transfer_start(struct transfer_pool *pool, struct transfer *t, const char *url,
                    const struct payload *body, int timeout_ms);
/* Takes an active transfer out of the multi handle (a finished one, or one cut short). */
void transfer_detach(struct transfer_pool *pool, struct transfer *t);
/* A detached transfer back to the idle ones. */
void transfer_put(struct transfer_pool *pool, struct transfer *t);

/* The next finished transfer, detached, with its result and HTTP status (0 if no response), or
 * NULL when none has finished. The caller gives it back with transfer_put. */
struct transfer *transfer_next_done(struct transfer_pool *pool, CURLcode *code, long *status);

/* The error class of a failed transfer, as the delivery log names it (§4.1). */
const char *transfer_error_class(CURLcode code, bool blocked);

#endif
