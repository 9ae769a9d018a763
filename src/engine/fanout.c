/* The fan-out of an event into deliveries and engine jobs (see fanout.h). */
#include "engine/fanout.h"

#include "core/eventname.h"
#include "core/filter.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fanout {
    struct event ev;
    bool producer_id;           /* ev.id came from the producer */
    json_t *endpoint_ids;       /* restricts the fan-out; NULL = subscriptions */
    char *webhook_url;          /* a one-shot delivery, or NULL */
    char test_endpoint[ID_MAX]; /* a test send's one endpoint, or "" */
    bool test_poll;             /* that endpoint is read by its consumer */
    bool operational;           /* a notice: to the operational endpoints only */
    struct payload *payload;    /* shared by the engine's jobs */
    json_t *data;               /* the producer's parsed data, or NULL (then filters parse) */
    json_t *envelope;           /* the envelope as JSON, for payload filters; NULL until one asks */
    struct engine_job *jobs;    /* built in the transaction, handed over after commit */
    char first_delivery[ID_MAX];
};

/* The envelope (§2.5), built once and sent byte-identical on every attempt. id and type hold
 * no characters that need escaping. */
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

struct fanout *fanout_new(const char *org_id, const char *id, const char *type, const char *data)
{
    struct fanout *f = xcalloc(1, sizeof *f);
    size_t len;
    f->ev.created_at = time_now_ms();
    text_copy(f->ev.org_id, sizeof f->ev.org_id, org_id);
    if (id) {
        text_copy(f->ev.id, sizeof f->ev.id, id);
        f->producer_id = true;
    } else {
        id_make("evt_", f->ev.created_at, f->ev.id);
    }
    text_copy(f->ev.type, sizeof f->ev.type, type);
    f->ev.payload = build_envelope(f->ev.id, type, f->ev.created_at, data, &len);
    f->payload = payload_new(f->ev.payload, len, type);
    return f;
}

void fanout_free(void *ptr)
{
    struct fanout *f = ptr;
    if (f == NULL)
        return;
    engine_job_free_list(f->jobs);
    payload_release(f->payload);
    json_decref(f->envelope);
    json_decref(f->data);
    json_decref(f->endpoint_ids);
    free(f->webhook_url);
    free(f->ev.payload);
    free(f);
}

const struct event *fanout_event(const struct fanout *f)
{
    return &f->ev;
}

bool fanout_has_producer_id(const struct fanout *f)
{
    return f->producer_id;
}

const char *fanout_first_delivery(const struct fanout *f)
{
    return f->first_delivery;
}

void fanout_set_targets(struct fanout *f, json_t *endpoint_ids, const char *url)
{
    json_decref(f->endpoint_ids);
    f->endpoint_ids = endpoint_ids ? json_incref(endpoint_ids) : NULL;
    free(f->webhook_url);
    f->webhook_url = url ? xstrdup(url) : NULL;
}

void fanout_set_data_json(struct fanout *f, json_t *data)
{
    json_decref(f->data);
    f->data = data ? json_incref(data) : NULL;
}

void fanout_set_test_endpoint(struct fanout *f, const char *endpoint_id, bool poll)
{
    text_copy(f->test_endpoint, sizeof f->test_endpoint, endpoint_id);
    f->test_poll = poll;
}

void fanout_set_ordering_key(struct fanout *f, const char *key)
{
    text_copy(f->ev.ordering_key, sizeof f->ev.ordering_key, key ? key : "");
}

void fanout_set_operational(struct fanout *f)
{
    f->operational = true;
}

/* Adds one pending delivery (and its engine job when a node takes it). A poll endpoint's waits
 * for its consumer: never due, no node's, no job. */
static int add_delivery(struct store_conn *tx, struct fanout *f, const char *endpoint_id,
                        const char *url, const char *node_id, bool poll, bool fifo)
{
    struct delivery row = {0};
    bool head = true;
    int rc;

    delivery_fresh(&row, f->ev.org_id, endpoint_id, f->ev.created_at);
    if (fifo) { /* behind an earlier delivery of its key, it waits for that one to end */
        row.ordering_key = f->ev.ordering_key;
        if ((rc = store_fifo_is_head(tx, endpoint_id, row.ordering_key, &head)) != 0)
            return rc;
    }
    if (poll || !head) {
        row.next_attempt_at = DLV_NEVER_DUE;
        node_id = NULL;
    }
    memcpy(row.event_id, f->ev.id, sizeof row.event_id);
    row.url = (char *)url;
    memcpy(row.event_type, f->ev.type, sizeof row.event_type);
    rc = store_delivery_insert(tx, &row, node_id);
    if (rc != 0)
        return rc;
    if (f->first_delivery[0] == '\0')
        memcpy(f->first_delivery, row.id, sizeof f->first_delivery);
    f->ev.delivery_count++;
    if (node_id) {
        struct engine_job *job = engine_job_new(row.id, row.org_id, row.event_id, endpoint_id, url,
                                                f->payload, row.next_attempt_at);
        job->next = f->jobs;
        f->jobs = job;
    }
    return 0;
}

