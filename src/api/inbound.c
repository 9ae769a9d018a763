/* POST /in/{source_id} (§2.7): third-party webhooks arrive here. No API key: the signature is
 * the credential, verified over the exact raw bytes by libhookd. Every request is recorded with
 * its verdict; accepted ones become events in the same transaction (group commit). */
#include "api/api.h"

#include "api/limits.h"
#include "engine/fanout.h"
#include "core/eventname.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "hookd/hookd.h"
#include "core/text.h"

#include <ctype.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEDUPE_WINDOW_MS (24LL * 3600 * 1000)
#define REJECTED_BODY_KEPT 4096 /* bytes of a rejected body worth keeping */
#define FALLBACK_EVENT_TYPE "inbound.received"

/* A request on its way to the writer. */
struct reception {
    struct source src;
    struct inbound_message msg;
    struct fanout *event; /* when accepted and forwarded */
    char scheme[16];      /* the source's verification scheme */
    char error_code[40];
    char error_message[200];
};

static void reception_free(void *ptr)
{
    struct reception *r = ptr;
    source_clear(&r->src);
    inbound_message_clear(&r->msg);
    fanout_free(r->event);
    free(r);
}

/* --- verification, per scheme --- */

struct verdict {
    int status; /* 0 = verified */
    const char *code;
    const char *message;
};

static void refuse(struct verdict *v, int status, const char *code, const char *message)
{
    v->status = status;
    v->code = code;
    v->message = message;
}

static void judge(struct verdict *v, hookd_status status)
{
    switch (status) {
    case HOOKD_OK:
        v->status = 0;
        break;
    case HOOKD_E_TIMESTAMP_TOO_OLD:
    case HOOKD_E_TIMESTAMP_TOO_NEW:
        refuse(v, 400, "stale_timestamp", "the timestamp is outside the tolerance");
        break;
    default:
        refuse(v, 401, "invalid_signature", "the signature does not match");
        break;
    }
}

/* The first of the named headers that is present, or NULL. */
static const char *header_of(struct api_call *call, const char *const *names)
{
    for (; *names; names++) {
        const char *value = http_header(call->http, *names);
        if (value)
            return value;
    }
    return NULL;
}

static void sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[32];
    unsigned int digest_len = sizeof digest;
    EVP_Digest(data, len, digest, &digest_len, EVP_sha256(), NULL);
    hex_encode(digest, sizeof digest, out);
}

static void verify_basic(struct api_call *call, const struct source *src, const json_t *config,
                         struct verdict *v)
{
    const char *given = http_header(call->http, "Authorization");
    const char *username = json_string_value(json_object_get(config, "username"));
    char credentials[SOURCE_SECRET_BYTES + LIMIT_NAME_CHARS * 4 + 2];
    char expected[sizeof credentials * 4 / 3 + 16];
    int n =
        snprintf(credentials, sizeof credentials, "%s:%s", username ? username : "", src->secret);
    EVP_EncodeBlock((unsigned char *)expected, (const unsigned char *)credentials, n);
    OPENSSL_cleanse(credentials, sizeof credentials);
    if (given == NULL)
        refuse(v, 401, "missing_signature", "Authorization: Basic is required");
    else if (strncasecmp(given, "Basic ", 6) != 0 || /* RFC 7617: the scheme in any case */
             strlen(given + 6) != strlen(expected) ||
             CRYPTO_memcmp(given + 6, expected, strlen(expected)) != 0)
        refuse(v, 401, "invalid_signature", "the credentials do not match");
    OPENSSL_cleanse(expected, sizeof expected);
}

/* Verifies the request against its source and fills the dedupe key where the sender gives one
 * in a header (Stripe's is in the payload, taken later). */
