/* Picks the backend a database URL names. */
#include "store/store.h"

#include "core/mem.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct store_ops *const store_sqlite;
extern const struct store_ops *const store_pg, *const store_pg_alias;

int store_open(const char *url, const struct store_options *opts, struct store **out, struct err *e)
{
    const struct store_ops *backends[] = {store_sqlite, store_pg, store_pg_alias};
    const char *colon = strchr(url, ':');
    size_t scheme_len = colon ? (size_t)(colon - url) : 0;

    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        const struct store_ops *ops = backends[i];
        if (scheme_len == strlen(ops->scheme) && strncmp(url, ops->scheme, scheme_len) == 0)
            return ops->open(colon + 1, opts, out, e);
    }
    return err_invalid(
        e, "db", "unsupported database URL '%.60s' (expected sqlite:PATH or postgres://...)", url);
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}

void endpoint_clear(struct endpoint *ep)
{
    if (ep == NULL)
        return;
    free(ep->url);
    free(ep->description);
    free(ep->events);
    free(ep->headers);
    free(ep->metadata);
    ep->url = ep->description = ep->events = ep->headers = ep->metadata = NULL;
}

void event_type_clear(struct event_type *et)
{
    if (et == NULL)
        return;
    free(et->schema);
    et->schema = NULL;
}

void attempt_clear(struct attempt *a)
{
    if (a == NULL)
        return;
    free(a->response_body);
    free(a->response_headers);
    free(a->request_headers);
    a->response_body = a->response_headers = a->request_headers = NULL;
}

void due_delivery_clear(struct due_delivery *d)
{
    if (d == NULL)
        return;
    free(d->url);
    free(d->payload);
    d->url = d->payload = NULL;
}

static const char *const status_names[] = {"pending", "delivered", "failed", "exhausted"};

const char *delivery_status_name(enum delivery_status status, bool claimed)
{
    if (status == DLV_PENDING && claimed)
        return "in_flight";
    return (unsigned)status < 4 ? status_names[status] : "unknown";
}

int delivery_status_parse(const char *name)
{
    if (strcmp(name, "in_flight") == 0)
        return DLV_IN_FLIGHT;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

void source_clear(struct source *src)
{
    if (src == NULL)
        return;
    free(src->verification);
    src->verification = NULL;
}

void inbound_message_clear(struct inbound_message *msg)
{
    if (msg == NULL)
        return;
    free(msg->headers);
    free(msg->body);
    msg->headers = msg->body = NULL;
}

void fanout_list_add(struct fanout_list *list, const char *id, const char *events)
{
    struct fanout_target *t;
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->items = xrealloc(list->items, (size_t)list->cap * sizeof *list->items);
    }
    t = &list->items[list->count++];
    text_copy(t->id, sizeof t->id, id);
    t->events = xstrdup(events);
}

void fanout_list_reset(struct fanout_list *list)
{
    for (int i = 0; i < list->count; i++)
        free(list->items[i].events);
    list->count = 0;
}

void fanout_list_free(struct fanout_list *list)
{
    fanout_list_reset(list);
    free(list->items);
    list->items = NULL;
    list->cap = 0;
}

void delivery_fresh(struct delivery *d, const char *org_id, const char *endpoint_id, int64_t now)
{
    id_make("dlv_", now, d->id);
    text_copy(d->org_id, sizeof d->org_id, org_id);
    text_copy(d->endpoint_id, sizeof d->endpoint_id, endpoint_id ? endpoint_id : "");
    d->next_attempt_at = now;
    d->created_at = now;
}
