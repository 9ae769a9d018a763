/* Inbound sources (§2.7, scope sources): where third parties send webhooks, how they are
 * verified, and the log of what arrived. Reception itself is in inbound.c. */
#include "api/api.h"

#include "core/eventname.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "hookd/hookd.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_MAX_CHARS (SOURCE_SECRET_BYTES - 1)
#define MAX_TOLERANCE_SECONDS (7 * 24 * 3600)
#define HEADER_NAME_CHARS 100

static const char *const schemes[] = {"hmac",   "hookd",   "standard", "github",
                                      "stripe", "shopify", "basic",    "none"};

static const struct jsonv_field source_fields[] = {
    {"name", JSONV_STRING, false, false, LIMIT_NAME_CHARS, 0},
    {"verification", JSONV_OBJECT, false, false, 0, 0},
    {"secret", JSONV_STRING, false, false, SECRET_MAX_CHARS, 0},
    {"event_type", JSONV_STRING, false, true, EVENT_NAME_MAX, 0},
    {"forward", JSONV_BOOL, false, false, 0, 0},
    {"is_active", JSONV_BOOL, false, false, 0, 0},
    {"tolerance_seconds", JSONV_INTEGER, false, false, 0, 0},
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    JSONV_SET_BY_HOOKD,
    {"ingest_url", JSONV_READ_ONLY, false, false, 0, 0},
    {NULL, 0, false, false, 0, 0},
};

static const struct jsonv_field verification_fields[] = {
    {"scheme", JSONV_STRING, true, false, 16, 0},
    {"header", JSONV_STRING, false, false, HEADER_NAME_CHARS, 0},
    {"prefix", JSONV_STRING, false, false, 32, 0},
    {"encoding", JSONV_STRING, false, false, 16, 0},
    {"timestamp_header", JSONV_STRING, false, false, HEADER_NAME_CHARS, 0},
    {"signed_payload", JSONV_STRING, false, false, 32, 0},
    {"username", JSONV_STRING, false, false, LIMIT_NAME_CHARS, 0},
    {NULL, 0, false, false, 0, 0},
};

/* A source as the API shows it; its ingest_url is absolute when hookd knows its public base
 * (--public-url), relative otherwise. */
static json_t *source_json(const struct api_call *call, const struct source *src)
{
    char url[sizeof call->app->cfg->public_url + ID_MAX + 8];
    json_t *verification = json_loads(src->verification ? src->verification : "{}", 0, NULL);
    snprintf(url, sizeof url, "%s/in/%s", call->app->cfg->public_url, src->id);
    json_t *obj = json_pack("{s:s, s:s, s:s, s:o, s:o, s:b, s:b, s:i, s:s}", "id", src->id,
                            "org_id", src->org_id, "name", src->name, "verification",
                            verification ? verification : json_object(), "event_type",
                            src->event_type[0] ? json_string(src->event_type) : json_null(),
                            "forward", src->forward, "is_active", src->is_active,
                            "tolerance_seconds", src->tolerance_seconds, "ingest_url", url);
    json_object_set_new(obj, "created_at", api_time(src->created_at));
    json_object_set_new(obj, "updated_at", api_time(src->updated_at));
    return obj;
}

