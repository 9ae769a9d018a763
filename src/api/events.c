/* Events (§2.5): accepted once, stored with all their deliveries in one transaction shared
 * with whatever else is waiting (group commit), then handed to the engine in memory. */
#include "api/api.h"

#include "core/eventname.h"
#include "core/jsonspan.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "engine/fanout.h"
#include "engine/urlcheck.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENDPOINT_IDS 100
#define PRODUCER_ID_MAX 64

/* The answer to an accepted event, formatted directly: it is on the ingest path, where building
 * and encoding a JSON tree cost more than the rest of the answer. The id and the type are
 * checked against character sets that need no escaping. */
static char *accepted_text(const struct event *ev)
{
    char ts[TIME_RFC3339_LEN];
    time_format_rfc3339(ev->created_at, ts);
    return xasprintf("{\"id\":\"%s\",\"type\":\"%s\",\"created_at\":\"%s\",\"deliveries\":%d}",
                     ev->id, ev->type, ts, ev->delivery_count);
}

const char *api_engine_node(const struct app *app)
{
    return app->engine ? app->node_id : NULL;
}

static void hand_off(struct api_call *call)
{
    if (call->reply_status == 202) /* not a producer id's replay */
        metrics_events_accepted(1);
    fanout_hand_off(call->data, call->app->engine);
}

