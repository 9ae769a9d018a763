/* The HTTP API (§2): the request pipeline every route goes through (routing, content type,
 * authentication, scope, rate limit, idempotency, body parsing) and the helpers handlers use
 * to read, write through the writer, and answer. */
#ifndef HOOKD_API_API_H
#define HOOKD_API_API_H

#include "core/config.h"
#include "core/err.h"
#include "engine/notices.h"
#include "http/route.h"
#include "http/server.h"
#include "store/store.h"
#include "store/writer.h"

#include <jansson.h>
#include <stdatomic.h>

struct key_limits;

/* Everything the handlers share; set up by `hookd serve`. */
struct engine;

struct app {
    const struct config *cfg;
    struct engine *engine; /* NULL with --role api */
    char node_id[ID_MAX];  /* this process's claims */
    struct store *store;
    struct writer *writer;
    struct key_limits *limits; /* NULL when --rate-limit 0 */
    struct key_cache *keys;    /* verified keys */
    atomic_bool stopping;      /* SIGTERM taken: new API work is refused with 503 */
    bool has_admin_key;        /* --admin-key given: its hash is below */
    unsigned char admin_key_hash[32];
};

/* Who is calling: an org key (org_id set), an admin key (is_admin), or a customer portal
 * session (is_portal: an org's endpoint views only, maybe fewer endpoints, maybe read-only). */
struct principal {
    char key_id[ID_MAX];
    char org_id[ID_MAX];
    unsigned scopes;
    bool is_admin;
    bool is_portal;
    bool read_only;       /* portal: GETs only */
    json_t *endpoint_ids; /* portal: the endpoints it may see (owned); NULL: all of the org's */
    bool is_poller;       /* a poll endpoint's consumer token (key_id: the endpoint's id) */
};

struct api_call;
typedef void (*api_handler)(struct api_call *call);
/* A handler's write: runs on the writer inside a savepoint. On success it sets reply_status
 * and reply; on failure it fills call->error and returns non-zero (its writes roll back). */
typedef int (*api_apply)(struct store_conn *tx, struct api_call *call);

enum {
    ROUTE_PUBLIC = 1 << 0,  /* no API key */
    ROUTE_ANY_KEY = 1 << 1, /* any valid key, whatever its scopes */
    ROUTE_CREATES = 1 << 2, /* a creating POST: Idempotency-Key applies */
    ROUTE_BODY = 1 << 3,    /* reads a JSON object body (an empty body reads as {}) */
    ROUTE_RAW = 1 << 4,     /* the handler judges the body and its type itself */
    ROUTE_PORTAL = 1 << 5,  /* also open to customer portal sessions */
    ROUTE_POLL = 1 << 6,    /* only for a poll endpoint's consumer token */
};

struct api_route {
    const char *method;
    const char *pattern;
    api_handler handler;
    unsigned scope; /* SCOPE_* the key needs (admin keys hold every scope) */
    unsigned flags;
    const char *query; /* the query parameters it takes, space-separated; NULL: none */
};

struct api_call {
    struct http_request *http;
    struct app *app;
    const struct api_route *route;
    struct route_params params;
    struct principal who;
    json_t *body;            /* the parsed body with ROUTE_BODY, else NULL */
    struct store_conn *conn; /* read connection, taken by api_conn() */
    /* Idempotency-Key of this request, "" if none */
    char idem_key[IDEM_KEY_BYTES];
    char idem_scope[ID_MAX];
    unsigned char idem_hash[32];
    /* the write in progress */
    struct write_job job;
    api_apply apply;
    void *data;                /* the handler's prepared object, freed with the call */
    void (*data_free)(void *); /* how (free() when NULL) */
    /* runs on the writer after this call's write committed (not on a replay): hand-offs */
    void (*after_commit)(struct api_call *call);
    struct notices notices; /* the write's operational notices, handed off after its commit */
    int reply_status;
    json_t *reply;      /* owned */
    char *reply_text;   /* the answer already as JSON text, instead of reply; owned */
    json_t *idem_reply; /* what a replay answers, when it differs from reply; owned */
    char *replayed;     /* a stored answer being replayed; owned */
    bool committed;     /* the write's transaction committed */
    struct err error;
};

/* The routing table (routes.c), ended by a route whose method is NULL, and the entry point given
 * to the HTTP server. */
extern const struct api_route api_routes[];
void api_dispatch(struct http_request *req, void *app);

/* A read connection for this call, released when the call ends; NULL (and a 503 answered)
 * if the store cannot give one. */
struct store_conn *api_conn(struct api_call *call);

/* Answers. api_reply steals body. */
void api_reply(struct api_call *call, int status, json_t *body);
void api_fail(struct api_call *call, const struct err *e);
/* 503 for a store failure, 404 for ERR_NOT_FOUND, with what as the object's name. */
void api_fail_store(struct api_call *call, int rc, const char *what);

/* Gives the call an object to free with free_fn (NULL: free()) when the request ends; an
 * object it held before is freed now. */
void api_set_data(struct api_call *call, void *data, void (*free_fn)(void *));

/* Suspends the request and queues apply on the writer; the answer is sent after commit. */
void api_write(struct api_call *call, api_apply apply);

