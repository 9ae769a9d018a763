/* Deliveries and their attempts (§2.6): the delivery log, and manual retries. */
#include "api/api.h"

#include "core/mem.h"
#include "core/timeutil.h"
#include "engine/engine.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS_SHOWN 100
#define EVENT_DELIVERIES_SHOWN 250

static json_t *delivery_json(const struct delivery *d)
{
    json_t *obj = json_pack(
        "{s:s, s:s, s:o, s:s, s:s, s:i}", "id", d->id, "event_id", d->event_id, "endpoint_id",
        d->endpoint_id[0] ? json_string(d->endpoint_id) : json_null(), "event_type", d->event_type,
        "status", delivery_status_name(d->status, d->claimed), "attempt_count", d->attempt_count);
    if (d->url)
        json_object_set_new(obj, "url", json_string(d->url));
    json_object_set_new(obj, "next_attempt_at",
                        d->status == DLV_PENDING && d->next_attempt_at != DLV_NEVER_DUE
                            ? api_time(d->next_attempt_at)
                            : json_null()); /* ended, or waiting for its poll consumer */
    json_object_set_new(obj, "last_attempt_at", api_time(d->last_attempt_at));
    json_object_set_new(obj, "last_response_status",
                        d->last_response_status ? json_integer(d->last_response_status)
                                                : json_null());
    json_object_set_new(obj, "last_error",
                        d->last_error[0] ? json_string(d->last_error) : json_null());
    json_object_set_new(obj, "created_at", api_time(d->created_at));
    json_object_set_new(obj, "delivered_at", api_time(d->delivered_at));
    return obj;
}

static json_t *attempt_json(const struct attempt *a)
{
    json_t *obj = json_pack("{s:s, s:i, s:o, s:i}", "id", a->id, "n", a->n, "started_at",
                            api_time(a->started_at), "duration_ms", a->duration_ms);
    json_object_set_new(obj, "response_status",
                        a->response_status ? json_integer(a->response_status) : json_null());
    json_object_set_new(obj, "response_body",
                        a->response_body ? json_string(a->response_body) : json_null());
    json_object_set_new(obj, "response_headers", api_header_object(a->response_headers));
    json_object_set_new(obj, "error", a->error[0] ? json_string(a->error) : json_null());
    json_object_set_new(obj, "request_headers", api_header_object(a->request_headers));
    return obj;
}

/* Reads the list filters of the query into f; answers 400 and returns non-zero if bad. */
static int read_filters(struct api_call *call, struct list_filter *f)
{
    const char *status = http_query(call->http, "status");
    const char *endpoint_id = http_query(call->http, "endpoint_id");
    const char *event_id = http_query(call->http, "event_id");
    struct err e;

    if (api_time_filters(call, f) != 0)
        return ERR_FAIL;
    if (status) {
        f->status = delivery_status_parse(status);
        if (f->status < 0) {
            err_invalid(&e, "status",
                        "status must be pending, in_flight, delivered, failed or exhausted");
            api_fail(call, &e);
            return ERR_FAIL;
        }
    }
    if (endpoint_id)
        text_copy(f->endpoint_id, sizeof f->endpoint_id, endpoint_id);
    if (event_id)
        text_copy(f->event_id, sizeof f->event_id, event_id);
    return 0;
}

/* Lists deliveries of org into a JSON array; NULL after answering a store error. */
static json_t *list_json(struct api_call *call, const char *org_id, const struct list_filter *f,
                         const struct page *page, int *count, int64_t *last_ms, char *last_id)
{
    struct delivery *items = xcalloc((size_t)page->limit + 1, sizeof *items);
    json_t *data = NULL;
    int rc = store_delivery_list(call->conn, org_id, f, page, items, count);
    if (rc != 0) {
        api_fail_store(call, rc, "delivery");
    } else {
        int last = *count > page->limit ? page->limit - 1 : 0;
        data = json_array();
        for (int i = 0; i < *count; i++)
            json_array_append_new(data, delivery_json(&items[i]));
        *last_ms = items[last].created_at;
        memcpy(last_id, items[last].id, ID_MAX);
    }
    for (int i = 0; i < *count; i++)
        free(items[i].url);
    free(items);
    return data;
}