/* Checks a verification object: a known scheme with the parameters it takes, no others. */
static int check_verification(const json_t *v, struct err *e)
{
    struct err inner;
    const char *scheme, *encoding, *payload;
    size_t i;

    if (jsonv_check(v, verification_fields, &inner) != 0)
        return err_invalid(e, "verification", "verification: %s", inner.message);
    scheme = json_string_value(json_object_get(v, "scheme"));
    for (i = 0; i < sizeof schemes / sizeof schemes[0]; i++)
        if (strcmp(scheme, schemes[i]) == 0)
            break;
    if (i == sizeof schemes / sizeof schemes[0])
        return err_invalid(e, "verification",
                           "verification.scheme must be one of hmac, hookd, "
                           "standard, github, stripe, shopify, basic, none");
    if (strcmp(scheme, "hmac") != 0) {
        const char *hmac_only[] = {"header", "prefix", "encoding", "timestamp_header",
                                   "signed_payload"};
        for (i = 0; i < sizeof hmac_only / sizeof hmac_only[0]; i++)
            if (json_object_get(v, hmac_only[i]))
                return err_invalid(e, "verification", "verification.%s is for the hmac scheme",
                                   hmac_only[i]);
    }
    if ((strcmp(scheme, "basic") == 0) != (json_object_get(v, "username") != NULL))
        return err_invalid(e, "verification",
                           "verification.username goes with the basic scheme, and only with it");
    if (strcmp(scheme, "hmac") != 0)
        return 0;
    if (json_object_get(v, "header") == NULL)
        return err_invalid(e, "verification", "verification.header is required for hmac");
    encoding = json_string_value(json_object_get(v, "encoding"));
    if (encoding && strcmp(encoding, "hex") != 0 && strcmp(encoding, "base64") != 0)
        return err_invalid(e, "verification", "verification.encoding must be hex or base64");
    payload = json_string_value(json_object_get(v, "signed_payload"));
    if (payload && strcmp(payload, "body") != 0 && strcmp(payload, "timestamp.body") != 0)
        return err_invalid(e, "verification",
                           "verification.signed_payload must be body or timestamp.body");
    if (payload && strcmp(payload, "timestamp.body") == 0 &&
        json_object_get(v, "timestamp_header") == NULL)
        return err_invalid(e, "verification",
                           "verification.signed_payload timestamp.body needs timestamp_header");
    return 0;
}

/* A secret the scheme can use: Standard Webhooks secrets must decode as base64. */
static int check_secret(const struct source *src, struct err *e)
{
    char sig[HOOKD_SIGNATURE_MAX];
    json_t *v = json_loads(src->verification, 0, NULL);
    const char *scheme = json_string_value(json_object_get(v, "scheme"));
    int rc = 0;
    if (src->secret[0] == '\0')
        rc = err_invalid(e, "secret", "secret must not be empty");
    else if (scheme && strcmp(scheme, "standard") == 0 &&
             hookd_sign_standard(src->secret, "msg", 0, "", 0, sig, sizeof sig) != HOOKD_OK)
        rc = err_invalid(e, "secret", "a standard secret is whsec_ followed by base64");
    json_decref(v);
    return rc;
}