/* The org an org-owned request acts on: the key's own org, or for an admin key the org_id of
 * the query or body, which must exist. Fills org->id (every field with _full) and returns 0,
 * or answers the error and returns non-zero. */
int api_target_org(struct api_call *call, struct org *org);
int api_target_org_full(struct api_call *call, struct org *org);

/* The string field of the body, or NULL after answering 400 when it is blank (empty or only
 * white space). The field must have been checked to be a string. */
const char *api_require_text(struct api_call *call, const char *field);

/* Validates the body against fields; answers 400 and returns non-zero if it does not fit. */
int api_check_body(struct api_call *call, const struct jsonv_field *fields);

/* Reads ?limit= and ?cursor=; answers 400 and returns non-zero on bad values. */
int api_page(struct api_call *call, struct page *page);
/* {"data": items, "next_cursor": ...}: count is what the store returned (limit + 1 means more). */
json_t *api_list(json_t *items, int count, const struct page *page, int64_t last_created_at,
                 const char *last_id);

/* Reads ?since= and ?until= into f; answers 400 and returns non-zero if malformed. */
int api_time_filters(struct api_call *call, struct list_filter *f);

/* The node id that claims new deliveries for this node's engine, or NULL without one. */
const char *api_engine_node(const struct app *app);

/* Shared by the pipeline's resources. */
void events_emit_test(struct api_call *call, const struct endpoint *ep, const char *type,
                      const char *data);
/* Answers the delivery list of the request's filters, restricted to endpoint_id if given. */
void deliveries_list_for(struct api_call *call, const char *endpoint_id);
/* A new endpoint of org_id to url, with the defaults of §2.4 and a fresh secret. */
int endpoint_init(struct endpoint *ep, const char *org_id, const char *url, struct err *e);
/* url_check (engine/urlcheck.h) under the server's URL policy; blocks on DNS. */
int endpoints_check_url(const struct api_call *call, const char *url, const char *field,
                        struct err *e);
/* An org's portal branding as the API shows it: {name, logo_url, accent_color}, nulls unset. */
json_t *orgs_portal_json(const struct org *org);
/* Whether the caller may see the endpoint: a portal session only its own list of them (and never
 * a one-shot delivery's ""), anyone else every endpoint of the org. */
bool api_endpoint_visible(const struct api_call *call, const char *endpoint_id);
/* The endpoint the path names, of the caller's org, into call->data; NULL after a 404. */
struct endpoint *endpoints_load(struct api_call *call);
/* The deliveries of one event as a JSON array, or NULL after answering an error. */
json_t *deliveries_of_event(struct api_call *call, const char *org_id, const char *event_id);

/* An after_commit hook: the store has new due work for this node. */
void api_kick_engine(struct api_call *call);

/* "Name: value\n" lines (how headers are logged) as a JSON object; null for NULL. */
json_t *api_header_object(const char *lines);

/* application/json, with or without parameters (§2.1). */
bool api_is_json_type(const char *type);

/* RFC 3339 string or null for ms == 0. */
json_t *api_time(int64_t ms);

/* Handlers, one file per resource. */
void ops_healthz(struct api_call *call);
void ops_readyz(struct api_call *call);
void ops_metrics(struct api_call *call);
void ops_openapi(struct api_call *call);
void web_dashboard(struct api_call *call);
void web_asset(struct api_call *call);
void portal_sessions_create(struct api_call *call);
void portal_sessions_list(struct api_call *call);
void portal_sessions_revoke(struct api_call *call);
void portal_exchange(struct api_call *call);
void portal_session_get(struct api_call *call);
void orgs_create(struct api_call *call);
void orgs_list(struct api_call *call);
void orgs_get(struct api_call *call);
void orgs_delete(struct api_call *call);
void org_self_get(struct api_call *call);
void org_self_patch(struct api_call *call);
void org_self_rotate(struct api_call *call);
void keys_create(struct api_call *call);
void keys_list(struct api_call *call);
void keys_revoke(struct api_call *call);
void event_types_create(struct api_call *call);
void event_types_list(struct api_call *call);
void event_types_get(struct api_call *call);
void event_types_update(struct api_call *call);
void event_types_delete(struct api_call *call);
void endpoints_create(struct api_call *call);
void endpoints_list(struct api_call *call);
void endpoints_get(struct api_call *call);
void endpoints_update(struct api_call *call);
void endpoints_delete(struct api_call *call);
void endpoints_rotate(struct api_call *call);
void endpoints_test(struct api_call *call);
void endpoints_replay(struct api_call *call);
void endpoints_deliveries(struct api_call *call);
void endpoints_stats(struct api_call *call);
void endpoints_poll(struct api_call *call);
void events_create(struct api_call *call);
void events_list(struct api_call *call);
void events_get(struct api_call *call);
void deliveries_list(struct api_call *call);
void deliveries_get(struct api_call *call);
void deliveries_retry(struct api_call *call);
void sources_create(struct api_call *call);
void sources_list(struct api_call *call);
void sources_get(struct api_call *call);
void sources_update(struct api_call *call);
void sources_delete(struct api_call *call);
void sources_rotate(struct api_call *call);
void sources_messages(struct api_call *call);
void inbound_get(struct api_call *call);
void inbound_receive(struct api_call *call);

#endif
