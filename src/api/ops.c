/* Operations endpoints (§2.8): liveness, readiness, metrics and the OpenAPI document, no auth. */
#include "api/api.h"

#include "api/embedded.h"

#include "core/metrics.h"
#include "core/timeutil.h"
#include "hookd/hookd.h"

#include <stdio.h>
#include <stdlib.h>

void ops_healthz(struct api_call *call)
{
    api_reply(call, 200, json_pack("{s:s}", "status", "ok"));
}

void ops_readyz(struct api_call *call)
{
    struct store_conn *conn = api_conn(call);
    if (conn == NULL)
        return;
    bool stopping = atomic_load(&call->app->stopping);
    bool reachable = stopping || store_ping(conn) == 0;
    if (stopping || !reachable || writer_failing(call->app->writer)) {
        struct err e;
        err_set(&e, 503, "unavailable", NULL,
                stopping    ? "the server is stopping"
                : reachable ? "the store cannot commit (disk full, database away)"
                            : "the store is not reachable");
        api_fail(call, &e);
        return;
    }
    api_reply(call, 200, json_pack("{s:s}", "status", "ready"));
}

/* Prometheus text: the process's counters, and the gauges the store answers for (left out
 * when it cannot). Scraped every few seconds: each store query reads an index only. */
void ops_metrics(struct api_call *call)
{
    static const char content_type[] = "text/plain; version=0.0.4; charset=utf-8";
    char names[METRICS_ROUTES][96];
    const char *name_of[METRICS_ROUTES];
    struct metrics_gauges g = {.route_names = name_of,
                               .queue_depth = -1,
                               .oldest_due_seconds = -1,
                               .endpoints_disabled = -1,
                               .version = HOOKD_VERSION_STRING};
    struct store_conn *conn = store_acquire(call->app->store);
    struct queue_stats queue;
    char *text = NULL;
    size_t len = 0;
    FILE *out;

    for (; g.route_count < METRICS_ROUTES && api_routes[g.route_count].method; g.route_count++) {
        const struct api_route *r = &api_routes[g.route_count];
        snprintf(names[g.route_count], sizeof names[0], "%s %s", r->method, r->pattern);
        name_of[g.route_count] = names[g.route_count];
    }
    if (conn != NULL && store_queue_stats(conn, &queue) == 0) {
        int64_t now = time_now_ms();
        g.queue_depth = queue.pending;
        g.oldest_due_seconds = queue.oldest_due < now ? (double)(now - queue.oldest_due) / 1e3 : 0;
    }
    if (conn != NULL && store_endpoints_inactive(conn, &g.endpoints_disabled) != 0)
        g.endpoints_disabled = -1;
    g.store_ready = conn != NULL && store_ping(conn) == 0 && !writer_failing(call->app->writer);
    store_release(conn);
    out = open_memstream(&text, &len);
    if (out == NULL) {
        struct err e;
        err_internal(&e, "cannot write the metrics");
        api_fail(call, &e);
        return;
    }
    metrics_write(out, &g);
    fclose(out);
    http_reply_text(call->http, 200, content_type, text, len);
    free(text);
}

/* The document as compiled in: the bytes of src/api/openapi.json, which the tests compare. */
void ops_openapi(struct api_call *call)
{
    const struct embedded_file *doc = &api_openapi[0];
    http_reply_text(call->http, 200, "application/json", (const char *)doc->data, doc->len);
}