static void verify(struct api_call *call, struct reception *r, struct verdict *v)
{
    static const char *const github_sig[] = {"X-Hub-Signature-256", NULL};
    static const char *const stripe_sig[] = {"Stripe-Signature", NULL};
    static const char *const shopify_sig[] = {"X-Shopify-Hmac-Sha256", NULL};
    static const char *const hookd_sig[] = {"X-Webhook-Signature", NULL};
    static const char *const std_sig[] = {"webhook-signature", "svix-signature", NULL};
    static const char *const std_id[] = {"webhook-id", "svix-id", NULL};
    static const char *const std_ts[] = {"webhook-timestamp", "svix-timestamp", NULL};
    const struct source *src = &r->src;
    json_t *config = json_loads(src->verification, 0, NULL);
    const char *scheme = json_string_value(json_object_get(config, "scheme"));
    size_t len;
    const char *body = http_body(call->http, &len), *sig = NULL, *key_header = NULL;
    long long tolerance = src->tolerance_seconds, now = time_now_ms() / 1000;

    v->status = 0;
    scheme = scheme ? scheme : "none";
    text_copy(r->scheme, sizeof r->scheme, scheme);
    if (strcmp(scheme, "none") == 0) {
        /* documented as unsafe: anyone who knows the URL can send */
    } else if (strcmp(scheme, "basic") == 0) {
        verify_basic(call, src, config, v);
    } else if (strcmp(scheme, "standard") == 0) {
        const char *id = header_of(call, std_id), *ts = header_of(call, std_ts);
        sig = header_of(call, std_sig);
        key_header = id;
        if (sig && id && ts)
            judge(v, hookd_verify_standard(src->secret, id, ts, sig, body, len, tolerance, now));
        else
            sig = NULL; /* without its id and timestamp a signature proves nothing */
    } else if (strcmp(scheme, "hookd") == 0) {
        const char *ts = http_header(call->http, "X-Webhook-Timestamp");
        sig = header_of(call, hookd_sig);
        if (sig && ts)
            judge(v, hookd_verify_hex(src->secret, ts, sig, body, len, tolerance, now));
        else
            sig = NULL;
    } else if (strcmp(scheme, "github") == 0) {
        sig = header_of(call, github_sig);
        key_header = http_header(call->http, "X-GitHub-Delivery");
        if (sig)
            judge(v, hookd_verify_hmac(src->secret, strlen(src->secret), sig,
                                       "sha256=", HOOKD_ENCODING_HEX, NULL, body, len, 0, 0));
    } else if (strcmp(scheme, "shopify") == 0) {
        sig = header_of(call, shopify_sig);
        key_header = http_header(call->http, "X-Shopify-Webhook-Id");
        if (sig)
            judge(v, hookd_verify_hmac(src->secret, strlen(src->secret), sig, NULL,
                                       HOOKD_ENCODING_BASE64, NULL, body, len, 0, 0));
    } else if (strcmp(scheme, "stripe") == 0) {
        sig = header_of(call, stripe_sig);
        if (sig)
            judge(v, hookd_verify_stripe(src->secret, sig, body, len, tolerance, now));
    } else { /* hmac */
        const char *names[] = {json_string_value(json_object_get(config, "header")), NULL};
        const char *ts_name = json_string_value(json_object_get(config, "timestamp_header"));
        const char *payload = json_string_value(json_object_get(config, "signed_payload"));
        const char *encoding = json_string_value(json_object_get(config, "encoding"));
        bool with_ts = ts_name && (payload == NULL || strcmp(payload, "timestamp.body") == 0);
        const char *ts = with_ts ? http_header(call->http, ts_name) : NULL;
        sig = header_of(call, names);
        if (sig && (!with_ts || ts))
            judge(v, hookd_verify_hmac(src->secret, strlen(src->secret), sig,
                                       json_string_value(json_object_get(config, "prefix")),
                                       encoding && strcmp(encoding, "base64") == 0
                                           ? HOOKD_ENCODING_BASE64
                                           : HOOKD_ENCODING_HEX,
                                       ts, body, len, tolerance, now));
        else
            sig = NULL;
    }
    if (v->status == 0 && sig == NULL && strcmp(scheme, "none") != 0 &&
        strcmp(scheme, "basic") != 0)
        refuse(v, 401, "missing_signature", "the request carries no signature");
    /* the sender's message id; without one, the signature (or the body) stands for it */
    if (key_header)
        snprintf(r->msg.dedupe_key, sizeof r->msg.dedupe_key, "id:%s", key_header);
    else if (sig)
        snprintf(r->msg.dedupe_key, sizeof r->msg.dedupe_key, "sig:%s", sig);
    else {
        char digest[65];
        sha256_hex(body, len, digest);
        snprintf(r->msg.dedupe_key, sizeof r->msg.dedupe_key, "body:%s", digest);
    }
    json_decref(config);
}

