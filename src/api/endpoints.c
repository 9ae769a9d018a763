/* Endpoints (§2.4): subscribers with their secret, filter and delivery settings. Creating one
 * (or changing its URL) first pings it through the engine while the request waits. */
#include "api/api.h"
#include "api/auth.h"
#include "core/log.h"

#include "core/eventname.h"
#include "core/filter.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "engine/engine.h"
#include "engine/urlcheck.h"
#include "hookd/hookd.h"
#include "core/text.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_EVENT_FILTERS 100
#define MAX_HEADERS 20
#define MAX_HEADER_BYTES 1024
#define MAX_METADATA_BYTES 4096
#define DEFAULT_GRACE_SECONDS (24 * 3600)
#define MAX_GRACE_SECONDS (30 * 24 * 3600)

/* The settable fields, for create and PATCH alike (create also needs url). */
static const struct jsonv_field endpoint_fields[] = {
    {"url", JSONV_URL, false, false, 0, 0},
    {"name", JSONV_STRING, false, false, LIMIT_NAME_CHARS, 0},
    {"description", JSONV_STRING, false, false, LIMIT_DESCRIPTION_CHARS, 0},
    {"events", JSONV_STRING_ARRAY, false, false, EVENT_NAME_MAX, MAX_EVENT_FILTERS},
    {"is_active", JSONV_BOOL, false, false, 0, 0},
    {"timeout_seconds", JSONV_INTEGER, false, false, 0, 0},
    {"rate_limit", JSONV_NUMBER, false, true, 0, 0},
    {"max_in_flight", JSONV_INTEGER, false, false, 0, 0},
    {"headers", JSONV_OBJECT, false, false, 0, 0},
    {"signature_scheme", JSONV_STRING, false, false, 16, 0},
    {"metadata", JSONV_OBJECT, false, false, 0, 0},
    {"kind", JSONV_STRING, false, false, 8, 0},
    {"ordering", JSONV_STRING, false, false, 8, 0},
    {"retry_schedule", JSONV_STRING, false, true, 400, 0},
    {"disable_after", JSONV_INTEGER, false, true, 0, 0},
    {"filter", JSONV_OBJECT, false, true, 0, 0}, /* core/filter.h checks the rest */
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    JSONV_SET_BY_HOOKD,
    {"verified_at", JSONV_READ_ONLY, false, false, 0, 0},
    {"last_success_at", JSONV_READ_ONLY, false, false, 0, 0},
    {"last_failure_at", JSONV_READ_ONLY, false, false, 0, 0},
    {"consecutive_failures", JSONV_READ_ONLY, false, false, 0, 0},
    {"disabled_at", JSONV_READ_ONLY, false, false, 0, 0},
    {"disabled_reason", JSONV_READ_ONLY, false, false, 0, 0},
    {"operational", JSONV_READ_ONLY, false, false, 0, 0}, /* PATCH /v1/org sets it up */
    {NULL, 0, false, false, 0, 0},
};

static bool is_ed25519(const struct endpoint *ep)
{
    return strcmp(ep->signature_scheme, "ed25519") == 0;
}

/* An ed25519 endpoint's public keys (whpk_, derived from the whsk_ secret keys it keeps): the
 * current one, and the previous one while it still signs during a rotation's grace period. */
static void add_public_keys(json_t *obj, const struct endpoint *ep)
{
    char key[HOOKD_ED25519_KEY_LEN + 1];
    if (!is_ed25519(ep))
        return;
    if (hookd_ed25519_public_key(ep->secret, key, sizeof key) == HOOKD_OK)
        json_object_set_new(obj, "public_key", json_string(key));
    if (ep->previous_secret[0] && ep->previous_secret_expires_at > time_now_ms() &&
        hookd_ed25519_public_key(ep->previous_secret, key, sizeof key) == HOOKD_OK)
        json_object_set_new(obj, "previous_public_key", json_string(key));
}

