/* Events (§2.5): accepted once, stored with all their deliveries in one transaction shared
 * with whatever else is waiting (group commit), then handed to the engine in memory. */
#include "api/api.h"

#include "core/eventname.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "engine/engine.h"
#include "engine/urlcheck.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ENDPOINT_IDS 100
#define PRODUCER_ID_MAX 64

struct event_draft {
    struct event ev;
    bool producer_id;        /* ev.id came from the producer: dedupe on it */
    json_t *endpoint_ids;    /* restricts the fan-out; NULL = subscriptions */
    char *webhook_url;       /* a one-shot delivery, or NULL */
    struct payload *payload; /* shared by the engine's jobs */
    struct engine_job *jobs; /* built in the transaction, handed over after commit */
    char first_delivery[ID_MAX];
};

void event_draft_free(void *ptr)
{
    struct event_draft *d = ptr;
    if (d == NULL)
        return;
    while (d->jobs) {
        struct engine_job *next = d->jobs->next;
        engine_job_free(d->jobs);
        d->jobs = next;
    }
    payload_release(d->payload);
    json_decref(d->endpoint_ids);
    free(d->webhook_url);
    free(d->ev.payload);
    free(d);
}

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

void event_draft_hand_off(struct app *app, struct event_draft *d)
{
    if (app->engine && d->jobs) {
        engine_submit(app->engine, d->jobs);
        d->jobs = NULL; /* the engine's now; otherwise event_draft_free frees them */
    }
}

static void hand_off(struct api_call *call)
{
    event_draft_hand_off(call->app, call->data);
}

const struct event *event_draft_event(const struct event_draft *d)
{
    return &d->ev;
}

/* Adds one pending delivery (and its engine job) for this event. */
static int add_delivery(struct store_conn *tx, struct app *app, struct event_draft *d,
                        const char *endpoint_id, const char *url)
{
    struct delivery row = {0};
    const char *node = app->engine ? app->node_id : NULL;
    int rc;

    delivery_fresh(&row, d->ev.org_id, endpoint_id, d->ev.created_at);
    memcpy(row.event_id, d->ev.id, sizeof row.event_id);
    row.url = (char *)url;
    memcpy(row.event_type, d->ev.type, sizeof row.event_type);
    rc = store_ops_of(tx)->delivery_insert(tx, &row, node);
    if (rc != 0)
        return rc;
    if (d->first_delivery[0] == '\0')
        memcpy(d->first_delivery, row.id, sizeof d->first_delivery);
    d->ev.delivery_count++;
    if (node) {
        struct engine_job *job = engine_job_new(row.id, row.org_id, row.event_id, endpoint_id, url,
                                                d->payload, row.next_attempt_at);
        job->next = d->jobs;
        d->jobs = job;
    }
    return 0;
}

/* Adds the deliveries of the event: endpoint_ids, or the subscriptions, and webhook_url. */
static int fan_out(struct store_conn *tx, struct app *app, struct event_draft *d, struct err *e)
{
    int rc = 0;

    if (d->endpoint_ids) {
        size_t i;
        json_t *item;
        json_array_foreach(d->endpoint_ids, i, item)
        {
            struct endpoint ep = {0};
            rc = store_ops_of(tx)->endpoint_get(tx, d->ev.org_id, json_string_value(item), &ep);
            if (rc == ERR_NOT_FOUND)
                return err_invalid(e, "endpoint_ids", "no endpoint %.80s in this org",
                                   json_string_value(item));
            if (rc != 0)
                return rc;
            bool active = ep.is_active;
            endpoint_clear(&ep);
            if (active && (rc = add_delivery(tx, app, d, json_string_value(item), NULL)) != 0)
                return rc;
        }
    } else {
        const struct fanout_list *list;
        rc = store_ops_of(tx)->endpoint_fanout(tx, d->ev.org_id, &list);
        for (int i = 0; rc == 0 && i < list->count; i++)
            if (event_filter_matches(list->items[i].events, d->ev.type))
                rc = add_delivery(tx, app, d, list->items[i].id, NULL);
        if (rc != 0)
            return rc;
    }
    if (d->webhook_url)
        rc = add_delivery(tx, app, d, NULL, d->webhook_url);
    return rc;
}

int event_draft_store(struct store_conn *tx, struct app *app, struct event_draft *d, struct err *e)
{
    int rc = fan_out(tx, app, d, e);
    return rc ? rc : store_ops_of(tx)->event_insert(tx, &d->ev);
}