void deliveries_list_for(struct api_call *call, const char *endpoint_id)
{
    struct page page;
    struct org org;
    struct list_filter filter = {.status = -1, .is_active = -1};
    int count = 0;
    int64_t last_ms = 0;
    char last_id[ID_MAX] = "";
    json_t *data;

    if (api_page(call, &page) != 0 || read_filters(call, &filter) != 0 ||
        api_target_org(call, &org) != 0)
        return;
    if (endpoint_id)
        text_copy(filter.endpoint_id, sizeof filter.endpoint_id, endpoint_id);
    data = list_json(call, org.id, &filter, &page, &count, &last_ms, last_id);
    if (data)
        api_reply(call, 200, api_list(data, count, &page, last_ms, last_id));
}

void deliveries_list(struct api_call *call)
{
    deliveries_list_for(call, NULL);
}

json_t *deliveries_of_event(struct api_call *call, const char *org_id, const char *event_id)
{
    struct page page = {.limit = EVENT_DELIVERIES_SHOWN};
    struct list_filter filter = {.status = -1, .is_active = -1};
    int count = 0;
    int64_t last_ms;
    char last_id[ID_MAX];
    json_t *data;
    text_copy(filter.event_id, sizeof filter.event_id, event_id);
    data = list_json(call, org_id, &filter, &page, &count, &last_ms, last_id);
    if (data && count > page.limit)
        json_array_remove(data, (size_t)page.limit);
    return data;
}

void deliveries_get(struct api_call *call)
{
    struct org org;
    struct delivery d = {0};
    struct event ev = {0};
    struct attempt *attempts;
    int count = 0, rc;

    if (api_target_org(call, &org) != 0)
        return;
    rc = store_delivery_get(call->conn, org.id, call->params.value[0], &d);
    if (rc == 0 && !api_endpoint_visible(call, d.endpoint_id)) {
        free(d.url);
        rc = ERR_NOT_FOUND;
    }
    if (rc != 0) {
        api_fail_store(call, rc, "delivery");
        return;
    }
    json_t *obj = delivery_json(&d);
    free(d.url);
    rc = store_event_get(call->conn, org.id, d.event_id, &ev);
    if (rc == 0) {
        json_t *payload = json_loads(ev.payload, JSON_DECODE_ANY, NULL);
        json_object_set_new(obj, "payload", payload ? payload : json_null());
        free(ev.payload);
    } else {
        json_object_set_new(obj, "payload", json_null());
    }
    attempts = xcalloc(MAX_ATTEMPTS_SHOWN, sizeof *attempts);
    rc = store_attempt_list(call->conn, d.id, attempts, MAX_ATTEMPTS_SHOWN, &count);
    json_t *list = json_array();
    for (int i = 0; i < count; i++) {
        json_array_append_new(list, attempt_json(&attempts[i]));
        attempt_clear(&attempts[i]);
    }
    free(attempts);
    json_object_set_new(obj, "attempts", list);
    if (rc != 0) {
        json_decref(obj);
        api_fail_store(call, rc, "delivery");
        return;
    }
    api_reply(call, 200, obj);
}

static int retry_apply(struct store_conn *tx, struct api_call *call)
{
    const char *org_id = call->data;
    const char *id = call->params.value[0];
    int rc = store_delivery_retry(tx, org_id, id, call->app->engine ? call->app->node_id : NULL,
                                  time_now_ms());
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such delivery");
    if (rc == ERR_CONFLICT)
        return err_set(&call->error, 409, "conflict", NULL,
                       "only a failed or exhausted delivery can be retried");
    if (rc != 0)
        return rc;
    call->reply_status = 202;
    call->reply = json_pack("{s:s, s:s}", "id", id, "status", "pending");
    call->after_commit = api_kick_engine;
    return 0;
}

void deliveries_retry(struct api_call *call)
{
    struct org org;
    if (api_target_org(call, &org) != 0)
        return;
    if (call->who.is_portal) { /* only a delivery of an endpoint it shows */
        struct delivery d = {0};
        int rc = store_delivery_get(call->conn, org.id, call->params.value[0], &d);
        free(d.url);
        if (rc == 0 && !api_endpoint_visible(call, d.endpoint_id))
            rc = ERR_NOT_FOUND;
        if (rc != 0) {
            api_fail_store(call, rc, "delivery");
            return;
        }
    }
    api_set_data(call, xstrdup(org.id), NULL);
    api_write(call, retry_apply);
}
