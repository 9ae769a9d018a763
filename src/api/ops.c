/* Operations endpoints (§2.8): liveness and readiness, no auth. */
#include "api/api.h"

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