static int create_apply(struct store_conn *tx, struct api_call *call)
{
    struct event_draft *d = call->data;
    int rc;

    if (d->producer_id) {
        struct event original = {0};
        rc = store_ops_of(tx)->event_get(tx, d->ev.org_id, d->ev.id, &original);
        if (rc == 0) { /* seen before: the original, nothing new */
            call->reply_status = 200;
            call->reply_text = accepted_text(&original);
            free(original.payload);
            return 0;
        }
        if (rc != ERR_NOT_FOUND)
            return rc;
    }
    rc = event_draft_store(tx, call->app, d, &call->error);
    if (rc != 0)
        return rc;
    call->reply_status = 202;
    call->reply_text = accepted_text(&d->ev);
    call->after_commit = hand_off;
    return 0;
}

static const struct jsonv_field create_fields[] = {
    {"type", JSONV_STRING, true, false, EVENT_NAME_MAX, 0},
    {"data", JSONV_ANY, true, false, 0, 0},
    {"id", JSONV_STRING, false, false, PRODUCER_ID_MAX, 0},
    {"endpoint_ids", JSONV_STRING_ARRAY, false, false, ID_MAX - 1, MAX_ENDPOINT_IDS},
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

/* The envelope (§2.5), built once and sent byte-identical on every attempt: the producer's
 * data re-serialized compactly. id and type hold no characters that need escaping. */
static char *build_envelope(const char *id, const char *type, int64_t created_at, const char *data,
                            size_t *len)
{
    char ts[TIME_RFC3339_LEN];
    size_t size = strlen(id) + strlen(type) + strlen(data) + 80;
    char *out = xmalloc(size);
    time_format_rfc3339(created_at, ts);
    *len = (size_t)snprintf(out, size,
                            "{\"id\":\"%s\",\"type\":\"%s\",\"timestamp\":\"%s\","
                            "\"data\":%s}",
                            id, type, ts, data);
    return out;
}

struct event_draft *event_draft_new(const char *org_id, const char *id, const char *type,
                                    const char *data)
{
    struct event_draft *d = xcalloc(1, sizeof *d);
    size_t len;
    d->ev.created_at = time_now_ms();
    text_copy(d->ev.org_id, sizeof d->ev.org_id, org_id);
    if (id) {
        text_copy(d->ev.id, sizeof d->ev.id, id);
        d->producer_id = true;
    } else {
        id_make("evt_", d->ev.created_at, d->ev.id);
    }
    text_copy(d->ev.type, sizeof d->ev.type, type);
    d->ev.payload = build_envelope(d->ev.id, type, d->ev.created_at, data, &len);
    d->payload = payload_new(d->ev.payload, len, type);
    return d;
}

void events_create(struct api_call *call)
{
    struct event_draft *d;
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
    data =
        json_dumps(json_object_get(call->body, "data"),
                   JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (data == NULL) {
        err_invalid(&e, "data", "data cannot be serialized");
        goto fail;
    }
    d = event_draft_new(org.id, id, type, data);
    api_set_data(call, d, event_draft_free);
    free(data);
    if (value)
        d->webhook_url = xstrdup(json_string_value(value));
    if ((value = json_object_get(call->body, "endpoint_ids")) != NULL)
        d->endpoint_ids = json_incref(value);
    api_write(call, create_apply);
    return;
fail:
    api_fail(call, &e);
}

static int test_apply(struct store_conn *tx, struct api_call *call)
{
    struct event_draft *d = call->data;
    int rc =
        add_delivery(tx, call->app, d, json_string_value(json_array_get(d->endpoint_ids, 0)), NULL);
    if (rc == 0)
        rc = store_ops_of(tx)->event_insert(tx, &d->ev);
    if (rc != 0)
        return rc;
    call->reply_status = 202;
    call->reply = json_pack("{s:s, s:s}", "delivery_id", d->first_delivery, "event_id", d->ev.id);
    call->after_commit = hand_off;
    return 0;
}

void events_emit_test(struct api_call *call, const char *org_id, const char *endpoint_id,
                      const char *type, const char *data)
{
    char org[ID_MAX], endpoint[ID_MAX];
    struct event_draft *d;
    /* copies first: the arguments may live in the call's data, which the draft replaces */
    text_copy(org, sizeof org, org_id);
    text_copy(endpoint, sizeof endpoint, endpoint_id);
    d = event_draft_new(org, NULL, type, data);
    api_set_data(call, d, event_draft_free);
    d->endpoint_ids = json_pack("[s]", endpoint);
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
    rc = store_ops_of(call->conn)->event_list(call->conn, org.id, &filter, &page, items, &count);
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
    rc = store_ops_of(call->conn)->event_get(call->conn, org.id, call->params.value[0], &ev);
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