/* The envelope as JSON: around the producer's parsed data when there is one (a few
 * allocations), else parsed from the text (tens of microseconds for 1 KiB, in the writer). */
static json_t *envelope_json(const struct fanout *f)
{
    char ts[TIME_RFC3339_LEN];
    if (f->data == NULL)
        return json_loads(f->ev.payload, 0, NULL);
    time_format_rfc3339(f->ev.created_at, ts);
    return json_pack("{s:s, s:s, s:s, s:O}", "id", f->ev.id, "type", f->ev.type, "timestamp", ts,
                     "data", f->data);
}

/* Does the event pass an endpoint's compiled payload filter? The envelope is built once per
 * event, and only when some endpoint has a filter: events without filters never build it. */
static bool passes_filter(struct fanout *f, const struct filter *matcher)
{
    if (f->envelope == NULL)
        f->envelope = envelope_json(f);
    return f->envelope && filter_matches(matcher, f->envelope);
}

/* The same for a filter's stored text (NULL: none passes everything); one that does not
 * compile, which the API never stores, passes nothing. */
static bool passes_filter_text(struct fanout *f, const char *filter_text)
{
    struct filter *matcher;
    bool is_match;
    if (filter_text == NULL)
        return true;
    matcher = filter_compile_text(filter_text);
    is_match = matcher && passes_filter(f, matcher);
    filter_free(matcher);
    return is_match;
}

static int add_listed(struct store_conn *tx, struct fanout *f, const char *node_id, struct err *e)
{
    size_t i;
    json_t *item;
    json_array_foreach(f->endpoint_ids, i, item)
    {
        struct endpoint ep = {0};
        const char *id = json_string_value(item);
        int rc = store_endpoint_get(tx, f->ev.org_id, id, &ep);
        if (rc == ERR_NOT_FOUND)
            return err_invalid(e, "endpoint_ids", "no endpoint %.80s in this org", id);
        if (rc != 0)
            return rc;
        bool active = ep.is_active, operational = ep.operational, poll = ep.is_poll;
        bool fifo = ep.is_fifo;
        bool is_match = passes_filter_text(f, ep.filter);
        endpoint_clear(&ep);
        if (operational) /* it takes hookd's notices, not the org's events */
            return err_invalid(e, "endpoint_ids", "%.80s is the operational webhook endpoint", id);
        if (active && is_match && (rc = add_delivery(tx, f, id, NULL, node_id, poll, fifo)) != 0)
            return rc;
    }
    return 0;
}

static int add_subscribed(struct store_conn *tx, struct fanout *f, const char *node_id)
{
    const struct fanout_list *list;
    int rc = store_endpoint_fanout(tx, f->ev.org_id, &list);
    for (int i = 0; rc == 0 && i < list->count; i++) {
        const struct fanout_target *t = &list->items[i];
        if (t->operational == f->operational && event_filter_matches(t->events, f->ev.type) &&
            (t->filter == NULL || (t->matcher && passes_filter(f, t->matcher))))
            rc = add_delivery(tx, f, t->id, NULL, node_id, t->is_poll, t->is_fifo);
    }
    return rc;
}

int fanout_store(struct store_conn *tx, struct fanout *f, const char *node_id, struct err *e)
{
    int rc;
    if (f->test_endpoint[0])
        rc = add_delivery(tx, f, f->test_endpoint, NULL, node_id, f->test_poll, false);
    else
        rc = f->endpoint_ids ? add_listed(tx, f, node_id, e) : add_subscribed(tx, f, node_id);
    if (rc == 0 && f->webhook_url)
        rc = add_delivery(tx, f, NULL, f->webhook_url, node_id, false, false);
    if (rc != 0)
        return rc;
    return f->producer_id ? store_event_insert(tx, &f->ev) : store_event_insert_new(tx, &f->ev);
}

void fanout_hand_off(struct fanout *f, struct engine *eng)
{
    if (eng && f->jobs) {
        engine_submit(eng, f->jobs);
        f->jobs = NULL; /* the engine's now; otherwise fanout_free frees them */
    }
}