static int create_apply(struct store_conn *tx, struct api_call *call)
{
    struct fanout *d = call->data;
    const struct event *ev = fanout_event(d);
    int rc;

    if (fanout_has_producer_id(d)) {
        struct event original = {0};
        rc = store_event_get(tx, ev->org_id, ev->id, &original);
        if (rc == 0) { /* seen before: the original, nothing new */
            call->reply_status = 200;
            call->reply_text = accepted_text(&original);
            free(original.payload);
            return 0;
        }
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    rc = fanout_store(tx, d, api_engine_node(call->app), &call->error);
    if (rc != 0)
        return rc;
    call->reply_status = 202;
    call->reply_text = accepted_text(ev);
    call->after_commit = hand_off;
    return 0;
}

static const struct jsonv_field create_fields[] = {
    {"type", JSONV_STRING, true, false, EVENT_NAME_MAX, 0},
    {"data", JSONV_ANY, true, false, 0, 0},
    {"id", JSONV_STRING, false, false, PRODUCER_ID_MAX, 0},
    {"endpoint_ids", JSONV_STRING_ARRAY, false, false, ID_MAX - 1, MAX_ENDPOINT_IDS},
    {"ordering_key", JSONV_STRING, false, false, LIMIT_NAME_CHARS, 0},
    {"webhook_url", JSONV_URL, false, false, 0, 0},
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    {NULL, 0, false, false, 0, 0},
};

static bool producer_id_is_valid(const char *id)
{
    size_t len = strlen(id);
    if (len == 0 || len > PRODUCER_ID_MAX)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    return true;
}

/* The event's data as the producer sent it (checked by jansson already), made compact: stored
 * and signed with its numbers and escapes as they were written, so that 0.1 stays 0.1 and no
 * dump of it is paid for on the ingest path. */
static char *producer_data(struct api_call *call)
{
    size_t len, start, n;
    const char *body = http_body(call->http, &len);
    if (body && json_member_span(body, len, "data", &start, &n)) {
        char *data = xmalloc(n + 1);
        data[json_compact_copy(body + start, n, data)] = '\0';
        return data;
    }
    return json_dumps(json_object_get(call->body, "data"), JSON_COMPACT | JSON_ENCODE_ANY |
                                                               JSON_PRESERVE_ORDER |
                                                               JSON_REAL_PRECISION(17));
}

void events_create(struct api_call *call)
{
    struct fanout *d;
    struct org org;
    struct url_policy policy = {call->app->cfg->allow_http, call->app->cfg->allow_private};
    const char *type, *id = NULL;
    json_t *value;
    char *data;
    struct err e;

    if (api_check_body(call, create_fields) != 0)
        return;
    type = json_string_value(json_object_get(call->body, "type"));
    if (!event_name_is_valid(type)) {
        err_invalid(&e, "type", "type must match [a-z0-9_]+(.[a-z0-9_]+)*, at most 100 characters");
        goto fail;
    }
    if ((value = json_object_get(call->body, "id")) != NULL) {
        id = json_string_value(value);
        if (!producer_id_is_valid(id)) {
            err_invalid(&e, "id", "id must be 1 to 64 characters of [A-Za-z0-9_-]");
            goto fail;
        }
    }
    value = json_object_get(call->body, "webhook_url");
    if (value && url_check(json_string_value(value), &policy, "webhook_url", &e) != 0)
        goto fail;
    if (api_target_org(call, &org) != 0)
        return;
    data = producer_data(call);
    if (data == NULL) {
        err_invalid(&e, "data", "data cannot be serialized");
        goto fail;
    }
    d = fanout_new(org.id, id, type, data);
    api_set_data(call, d, fanout_free);
    free(data);
    fanout_set_ordering_key(d, json_string_value(json_object_get(call->body, "ordering_key")));
    fanout_set_targets(d, json_object_get(call->body, "endpoint_ids"),
                       value ? json_string_value(value) : NULL);
    fanout_set_data_json(d, json_object_get(call->body, "data"));
    api_write(call, create_apply);
    return;
fail:
    api_fail(call, &e);
}

static int test_apply(struct store_conn *tx, struct api_call *call)
{
    struct fanout *d = call->data;
    int rc = fanout_store(tx, d, api_engine_node(call->app), &call->error);
    if (rc != 0)
        return rc;
    call->reply_status = 202;
    call->reply = json_pack("{s:s, s:s}", "delivery_id", fanout_first_delivery(d), "event_id",
                            fanout_event(d)->id);
    call->after_commit = hand_off;
    return 0;
}

void events_emit_test(struct api_call *call, const struct endpoint *ep, const char *type,
                      const char *data)
{
    struct fanout *d;
    /* before the draft replaces the call's data, where ep may live */
    d = fanout_new(ep->org_id, NULL, type, data);
    fanout_set_test_endpoint(d, ep->id, ep->is_poll);
    api_set_data(call, d, fanout_free);
    api_write(call, test_apply);
}

/* --- reading --- */

static json_t *event_json(const struct event *ev, bool with_payload)
{
    json_t *obj = json_pack("{s:s, s:s, s:o, s:i}", "id", ev->id, "type", ev->type, "created_at",
                            api_time(ev->created_at), "delivery_count", ev->delivery_count);
    if (with_payload) {
        json_t *payload = json_loads(ev->payload, JSON_DECODE_ANY, NULL);
        json_object_set_new(obj, "payload", payload ? payload : json_null());
    }
    return obj;
}

/* Reads ?since= and ?until= (RFC 3339) into f; answers 400 and returns non-zero if bad. */
int api_time_filters(struct api_call *call, struct list_filter *f)
{
    const char *names[] = {"since", "until"};
    int64_t *targets[] = {&f->since, &f->until};
    struct err e;
    for (int i = 0; i < 2; i++) {
        const char *text = http_query(call->http, names[i]);
        if (text && !time_parse_rfc3339(text, targets[i])) {
            err_invalid(&e, names[i], "%s must be an RFC 3339 timestamp", names[i]);
            api_fail(call, &e);
            return ERR_FAIL;
        }
    }
    return 0;
}

void events_list(struct api_call *call)
{
    struct page page;
    struct org org;
    struct list_filter filter = {.status = -1, .is_active = -1};
    const char *type = http_query(call->http, "type");
    struct event *items;
    int count = 0, rc;

    if (api_page(call, &page) != 0 || api_time_filters(call, &filter) != 0 ||
        api_target_org(call, &org) != 0)
        return;
    if (type)
        text_copy(filter.type, sizeof filter.type, type);
    items = xcalloc((size_t)page.limit + 1, sizeof *items);
    rc = store_event_list(call->conn, org.id, &filter, &page, items, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "event");
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(data, event_json(&items[i], true));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(data, count, &page, items[last].created_at, items[last].id));
    }
    for (int i = 0; i < count; i++)
        free(items[i].payload);
    free(items);
}

void events_get(struct api_call *call)
{
    struct org org;
    struct event ev = {0};
    int rc;
    if (api_target_org(call, &org) != 0)
        return;
    rc = store_event_get(call->conn, org.id, call->params.value[0], &ev);
    if (rc != 0) {
        api_fail_store(call, rc, "event");
        return;
    }
    json_t *obj = event_json(&ev, true);
    free(ev.payload);
    json_t *deliveries = deliveries_of_event(call, org.id, ev.id);
    if (deliveries == NULL) {
        json_decref(obj);
        return;
    }
    json_object_set_new(obj, "deliveries", deliveries);
    api_reply(call, 200, obj);
}