static json_t *endpoint_json(const struct endpoint *ep)
{
    json_t *events = json_loads(ep->events ? ep->events : "[]", 0, NULL);
    json_t *headers = json_loads(ep->headers ? ep->headers : "{}", 0, NULL);
    json_t *metadata = json_loads(ep->metadata ? ep->metadata : "{}", 0, NULL);
    json_t *obj = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:i, s:o, s:i, s:o, s:s, s:o}", "id", ep->id, "org_id",
        ep->org_id, "url", ep->url, "name", ep->name, "description",
        ep->description ? ep->description : "", "events", events ? events : json_array(),
        "is_active", ep->is_active, "timeout_seconds", ep->timeout_seconds, "rate_limit",
        ep->rate_limit > 0 ? json_real(ep->rate_limit) : json_null(), "max_in_flight",
        ep->max_in_flight, "headers", headers ? headers : json_object(), "signature_scheme",
        ep->signature_scheme, "metadata", metadata ? metadata : json_object());
    json_t *filter = ep->filter ? json_loads(ep->filter, 0, NULL) : NULL;
    json_object_set_new(obj, "filter", filter ? filter : json_null());
    json_object_set_new(obj, "verified_at", api_time(ep->verified_at));
    json_object_set_new(obj, "last_success_at", api_time(ep->last_success_at));
    json_object_set_new(obj, "last_failure_at", api_time(ep->last_failure_at));
    json_object_set_new(obj, "consecutive_failures", json_integer(ep->consecutive_failures));
    json_object_set_new(obj, "disabled_at", api_time(ep->disabled_at));
    json_object_set_new(obj, "disabled_reason",
                        ep->disabled_reason[0] ? json_string(ep->disabled_reason) : json_null());
    json_object_set_new(obj, "retry_schedule",
                        ep->retry_schedule ? json_string(ep->retry_schedule) : json_null());
    json_object_set_new(obj, "disable_after",
                        ep->disable_after ? json_integer(ep->disable_after) : json_null());
    json_object_set_new(obj, "kind", json_string(ep->is_poll ? "poll" : "push"));
    json_object_set_new(obj, "ordering", json_string(ep->is_fifo ? "fifo" : "none"));
    if (ep->is_poll) /* read by its consumer: no URL */
        json_object_set_new(obj, "url", json_null());
    json_object_set_new(obj, "operational", json_boolean(ep->operational));
    add_public_keys(obj, ep);
    json_object_set_new(obj, "created_at", api_time(ep->created_at));
    json_object_set_new(obj, "updated_at", api_time(ep->updated_at));
    return obj;
}

/* --- validation of the settable fields --- */

static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