/* The event type (§2.7): the source's, else the preset's header, else the payload's type. */
static void event_type_of(struct api_call *call, const struct reception *r, const json_t *payload,
                          char *out, size_t size)
{
    const char *scheme = NULL, *candidate = NULL;
    json_t *config = json_loads(r->src.verification, 0, NULL);
    scheme = json_string_value(json_object_get(config, "scheme"));
    if (r->src.event_type[0])
        candidate = r->src.event_type;
    else if (scheme && strcmp(scheme, "github") == 0)
        candidate = http_header(call->http, "X-GitHub-Event");
    else if (scheme && strcmp(scheme, "shopify") == 0)
        candidate = http_header(call->http, "X-Shopify-Topic");
    if (candidate == NULL)
        candidate = json_string_value(json_object_get(payload, "type"));
    snprintf(out, size, "%s", candidate ? candidate : "");
    json_decref(config);
    /* "orders/create" → "orders.create"; other characters a name cannot hold → "_" */
    for (char *p = out; *p; p++) {
        *p = (char)tolower((unsigned char)*p);
        if (*p == '/')
            *p = '.';
        else if (!isalnum((unsigned char)*p) && *p != '.' && *p != '_')
            *p = '_';
    }
    if (!event_name_is_valid(out))
        snprintf(out, size, "%s", FALLBACK_EVENT_TYPE);
}

/* --- the write --- */

static void answer(struct api_call *call, int status, json_t *body)
{
    call->reply_status = status;
    call->reply = body;
}

/* A sender whose requests keep being refused (a wrong secret, a changed format) is told to the
 * org once per streak. Refusals of hookd's own rate limit are not the sender's fault. */
static int count_rejection(struct store_conn *tx, struct api_call *call, const struct reception *r)
{
    int in_row, rc;
    if (r->msg.http_status == 429)
        return 0;
    rc = store_source_rejected(tx, r->src.id, &in_row);
    if (rc != 0 || in_row != SOURCE_FAILING_AFTER)
        return rc;
    return notice_store(tx, &call->notices, r->src.org_id, NULL, NOTICE_SOURCE_FAILING,
                        json_pack("{s:s, s:s, s:i, s:{s:s, s:i, s:s, s:s}}", "source_id", r->src.id,
                                  "source_name", r->src.name, "rejected_in_row", in_row,
                                  "last_rejection", "message_id", r->msg.id, "http_status",
                                  r->msg.http_status, "error", r->error_code, "message",
                                  r->error_message),
                        api_engine_node(call->app));
}

static int record_apply(struct store_conn *tx, struct api_call *call)
{
    struct reception *r = call->data;
    struct inbound_message *m = &r->msg;
    int rc;

    if (strcmp(m->status, "rejected") == 0) {
        answer(call, m->http_status,
               json_pack("{s:s, s:s, s:s}", "error", r->error_code, "message", r->error_message,
                         "id", m->id));
        rc = store_inbound_insert(tx, m);
        return rc ? rc : count_rejection(tx, call, r);
    }
    if ((rc = store_source_accepted(tx, m->source_id)) != 0)
        return rc;
    rc = store_inbound_seen(tx, m->source_id, m->dedupe_key, m->created_at - DEDUPE_WINDOW_MS);
    if (rc == 0) { /* accepted before: recorded, not forwarded again */
        snprintf(m->status, sizeof m->status, "duplicate");
        m->http_status = 200;
        answer(call, 200, json_pack("{s:s, s:s}", "status", "duplicate", "id", m->id));
        return store_inbound_insert(tx, m);
    }
    if (rc != ERR_NOT_FOUND)
        return rc;
    if (r->event) {
        rc = fanout_store(tx, r->event, api_engine_node(call->app), &call->error);
        if (rc != 0)
            return rc;
        text_copy(m->event_id, sizeof m->event_id, fanout_event(r->event)->id);
    }
    rc = store_inbound_insert(tx, m);
    if (rc != 0)
        return rc;
    answer(call, 202,
           json_pack("{s:s, s:s, s:o}", "status", "accepted", "id", m->id, "event_id",
                     m->event_id[0] ? json_string(m->event_id) : json_null()));
    return 0;
}

static void hand_off(struct api_call *call)
{
    struct reception *r = call->data;
    metrics_inbound(r->msg.status, r->msg.reason);
    if (r->event && strcmp(r->msg.status, "accepted") == 0) {
        metrics_events_accepted(1);
        fanout_hand_off(r->event, call->app->engine);
    }
}

