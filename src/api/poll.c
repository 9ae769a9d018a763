/* Pull delivery (issue 17): a `poll` endpoint has no URL; its consumer reads
 * GET /v1/endpoints/{id}/poll?cursor=&limit= with the endpoint's own token, and gets the
 * envelopes in order with the cursor to send next. Sending a cursor marks what was handed out up
 * to it delivered; what was not acknowledged is handed out again, so nothing is lost while the
 * consumer is away (a pending delivery outlives retention). */
#include "api/api.h"

#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

#define POLL_DEFAULT_LIMIT 50
#define POLL_MAX_LIMIT 250

struct poll_request {
    char endpoint_id[ID_MAX];
    char cursor[ID_MAX]; /* "" for none */
    int limit;
};

static int poll_apply(struct store_conn *tx, struct api_call *call)
{
    struct poll_request *req = call->data;
    struct polled *rows = xcalloc((size_t)req->limit, sizeof *rows);
    const char *next = req->cursor[0] ? req->cursor : NULL;
    json_t *data = json_array();
    int count = 0;
    int rc = store_poll(tx, req->endpoint_id, next, time_now_ms(), rows, req->limit, &count);

    for (int i = 0; i < count; i++) {
        json_t *envelope = json_loads(rows[i].payload, 0, NULL);
        json_array_append_new(data, envelope ? envelope : json_null());
        if (next == NULL || strcmp(rows[i].delivery_id, next) > 0)
            next = rows[i].delivery_id;
        free(rows[i].payload);
    }
    if (rc == 0) {
        call->reply_status = 200;
        call->reply = json_pack("{s:o, s:o}", "data", data, "next_cursor",
                                next ? json_string(next) : json_null());
    } else {
        json_decref(data);
    }
    free(rows);
    return rc;
}

void endpoints_poll(struct api_call *call)
{
    const char *cursor = http_query(call->http, "cursor");
    const char *limit = http_query(call->http, "limit");
    struct poll_request *req;
    struct err e;
    char *end = NULL;
    long n = limit ? strtol(limit, &end, 10) : POLL_DEFAULT_LIMIT;

    if (strcmp(call->who.key_id, call->params.value[0]) != 0) {
        err_set(&e, 404, "not_found", NULL, "no such endpoint"); /* another endpoint's token */
        api_fail(call, &e);
        return;
    }
    if (limit && (end == limit || *end != '\0' || n < 1 || n > POLL_MAX_LIMIT)) {
        err_invalid(&e, "limit", "limit must be 1 to %d", POLL_MAX_LIMIT);
        api_fail(call, &e);
        return;
    }
    if (cursor && !id_is_valid(cursor, "dlv_")) {
        err_invalid(&e, "cursor", "cursor must be the next_cursor of the last answer");
        api_fail(call, &e);
        return;
    }
    req = xcalloc(1, sizeof *req);
    api_set_data(call, req, NULL);
    text_copy(req->endpoint_id, sizeof req->endpoint_id, call->params.value[0]);
    text_copy(req->cursor, sizeof req->cursor, cursor ? cursor : "");
    req->limit = (int)n;
    api_write(call, poll_apply);
}