/* Headers hookd sets itself (§3) or that would break the request. */
static bool is_reserved_header(const char *name)
{
    static const char *const reserved[] = {"host",
                                           "content-length",
                                           "transfer-encoding",
                                           "connection",
                                           "content-type",
                                           "user-agent",
                                           "webhook-id",
                                           "webhook-timestamp",
                                           "webhook-signature",
                                           "x-webhook-signature",
                                           "x-webhook-timestamp",
                                           "x-webhook-event",
                                           "x-webhook-delivery",
                                           "x-webhook-attempt",
                                           "expect",
                                           "te",
                                           "upgrade",
                                           "keep-alive",
                                           "proxy-authorization"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return false;
}

static int check_headers(const json_t *headers, struct err *e)
{
    const char *name;
    json_t *value;
    if (json_object_size(headers) > MAX_HEADERS)
        return err_invalid(e, "headers", "headers holds more than %d entries", MAX_HEADERS);
    json_object_foreach((json_t *)headers, name, value)
    {
        const char *text = json_string_value(value);
        if (!json_is_string(value))
            return err_invalid(e, "headers", "header %.60s must be a string", name);
        if (!is_token(name))
            return err_invalid(e, "headers", "header name '%.60s' is not a token", name);
        if (is_reserved_header(name))
            return err_invalid(e, "headers", "header %.60s is set by hookd and cannot be changed",
                               name);
        if (strlen(name) + strlen(text) > MAX_HEADER_BYTES)
            return err_invalid(e, "headers", "header %.60s is longer than %d bytes", name,
                               MAX_HEADER_BYTES);
        /* every byte, NULs included: no control character but tab, no DEL */
        for (size_t i = 0; i < json_string_length(value); i++) {
            unsigned char c = (unsigned char)text[i];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return err_invalid(e, "headers", "header %.60s holds control characters", name);
        }
    }
    return 0;
}

/* Every entry is a valid name or wildcard that the catalog knows (§2.3), or for the operational
 * endpoint, that names a notice type. */
static int check_events(struct store_conn *conn, const json_t *events, bool operational,
                        struct err *e)
{
    size_t i;
    json_t *item;
    json_array_foreach(events, i, item)
    {
        const char *pattern = json_string_value(item);
        char prefix[EVENT_NAME_MAX + 2];
        long count = 0;
        int rc;
        if (!event_pattern_is_valid(pattern))
            return err_invalid(e, "events", "'%.100s' is not an event name or prefix.* pattern",
                               pattern);
        if (operational) {
            if (!notice_pattern_is_known(pattern))
                return err_set(e, 400, "unknown_event_type", "events",
                               "'%.100s' matches no operational event type", pattern);
            continue;
        }
        if (event_pattern_prefix(pattern, prefix, sizeof prefix - 1)) {
            strcat(prefix, ".");
            rc = store_event_type_count_prefix(conn, prefix, &count);
        } else {
            struct event_type et = {0};
            rc = store_event_type_get(conn, pattern, &et);
            count = rc == 0;
            event_type_clear(&et);
            if (rc == ERR_NOT_FOUND)
                rc = 0;
        }
        if (rc != 0)
            return err_set(e, 503, "unavailable", NULL, "the store could not be read");
        if (count == 0)
            return err_set(e, 400, "unknown_event_type", "events",
                           "'%.100s' matches no event type of the catalog", pattern);
    }
    return 0;
}

static int check_int(const json_t *body, const char *field, long min, long max, int *out,
                     struct err *e)
{
    json_t *value = json_object_get(body, field);
    if (value == NULL)
        return 0;
    if (json_integer_value(value) < min || json_integer_value(value) > max)
        return err_invalid(e, field, "%s must be from %ld to %ld", field, min, max);
    *out = (int)json_integer_value(value);
    return 0;
}

static char *dump_compact(const json_t *value)
{
    return json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
}

/* Its own delivery policy (issue 17), read by the server flags' rules; null: the server's. */
static int apply_policy(const json_t *body, struct endpoint *ep, struct err *e)
{
    json_t *schedule = json_object_get(body, "retry_schedule");
    json_t *threshold = json_object_get(body, "disable_after");
    if (schedule) {
        int64_t delays[CONFIG_MAX_RETRIES];
        int count;
        if (json_is_string(schedule) &&
            !config_parse_schedule(json_string_value(schedule), delays, &count))
            return err_invalid(e, "retry_schedule",
                               "retry_schedule must be 1 to %d delays like \"1s,4s,16s\" (ms, s, "
                               "m, h), or null for the server's --retry-schedule",
                               CONFIG_MAX_RETRIES);
        free(ep->retry_schedule);
        ep->retry_schedule = json_is_string(schedule) ? xstrdup(json_string_value(schedule)) : NULL;
    }
    if (threshold) {
        json_int_t n = json_is_integer(threshold) ? json_integer_value(threshold) : 0;
        if (json_is_integer(threshold) && (n < 1 || n > CONFIG_DISABLE_AFTER_MAX))
            return err_invalid(e, "disable_after",
                               "disable_after must be 1 to %d consecutive failures, or null for "
                               "the server's --disable-after",
                               CONFIG_DISABLE_AFTER_MAX);
        ep->disable_after = (int)n;
    }
    return 0;
}

/* A new secret for ep's scheme: an Ed25519 key pair (whsk_ kept, whpk_ shown) for ed25519, a
 * whsec_ HMAC secret for the others. */
static int new_secret(struct endpoint *ep, struct err *e)
{
    char public_key[HOOKD_ED25519_KEY_LEN + 1];
    hookd_status status = is_ed25519(ep) ? hookd_ed25519_generate(ep->secret, sizeof ep->secret,
                                                                  public_key, sizeof public_key)
                                         : hookd_secret_generate(ep->secret, sizeof ep->secret);
    if (status != HOOKD_OK)
        return err_internal(e, "cannot generate a secret");
    return 0;
}

/* Applies the body's fields to ep, validating each; the URL is checked by the caller. A change
 * of signature_scheme between HMAC (standard, hex) and ed25519 makes a new secret of the new
 * kind at once, with no grace period: the old secret cannot sign the new scheme. */
static int apply_fields(struct api_call *call, struct endpoint *ep, struct err *e)
{
    const json_t *body = call->body;
    json_t *value;
    struct store_conn *conn;

    if ((value = json_object_get(body, "name")) != NULL)
        text_copy(ep->name, sizeof ep->name, json_string_value(value));
    if ((value = json_object_get(body, "description")) != NULL) {
        free(ep->description);
        ep->description = xstrdup(json_string_value(value));
    }
    if ((value = json_object_get(body, "events")) != NULL) {
        conn = api_conn(call);
        if (conn == NULL)
            return err_set(e, 503, "unavailable", NULL, "the store is not reachable");
        if (check_events(conn, value, ep->operational, e) != 0)
            return ERR_FAIL;
        free(ep->events);
        ep->events = dump_compact(value);
    }
    if ((value = json_object_get(body, "is_active")) != NULL)
        ep->is_active = json_is_true(value);
    if (check_int(body, "timeout_seconds", 1, 60, &ep->timeout_seconds, e) != 0 ||
        check_int(body, "max_in_flight", 1, 1000, &ep->max_in_flight, e) != 0)
        return ERR_FAIL;
    if ((value = json_object_get(body, "rate_limit")) != NULL) {
        double rate = json_is_null(value) ? 0 : json_number_value(value);
        if (!json_is_null(value) && (rate <= 0 || rate > 100000))
            return err_invalid(e, "rate_limit",
                               "rate_limit must be above 0 and at most 100000 "
                               "deliveries/s, or null");
        ep->rate_limit = rate;
    }
    if ((value = json_object_get(body, "headers")) != NULL) {
        if (check_headers(value, e) != 0)
            return ERR_FAIL;
        free(ep->headers);
        ep->headers = dump_compact(value);
    }
    if ((value = json_object_get(body, "signature_scheme")) != NULL) {
        const char *scheme = json_string_value(value);
        bool was_ed25519 = is_ed25519(ep);
        if (strcmp(scheme, "standard") != 0 && strcmp(scheme, "hex") != 0 &&
            strcmp(scheme, "ed25519") != 0)
            return err_invalid(e, "signature_scheme",
                               "signature_scheme must be standard, hex or ed25519");
        /* GET /v1/org shows the operational endpoint's secret: it stays an HMAC one */
        if (ep->operational && strcmp(scheme, "ed25519") == 0)
            return err_invalid(e, "signature_scheme",
                               "the operational endpoint signs with standard or hex");
        text_copy(ep->signature_scheme, sizeof ep->signature_scheme, scheme);
        if (is_ed25519(ep) != was_ed25519) {
            ep->previous_secret[0] = '\0';
            ep->previous_secret_expires_at = 0;
            if (new_secret(ep, e) != 0)
                return ERR_FAIL;
        }
    }
    if (apply_policy(body, ep, e) != 0)
        return ERR_FAIL;
    if ((value = json_object_get(body, "ordering")) != NULL) {
        const char *ordering = json_string_value(value);
        if (strcmp(ordering, "none") != 0 && strcmp(ordering, "fifo") != 0)
            return err_invalid(e, "ordering", "ordering must be none or fifo");
        ep->is_fifo = strcmp(ordering, "fifo") == 0;
        if (ep->is_fifo && ep->is_poll) /* a poll consumer reads in order already */
            return err_invalid(e, "ordering", "a poll endpoint is read in order already");
    }
    if ((value = json_object_get(body, "metadata")) != NULL) {
        char *text = dump_compact(value);
        if (text == NULL || strlen(text) > MAX_METADATA_BYTES) {
            free(text);
            return err_invalid(e, "metadata", "metadata is larger than %d bytes serialized",
                               MAX_METADATA_BYTES);
        }
        free(ep->metadata);
        ep->metadata = text;
    }
    if ((value = json_object_get(body, "filter")) != NULL) {
        struct filter *compiled = json_is_null(value) ? NULL : filter_compile(value, e);
        if (compiled == NULL && !json_is_null(value))
            return ERR_FAIL;
        free(ep->filter);
        ep->filter = compiled ? dump_compact(value) : NULL;
        filter_free(compiled); /* the fan-out compiles the stored text */
    }
    return 0;
}

/* (api.h) */
int endpoints_check_url(const struct api_call *call, const char *url, const char *field,
                        struct err *e)
{
    struct url_policy policy = {call->app->cfg->allow_http, call->app->cfg->allow_private};
    return url_check(url, &policy, field, e);
}

/* (api.h) */
int endpoint_init(struct endpoint *ep, const char *org_id, const char *url, struct err *e)
{
    ep->created_at = ep->updated_at = time_now_ms();
    id_make("ep_", ep->created_at, ep->id);
    text_copy(ep->org_id, sizeof ep->org_id, org_id);
    ep->url = xstrdup(url);
    ep->events = xstrdup("[]");
    ep->headers = xstrdup("{}");
    ep->metadata = xstrdup("{}");
    ep->description = xstrdup("");
    ep->is_active = true;
    ep->timeout_seconds = 15;
    ep->max_in_flight = 10;
    snprintf(ep->signature_scheme, sizeof ep->signature_scheme, "standard");
    if (hookd_secret_generate(ep->secret, sizeof ep->secret) != HOOKD_OK)
        return err_internal(e, "cannot generate a secret");
    return 0;
}

static void endpoint_free(void *ptr)
{
    endpoint_clear(ptr);
    free(ptr);
}

static void notify_engine(struct api_call *call)
{
    struct endpoint *ep = call->data;
    if (call->app->engine)
        engine_endpoint_changed(call->app->engine, ep->id);
}

/* An operator enabled or disabled the endpoint: said in the log, as an automatic disable is. */
static void notify_switched(struct api_call *call)
{
    struct endpoint *ep = call->data;
    log_warn(ep->is_active ? "endpoint enabled" : "endpoint disabled", "endpoint",
             json_string(ep->id), "org", json_string(ep->org_id), "reason",
             ep->is_active ? NULL : json_string(ep->disabled_reason), NULL);
    notify_engine(call);
}

/* --- create, with the ping --- */

/* The ping in flight for a request; freed when the request ends. */
struct ping_state {
    struct engine_ping ping;
    struct api_call *call;
    api_apply then; /* the write that follows a successful ping */
};

static void ping_free(struct ping_state *ps)
{
    payload_release(ps->ping.payload);
    free(ps->ping.headers_json);
    free(ps);
}

static void ping_done(struct engine_ping *ping, int http_status, const char *error)
{
    struct ping_state *ps = (struct ping_state *)ping;
    struct api_call *call = ps->call;
    struct endpoint *ep = call->data;
    api_apply then = ps->then;

    ping_free(ps);
    if (http_status >= 200 && http_status <= 299) {
        ep->verified_at = time_now_ms();
        api_write(call, then); /* the request is still suspended */
        return;
    }
    json_t *body = json_pack("{s:s, s:o, s:s, s:s}", "error", "ping_failed", "status_code",
                             http_status ? json_integer(http_status) : json_null(), "field", "url",
                             "message", "");
    char message[200];
    if (http_status)
        snprintf(message, sizeof message,
                 "the URL answered the ping with HTTP %d; nothing was "
                 "saved",
                 http_status);
    else
        snprintf(message, sizeof message, "the ping got no answer (%s); nothing was saved",
                 error ? error : "error");
    json_object_set_new(body, "message", json_string(message));
    api_reply(call, 400, body);
    http_resume(call->http);
}

/* Pings ep's URL (signed with its secret), then runs `then` on the writer if it answers 2xx. */
static void ping_then_write(struct api_call *call, api_apply then)
{
    struct endpoint *ep = call->data;
    struct ping_state *ps;
    char envelope[512], event_id[ID_MAX], ts[TIME_RFC3339_LEN];
    int64_t now = time_now_ms();

    if (call->app->cfg->no_ping || call->app->engine == NULL) {
        api_write(call, then);
        return;
    }
    ps = xcalloc(1, sizeof *ps);
    ps->call = call;
    ps->then = then;
    id_make("evt_", now, event_id);
    time_format_rfc3339(now, ts);
    int len = snprintf(envelope, sizeof envelope,
                       "{\"id\":\"%s\",\"type\":\"webhook.ping\",\"timestamp\":\"%s\",\"data\":"
                       "{\"endpoint_id\":\"%s\"}}",
                       event_id, ts, ep->id);
    ps->ping.payload = payload_new(envelope, (size_t)len, "webhook.ping");
    text_copy(ps->ping.url, sizeof ps->ping.url, ep->url);
    text_copy(ps->ping.secret, sizeof ps->ping.secret, ep->secret);
    text_copy(ps->ping.event_id, sizeof ps->ping.event_id, event_id);
    ps->ping.hex_scheme = strcmp(ep->signature_scheme, "hex") == 0;
    ps->ping.ed25519_scheme = strcmp(ep->signature_scheme, "ed25519") == 0;
    ps->ping.headers_json = ep->headers ? xstrdup(ep->headers) : NULL;
    ps->ping.timeout_seconds = ep->timeout_seconds;
    ps->ping.done = ping_done;
    http_defer(call->http); /* before the engine can answer */
    engine_ping(call->app->engine, &ps->ping);
}

/* A new endpoint, and a poll endpoint's consumer token, shown once. call->data points at it
 * (ep first: the draft is the endpoint for everything else). */
struct endpoint_draft {
    struct endpoint ep;
    char poll_token[KEY_TEXT_MAX];
    unsigned char poll_token_hash[32];
};

static void draft_free(void *ptr)
{
    struct endpoint_draft *d = ptr;
    endpoint_clear(&d->ep);
    OPENSSL_cleanse(d->poll_token, sizeof d->poll_token);
    free(d);
}

static int create_apply(struct store_conn *tx, struct api_call *call)
{
    struct endpoint_draft *d = call->data;
    struct endpoint *ep = &d->ep;
    int rc = store_endpoint_insert(tx, ep);
    if (rc == 0 && ep->is_poll)
        rc = store_endpoint_poll_token(tx, ep->id, d->poll_token_hash);
    if (rc != 0)
        return rc;
    call->reply_status = 201;
    call->reply = endpoint_json(ep);
    call->idem_reply = json_deep_copy(call->reply); /* a replay never shows the secrets */
    if (!is_ed25519(ep)) /* an Ed25519 secret key never leaves hookd: public_key is shown */
        json_object_set_new(call->reply, "secret", json_string(ep->secret));
    if (ep->is_poll)
        json_object_set_new(call->reply, "poll_token", json_string(d->poll_token));
    return 0;
}

/* kind: "push" (the default: hookd POSTs to url) or "poll" (no url; its consumer reads
 * GET /v1/endpoints/{id}/poll with the token minted here). */
static int check_kind(const json_t *body, bool *poll, struct err *e)
{
    json_t *kind = json_object_get(body, "kind");
    json_t *url = json_object_get(body, "url");
    *poll = kind && strcmp(json_string_value(kind), "poll") == 0;
    if (kind && !*poll && strcmp(json_string_value(kind), "push") != 0)
        return err_invalid(e, "kind", "kind must be push or poll");
    if (*poll && url)
        return err_invalid(e, "url",
                           "a poll endpoint has no url: its consumer reads "
                           "GET /v1/endpoints/{id}/poll");
    if (!*poll && url == NULL)
        return err_invalid(e, "url", "url is required");
    return 0;
}

void endpoints_create(struct api_call *call)
{
    struct endpoint_draft *draft;
    struct endpoint *ep;
    struct org org;
    struct err e;
    bool poll;

    if (api_check_body(call, endpoint_fields) != 0)
        return;
    if (check_kind(call->body, &poll, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    if (api_target_org(call, &org) != 0)
        return;
    if (call->who.is_portal && call->who.endpoint_ids) {
        err_set(&e, 403, "forbidden", NULL,
                "this portal session shows given endpoints only; it cannot add one");
        api_fail(call, &e);
        return;
    }
    draft = xcalloc(1, sizeof *draft);
    api_set_data(call, draft, draft_free);
    ep = &draft->ep;
    if (endpoint_init(ep, org.id, poll ? "" : json_string_value(json_object_get(call->body, "url")),
                      &e) != 0 ||
        (!poll && endpoints_check_url(call, ep->url, "url", &e) != 0) ||
        apply_fields(call, ep, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    ep->is_poll = poll;
    if (poll) { /* nothing to ping */
        auth_mint_secret(ep->id, draft->poll_token, draft->poll_token_hash);
        api_write(call, create_apply);
        return;
    }
    ping_then_write(call, create_apply);
}

/* --- read --- */

/* (api.h) */
struct endpoint *endpoints_load(struct api_call *call)
{
    struct org org;
    struct endpoint *ep;
    int rc;
    if (api_target_org(call, &org) != 0)
        return NULL;
    ep = xcalloc(1, sizeof *ep);
    rc = store_endpoint_get(call->conn, org.id, call->params.value[0], ep);
    if (rc == 0 &&
        (!api_endpoint_visible(call, ep->id) || (call->who.is_portal && ep->operational)))
        rc = ERR_NOT_FOUND; /* a portal session's customers see their own endpoints only */
    if (rc != 0) {
        endpoint_free(ep);
        api_fail_store(call, rc, "endpoint");
        return NULL;
    }
    api_set_data(call, ep, endpoint_free);
    return ep;
}

void endpoints_get(struct api_call *call)
{
    struct endpoint *ep = endpoints_load(call);
    if (ep)
        api_reply(call, 200, endpoint_json(ep));
}

/* A portal session's list: its given endpoints (at most 100) in their order, on one page. */
static void list_given(struct api_call *call, const char *org_id, const struct list_filter *filter)
{
    json_t *data = json_array(), *item;
    size_t i;
    int rc = 0;
    json_array_foreach(call->who.endpoint_ids, i, item)
    {
        struct endpoint ep = {0};
        rc = store_endpoint_get(call->conn, org_id, json_string_value(item), &ep);
        if (rc == 0 && (filter->is_active < 0 || ep.is_active == filter->is_active))
            json_array_append_new(data, endpoint_json(&ep));
        endpoint_clear(&ep);
        if (rc == ERR_NOT_FOUND) /* deleted since */
            rc = 0;
        if (rc != 0)
            break;
    }
    if (rc != 0) {
        json_decref(data);
        api_fail_store(call, rc, "endpoint");
        return;
    }
    api_reply(call, 200, json_pack("{s:o, s:n}", "data", data, "next_cursor"));
}

void endpoints_list(struct api_call *call)
{
    struct page page;
    struct org org;
    struct list_filter filter = {.status = -1, .is_active = -1};
    struct endpoint *items;
    const char *active = http_query(call->http, "is_active");
    int count = 0, rc;
    struct err e;

    if (api_page(call, &page) != 0 || api_target_org(call, &org) != 0)
        return;
    if (active) {
        if (strcmp(active, "true") != 0 && strcmp(active, "false") != 0) {
            err_invalid(&e, "is_active", "is_active must be true or false");
            api_fail(call, &e);
            return;
        }
        filter.is_active = strcmp(active, "true") == 0;
    }
    if (call->who.is_portal && call->who.endpoint_ids) {
        list_given(call, org.id, &filter);
        return;
    }
    items = xcalloc((size_t)page.limit + 1, sizeof *items);
    rc = store_endpoint_list(call->conn, org.id, &filter, &page, items, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "endpoint");
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(data, endpoint_json(&items[i]));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(data, count, &page, items[last].created_at, items[last].id));
    }
    for (int i = 0; i < count; i++)
        endpoint_clear(&items[i]);
    free(items);
}

/* --- update, delete, rotate --- */

/* The operational notice of an operator's enable or disable. */
static int notice_switch(struct store_conn *tx, struct api_call *call, const struct endpoint *ep)
{
    char at[TIME_RFC3339_LEN];
    json_t *data;
    if (ep->is_active) {
        data = json_pack("{s:s}", "endpoint_id", ep->id);
    } else {
        time_format_rfc3339(ep->disabled_at, at);
        data = json_pack("{s:s, s:s, s:s}", "endpoint_id", ep->id, "reason", ep->disabled_reason,
                         "disabled_at", at);
    }
    return notice_store(tx, &call->notices, ep->org_id, ep->id,
                        ep->is_active ? NOTICE_ENDPOINT_ENABLED : NOTICE_ENDPOINT_DISABLED, data,
                        api_engine_node(call->app));
}

static int update_apply(struct store_conn *tx, struct api_call *call)
{
    struct endpoint *ep = call->data;
    int rc = store_endpoint_update(tx, ep);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such endpoint");
    if (rc == 0 && call->after_commit == notify_switched) /* is_active changed */
        rc = notice_switch(tx, call, ep);
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = endpoint_json(ep);
    if (call->after_commit == NULL)
        call->after_commit = notify_engine;
    return 0;
}

/* As update_apply, for a PATCH that made a new HMAC secret (a switch from ed25519): the answer
 * shows it, as creation does. */
static int update_apply_new_secret(struct store_conn *tx, struct api_call *call)
{
    struct endpoint *ep = call->data;
    int rc = update_apply(tx, call);
    if (rc == 0 && !is_ed25519(ep))
        json_object_set_new(call->reply, "secret", json_string(ep->secret));
    return rc;
}

void endpoints_update(struct api_call *call)
{
    struct endpoint *ep;
    char old_secret[SECRET_BYTES];
    bool was_active, url_changed = false;
    api_apply apply = update_apply;
    json_t *url;
    struct err e;

    if (api_check_body(call, endpoint_fields) != 0 || (ep = endpoints_load(call)) == NULL)
        return;
    was_active = ep->is_active;
    memcpy(old_secret, ep->secret, sizeof old_secret);
    url = json_object_get(call->body, "url");
    json_t *kind = json_object_get(call->body, "kind");
    if (kind && strcmp(json_string_value(kind), ep->is_poll ? "poll" : "push") != 0) {
        err_set(&e, 400, "read_only_field", "kind", "kind is chosen at creation");
        api_fail(call, &e);
        return;
    }
    if (url && ep->is_poll) {
        err_invalid(&e, "url", "a poll endpoint has no url");
        api_fail(call, &e);
        return;
    }
    if (url && strcmp(json_string_value(url), ep->url) != 0) {
        if (endpoints_check_url(call, json_string_value(url), "url", &e) != 0) {
            api_fail(call, &e);
            return;
        }
        free(ep->url);
        ep->url = xstrdup(json_string_value(url));
        url_changed = true;
    }
    if (apply_fields(call, ep, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    if (strcmp(old_secret, ep->secret) != 0)
        apply = update_apply_new_secret;
    OPENSSL_cleanse(old_secret, sizeof old_secret);
    if (ep->is_active && !was_active) { /* re-enabled: the failure count starts over */
        ep->consecutive_failures = 0;
        ep->disabled_at = 0;
        ep->disabled_reason[0] = '\0';
    } else if (!ep->is_active && was_active) {
        ep->disabled_at = time_now_ms();
        snprintf(ep->disabled_reason, sizeof ep->disabled_reason, "manual");
    }
    ep->updated_at = time_now_ms();
    if (ep->is_active != was_active)
        call->after_commit = notify_switched;
    if (url_changed)
        ping_then_write(call, apply); /* the new URL must answer, with the current secret */
    else
        api_write(call, apply);
}

static int delete_apply(struct store_conn *tx, struct api_call *call)
{
    struct endpoint *ep = call->data;
    int rc = store_endpoint_delete(tx, ep->org_id, ep->id, time_now_ms());
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such endpoint");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = json_pack("{s:s, s:s}", "id", ep->id, "status", "deleted");
    call->after_commit = notify_engine;
    return 0;
}

void endpoints_delete(struct api_call *call)
{
    if (endpoints_load(call))
        api_write(call, delete_apply);
}

static const struct jsonv_field rotate_fields[] = {
    {"grace_seconds", JSONV_INTEGER, false, false, 0, 0},
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    {NULL, 0, false, false, 0, 0},
};

static int rotate_apply(struct store_conn *tx, struct api_call *call)
{
    struct endpoint *ep = call->data;
    int rc = store_endpoint_update(tx, ep);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such endpoint");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = json_pack("{s:s, s:o}", "id", ep->id, "previous_secret_expires_at",
                            api_time(ep->previous_secret_expires_at));
    if (is_ed25519(ep))
        add_public_keys(call->reply, ep); /* the new public key, and the old while it signs */
    else
        json_object_set_new(call->reply, "secret", json_string(ep->secret));
    call->after_commit = notify_engine;
    return 0;
}

void endpoints_rotate(struct api_call *call)
{
    struct endpoint *ep;
    int grace = DEFAULT_GRACE_SECONDS;
    struct err e;

    if (api_check_body(call, rotate_fields) != 0)
        return;
    if (check_int(call->body, "grace_seconds", 0, MAX_GRACE_SECONDS, &grace, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    if ((ep = endpoints_load(call)) == NULL)
        return;
    ep->updated_at = time_now_ms();
    if (grace > 0) {
        memcpy(ep->previous_secret, ep->secret, sizeof ep->previous_secret);
        ep->previous_secret_expires_at = ep->updated_at + (int64_t)grace * 1000;
    } else {
        ep->previous_secret[0] = '\0';
        ep->previous_secret_expires_at = 0;
    }
    if (new_secret(ep, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    api_write(call, rotate_apply);
}

/* --- test, replay, deliveries --- */

static const struct jsonv_field test_fields[] = {
    {"event_type", JSONV_STRING, false, false, EVENT_NAME_MAX, 0},
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    {NULL, 0, false, false, 0, 0},
};

void endpoints_test(struct api_call *call)
{
    struct endpoint *ep;
    const char *type = "webhook.test";
    json_t *value;
    char data[256];
    struct err e;

    if (api_check_body(call, test_fields) != 0)
        return;
    if ((value = json_object_get(call->body, "event_type")) != NULL) {
        type = json_string_value(value);
        if (!event_name_is_valid(type)) {
            err_invalid(&e, "event_type", "event_type must match [a-z0-9_]+(.[a-z0-9_]+)*");
            api_fail(call, &e);
            return;
        }
    }
    if ((ep = endpoints_load(call)) == NULL)
        return;
    if (!ep->is_active) {
        err_set(&e, 409, "endpoint_inactive", NULL, "the endpoint is disabled; enable it first");
        api_fail(call, &e);
        return;
    }
    snprintf(data, sizeof data,
             "{\"message\":\"This is a test event from hookd.\",\"endpoint_id\":\"%s\"}", ep->id);
    events_emit_test(call, ep, type, data);
}

static const struct jsonv_field replay_fields[] = {
    {"since", JSONV_STRING, true, false, 40, 0},
    {"until", JSONV_STRING, false, true, 40, 0},
    {"status", JSONV_STRING_ARRAY, false, false, 16, 4},
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    {NULL, 0, false, false, 0, 0},
};

struct replay {
    struct endpoint ep;
    int64_t since, until;
    unsigned statuses;
};

static void replay_free(void *ptr)
{
    endpoint_clear(&((struct replay *)ptr)->ep);
    free(ptr);
}

static int replay_apply(struct store_conn *tx, struct api_call *call)
{
    struct replay *r = call->data;
    long queued = 0;
    int rc = store_delivery_replay(tx, r->ep.org_id, r->ep.id, r->since, r->until, r->statuses,
                                   call->app->engine ? call->app->node_id : NULL, time_now_ms(),
                                   &queued);
    if (rc != 0)
        return rc;
    call->reply_status = 202;
    call->reply = json_pack("{s:I}", "queued", (json_int_t)queued);
    call->after_commit = api_kick_engine;
    return 0;
}

void endpoints_replay(struct api_call *call)
{
    struct replay *r;
    struct endpoint *ep;
    json_t *until, *statuses;
    struct err e;

    if (api_check_body(call, replay_fields) != 0 || (ep = endpoints_load(call)) == NULL)
        return;
    r = xcalloc(1, sizeof *r);
    r->ep = *ep; /* takes the heap fields over; the emptied ep is freed by api_set_data */
    memset(ep, 0, sizeof *ep);
    api_set_data(call, r, replay_free);
    if (!time_parse_rfc3339(json_string_value(json_object_get(call->body, "since")), &r->since)) {
        err_invalid(&e, "since", "since must be an RFC 3339 timestamp");
        goto fail;
    }
    until = json_object_get(call->body, "until");
    if (until && !json_is_null(until) && !time_parse_rfc3339(json_string_value(until), &r->until)) {
        err_invalid(&e, "until", "until must be an RFC 3339 timestamp");
        goto fail;
    }
    statuses = json_object_get(call->body, "status");
    if (statuses == NULL) {
        r->statuses = 1u << DLV_FAILED | 1u << DLV_EXHAUSTED;
    } else {
        size_t i;
        json_t *item;
        json_array_foreach(statuses, i, item)
        {
            int status = delivery_status_parse(json_string_value(item));
            if (status != DLV_FAILED && status != DLV_EXHAUSTED && status != DLV_DELIVERED) {
                err_invalid(&e, "status", "status holds failed, exhausted or delivered");
                goto fail;
            }
            r->statuses |= 1u << status;
        }
        if (r->statuses == 0) {
            err_invalid(&e, "status", "status must not be empty");
            goto fail;
        }
    }
    if (!r->ep.is_active) {
        err_set(&e, 409, "endpoint_inactive", NULL, "the endpoint is disabled; enable it first");
        goto fail;
    }
    api_write(call, replay_apply);
    return;
fail:
    api_fail(call, &e);
}

void endpoints_deliveries(struct api_call *call)
{
    struct endpoint *ep = endpoints_load(call);
    if (ep)
        deliveries_list_for(call, ep->id);
}