/* Records a refused request (its body cut short) and answers with the error after commit. */
static void reject(struct api_call *call, struct reception *r, int status, const char *code,
                   const char *message)
{
    snprintf(r->msg.status, sizeof r->msg.status, "rejected");
    text_copy(r->msg.reason, sizeof r->msg.reason, code);
    text_copy(r->error_code, sizeof r->error_code, code);
    text_copy(r->error_message, sizeof r->error_message, message);
    r->msg.http_status = status;
    if (r->msg.body_len > REJECTED_BODY_KEPT) {
        r->msg.body_len = REJECTED_BODY_KEPT;
        r->msg.body_truncated = true;
    }
    api_write(call, record_apply);
}

void inbound_receive(struct api_call *call)
{
    static const char *const redacted[] = {"Authorization", "Proxy-Authorization", "Cookie", NULL};
    struct reception *r = xcalloc(1, sizeof *r);
    struct store_conn *conn;
    struct verdict v;
    const char *type = http_header(call->http, "Content-Type");
    const char *body;
    size_t len;
    int retry_after, rc;
    json_t *payload;
    char org_bucket[ID_MAX + 8];
    struct err e;

    api_set_data(call, r, reception_free);
    if ((conn = api_conn(call)) == NULL)
        return;
    rc = store_source_get(conn, "", call->params.value[0], &r->src);
    if (rc != 0 || !r->src.is_active) {
        err_set(&e, rc == ERR_FAIL ? 503 : 404, rc == ERR_FAIL ? "unavailable" : "not_found", NULL,
                rc == ERR_FAIL ? "the store is not reachable" : "no such source");
        api_fail(call, &e);
        return;
    }
    body = http_body(call->http, &len);
    r->msg.created_at = time_now_ms();
    id_make("in_", r->msg.created_at, r->msg.id);
    memcpy(r->msg.source_id, r->src.id, sizeof r->msg.source_id);
    memcpy(r->msg.org_id, r->src.org_id, sizeof r->msg.org_id);
    r->msg.headers = http_header_lines(call->http, redacted);
    r->msg.body = xstrndup(body, len);
    r->msg.body_len = len;
    call->after_commit = hand_off;

    if (http_body_too_large(call->http)) { /* the body is gone: the record says why */
        char message[64];
        snprintf(message, sizeof message, "the body is larger than %ld bytes",
                 call->app->cfg->max_body);
        reject(call, r, 413, "payload_too_large", message);
        return;
    }
    snprintf(org_bucket, sizeof org_bucket, "in:%s", r->src.org_id);
    if (call->app->limits && !key_limits_take(call->app->limits, org_bucket, &retry_after)) {
        char seconds[16];
        snprintf(seconds, sizeof seconds, "%d", retry_after);
        http_add_header(call->http, "Retry-After", seconds);
        reject(call, r, 429, "rate_limited", "too many requests for this organization");
        return;
    }
    if (type && !api_is_json_type(type)) {
        reject(call, r, 415, "unsupported_media_type", "send the body as application/json");
        return;
    }
    verify(call, r, &v);
    if (v.status != 0) {
        reject(call, r, v.status, v.code, v.message);
        return;
    }
    payload = json_loadb(body, len, JSON_DECODE_ANY, NULL);
    if (payload == NULL || jsonv_depth(payload) > JSONV_MAX_DEPTH) {
        json_decref(payload);
        reject(call, r, 400, "invalid_json", "the body is not valid JSON");
        return;
    }
    if (!json_is_object(payload)) { /* as /v1/events: an event is an object */
        json_decref(payload);
        reject(call, r, 400, "invalid_json", "the body must be a JSON object");
        return;
    }
    /* Stripe names its events in the payload: that id is the message id */
    json_t *stripe_id = json_object_get(payload, "id");
    if (strcmp(r->scheme, "stripe") == 0 && json_is_string(stripe_id))
        snprintf(r->msg.dedupe_key, sizeof r->msg.dedupe_key, "id:%s",
                 json_string_value(stripe_id));
    snprintf(r->msg.status, sizeof r->msg.status, "accepted");
    r->msg.http_status = 202;
    if (r->src.forward) {
        char event_type[NAME_BYTES];
        char *data = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                                             JSON_REAL_PRECISION(17));
        event_type_of(call, r, payload, event_type, sizeof event_type);
        r->event = fanout_new(r->src.org_id, NULL, event_type, data ? data : "null");
        free(data);
    }
    json_decref(payload);
    api_write(call, record_apply);
}