/* Applies the body's fields to src after checking them. */
static int apply_fields(const json_t *body, struct source *src, struct err *e)
{
    json_t *value;
    if ((value = json_object_get(body, "name")) != NULL)
        text_copy(src->name, sizeof src->name, json_string_value(value));
    if ((value = json_object_get(body, "verification")) != NULL) {
        if (check_verification(value, e) != 0)
            return ERR_FAIL;
        free(src->verification);
        src->verification = json_dumps(value, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    if ((value = json_object_get(body, "secret")) != NULL)
        text_copy(src->secret, sizeof src->secret, json_string_value(value));
    if ((value = json_object_get(body, "event_type")) != NULL) {
        const char *type = json_is_null(value) ? "" : json_string_value(value);
        if (type[0] && !event_name_is_valid(type))
            return err_invalid(e, "event_type", "event_type must match [a-z0-9_]+(.[a-z0-9_]+)*");
        text_copy(src->event_type, sizeof src->event_type, type);
    }
    if ((value = json_object_get(body, "forward")) != NULL)
        src->forward = json_is_true(value);
    if ((value = json_object_get(body, "is_active")) != NULL)
        src->is_active = json_is_true(value);
    if ((value = json_object_get(body, "tolerance_seconds")) != NULL) {
        json_int_t t = json_integer_value(value);
        if (t < 0 || t > MAX_TOLERANCE_SECONDS)
            return err_invalid(e, "tolerance_seconds",
                               "tolerance_seconds must be from 0 (no check) to %d",
                               MAX_TOLERANCE_SECONDS);
        src->tolerance_seconds = (int)t;
    }
    return check_secret(src, e);
}

static void source_free(void *ptr)
{
    source_clear(ptr);
    free(ptr);
}

/* --- create, read --- */

static int create_apply(struct store_conn *tx, struct api_call *call)
{
    struct source *src = call->data;
    int rc = store_source_insert(tx, src);
    if (rc != 0)
        return rc;
    call->reply_status = 201;
    call->reply = source_json(call, src);
    call->idem_reply = json_deep_copy(call->reply); /* a replay never shows the secret */
    json_object_set_new(call->reply, "secret", json_string(src->secret));
    return 0;
}

void sources_create(struct api_call *call)
{
    struct source *src;
    struct org org;
    struct err e;

    if (api_check_body(call, source_fields) != 0)
        return;
    if (json_object_get(call->body, "name") == NULL ||
        json_object_get(call->body, "verification") == NULL) {
        err_invalid(&e, json_object_get(call->body, "name") ? "verification" : "name",
                    "name and verification are required");
        api_fail(call, &e);
        return;
    }
    if (api_require_text(call, "name") == NULL || api_target_org(call, &org) != 0)
        return;
    src = xcalloc(1, sizeof *src);
    api_set_data(call, src, source_free);
    src->created_at = src->updated_at = time_now_ms();
    id_make("src_", src->created_at, src->id);
    text_copy(src->org_id, sizeof src->org_id, org.id);
    src->forward = true;
    src->is_active = true;
    src->tolerance_seconds = 300;
    if (hookd_secret_generate(src->secret, sizeof src->secret) != HOOKD_OK) {
        err_internal(&e, "cannot generate a secret");
        api_fail(call, &e);
        return;
    }
    if (apply_fields(call->body, src, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    api_write(call, create_apply);
}

/* Loads the source named in the path into call->data; answers 404 if absent. */
static struct source *load_source(struct api_call *call)
{
    struct org org;
    struct source *src;
    int rc;
    if (api_target_org(call, &org) != 0)
        return NULL;
    src = xcalloc(1, sizeof *src);
    rc = store_source_get(call->conn, org.id, call->params.value[0], src);
    if (rc != 0) {
        free(src);
        api_fail_store(call, rc, "source");
        return NULL;
    }
    api_set_data(call, src, source_free);
    return src;
}

void sources_get(struct api_call *call)
{
    struct source *src = load_source(call);
    if (src)
        api_reply(call, 200, source_json(call, src));
}

void sources_list(struct api_call *call)
{
    struct page page;
    struct org org;
    struct source *items;
    int count = 0, rc;

    if (api_page(call, &page) != 0 || api_target_org(call, &org) != 0)
        return;
    items = xcalloc((size_t)page.limit + 1, sizeof *items);
    rc = store_source_list(call->conn, org.id, &page, items, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "source");
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(data, source_json(call, &items[i]));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(data, count, &page, items[last].created_at, items[last].id));
    }
    for (int i = 0; i < count; i++)
        source_clear(&items[i]);
    free(items);
}

/* --- update, rotate, delete --- */

static int update_apply(struct store_conn *tx, struct api_call *call)
{
    struct source *src = call->data;
    int rc = store_source_update(tx, src);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such source");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = source_json(call, src);
    return 0;
}

void sources_update(struct api_call *call)
{
    struct source *src;
    struct err e;
    if (api_check_body(call, source_fields) != 0 || (src = load_source(call)) == NULL)
        return;
    if (json_object_get(call->body, "name") && api_require_text(call, "name") == NULL)
        return;
    if (apply_fields(call->body, src, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    src->updated_at = time_now_ms();
    api_write(call, update_apply);
}

static int rotate_apply(struct store_conn *tx, struct api_call *call)
{
    struct source *src = call->data;
    int rc = update_apply(tx, call);
    if (rc == 0) {
        json_decref(call->reply);
        call->reply = json_pack("{s:s, s:s}", "id", src->id, "secret", src->secret);
    }
    return rc;
}

void sources_rotate(struct api_call *call)
{
    static const struct jsonv_field fields[] = {
        {"secret", JSONV_STRING, false, false, SECRET_MAX_CHARS, 0},
        {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
        {NULL, 0, false, false, 0, 0},
    };
    struct source *src;
    struct err e;
    if (api_check_body(call, fields) != 0 || (src = load_source(call)) == NULL)
        return;
    /* the sender's new secret, or a fresh one when hookd chooses it */
    if (json_object_get(call->body, "secret") == NULL &&
        hookd_secret_generate(src->secret, sizeof src->secret) != HOOKD_OK) {
        err_internal(&e, "cannot generate a secret");
        api_fail(call, &e);
        return;
    }
    if (apply_fields(call->body, src, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    src->updated_at = time_now_ms();
    api_write(call, rotate_apply);
}

static int delete_apply(struct store_conn *tx, struct api_call *call)
{
    struct source *src = call->data;
    int rc = store_source_delete(tx, src->org_id, src->id, time_now_ms());
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such source");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = json_pack("{s:s, s:s}", "id", src->id, "status", "deleted");
    return 0;
}

void sources_delete(struct api_call *call)
{
    if (load_source(call))
        api_write(call, delete_apply);
}

/* --- the message log --- */

static json_t *message_json(const struct inbound_message *m, bool with_content)
{
    json_t *obj = json_pack(
        "{s:s, s:s, s:s, s:o, s:i, s:o, s:o}", "id", m->id, "source_id", m->source_id, "status",
        m->status, "reason", m->reason[0] ? json_string(m->reason) : json_null(), "http_status",
        m->http_status, "event_id", m->event_id[0] ? json_string(m->event_id) : json_null(),
        "created_at", api_time(m->created_at));
    if (with_content) {
        char *body = xstrndup(m->body ? m->body : "", m->body_len);
        utf8_scrub(body, m->body_len); /* rejected bodies may be any bytes */
        json_object_set_new(obj, "headers", api_header_object(m->headers));
        json_object_set_new(obj, "body", json_string(body));
        json_object_set_new(obj, "body_truncated", json_boolean(m->body_truncated));
        free(body);
    }
    return obj;
}

void sources_messages(struct api_call *call)
{
    struct page page;
    struct source *src;
    struct inbound_message *items;
    const char *status = http_query(call->http, "status");
    int count = 0, rc;
    struct err e;

    if (api_page(call, &page) != 0)
        return;
    if (status && strcmp(status, "accepted") != 0 && strcmp(status, "duplicate") != 0 &&
        strcmp(status, "rejected") != 0) {
        err_invalid(&e, "status", "status must be accepted, duplicate or rejected");
        api_fail(call, &e);
        return;
    }
    if ((src = load_source(call)) == NULL)
        return;
    items = xcalloc((size_t)page.limit + 1, sizeof *items);
    rc = store_inbound_list(call->conn, src->org_id, src->id, status, &page, items, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "message");
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(data, message_json(&items[i], false));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(data, count, &page, items[last].created_at, items[last].id));
    }
    for (int i = 0; i < count; i++)
        inbound_message_clear(&items[i]);
    free(items);
}

void inbound_get(struct api_call *call)
{
    struct org org;
    struct inbound_message m = {0};
    int rc;
    if (api_target_org(call, &org) != 0)
        return;
    rc = store_inbound_get(call->conn, org.id, call->params.value[0], &m);
    if (rc != 0) {
        api_fail_store(call, rc, "inbound message");
        return;
    }
    api_reply(call, 200, message_json(&m, true));
    inbound_message_clear(&m);
}
