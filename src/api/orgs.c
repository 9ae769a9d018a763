/* Organizations (§2.2): admin CRUD, and the caller's own org with its primary secret. */
#include "api/api.h"

#include "api/auth.h"
#include "engine/engine.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "hookd/hookd.h"
#include "core/text.h"

#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* retention_days: -1 in a prepared change leaves it as it is; at most ten years */
#define RETENTION_UNCHANGED (-1)
#define RETENTION_DAYS_MAX 3650

/* A change to the caller's org, prepared by the handler and written by org_update_apply. */
enum operational_change { OPERATIONAL_UNCHANGED, OPERATIONAL_SET, OPERATIONAL_REMOVE };

struct org_change {
    struct org org; /* only the fields being changed are set */
    enum operational_change operational;
    struct endpoint endpoint; /* OPERATIONAL_SET: the operational endpoint if the org has none */
};

static void org_change_free(void *ptr)
{
    struct org_change *change = ptr;
    endpoint_clear(&change->endpoint);
    free(change);
}

static json_t *text_or_null(const char *text)
{
    return text[0] ? json_string(text) : json_null();
}

/* (api.h) */
json_t *orgs_portal_json(const struct org *org)
{
    return json_pack("{s:o, s:o, s:o}", "name", text_or_null(org->portal_name), "logo_url",
                     text_or_null(org->portal_logo_url), "accent_color",
                     text_or_null(org->portal_accent_color));
}

static json_t *org_json(const struct org *org, bool with_secret)
{
    json_t *obj =
        json_pack("{s:s, s:s, s:s, s:o}", "id", org->id, "name", org->name, "signature_scheme",
                  org->signature_scheme, "created_at", api_time(org->created_at));
    json_object_set_new(obj, "retention_days",
                        org->retention_days > 0 ? json_integer(org->retention_days) : json_null());
    json_object_set_new(obj, "portal", orgs_portal_json(org));
    if (with_secret)
        json_object_set_new(obj, "primary_secret", json_string(org->primary_secret));
    return obj;
}

static int new_secret(char out[SECRET_BYTES], struct err *e)
{
    if (hookd_secret_generate(out, SECRET_BYTES) != HOOKD_OK)
        return err_internal(e, "cannot generate a secret");
    return 0;
}

/* A name: required, non-empty, at most LIMIT_NAME_CHARS. */
static const struct jsonv_field org_create_fields[] = {
    {"name", JSONV_STRING, true, false, LIMIT_NAME_CHARS, 0},
    {NULL, 0, false, false, 0, 0},
};

static int org_create_apply(struct store_conn *tx, struct api_call *call)
{
    struct org *org = call->data;
    if (store_org_insert(tx, org) != 0)
        return ERR_FAIL;
    call->reply_status = 201;
    call->reply = org_json(org, false);
    return 0;
}

void orgs_create(struct api_call *call)
{
    struct org *org;
    struct err e;
    const char *name;

    if (api_check_body(call, org_create_fields) != 0)
        return;
    name = api_require_text(call, "name");
    if (name == NULL)
        return;
    org = xcalloc(1, sizeof *org);
    call->data = org;
    org->created_at = time_now_ms();
    id_make("org_", org->created_at, org->id);
    text_copy(org->name, sizeof org->name, name);
    snprintf(org->signature_scheme, sizeof org->signature_scheme, "standard");
    if (new_secret(org->primary_secret, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    api_write(call, org_create_apply);
}

void orgs_list(struct api_call *call)
{
    struct page page;
    struct org *orgs;
    struct store_conn *conn;
    int count = 0, rc;

    if (api_page(call, &page) != 0 || (conn = api_conn(call)) == NULL)
        return;
    orgs = xcalloc((size_t)page.limit + 1, sizeof *orgs);
    rc = store_org_list(conn, &page, orgs, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "organization");
    } else {
        json_t *items = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(items, org_json(&orgs[i], false));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(items, count, &page, orgs[last].created_at, orgs[last].id));
    }
    free(orgs);
}

void orgs_get(struct api_call *call)
{
    struct org org;
    struct store_conn *conn = api_conn(call);
    int rc;
    if (conn == NULL)
        return;
    rc = store_org_get(conn, call->params.value[0], &org);
    if (rc != 0)
        api_fail_store(call, rc, "organization");
    else
        api_reply(call, 200, org_json(&org, false));
}

static void notify_engine(struct api_call *call, const char *org_id)
{
    if (call->app->engine)
        engine_org_changed(call->app->engine, org_id);
}

static void org_gone(struct api_call *call)
{
    auth_after_revocation(call);
    notify_engine(call, call->params.value[0]);
}

static void org_changed(struct api_call *call)
{
    notify_engine(call, ((struct org_change *)call->data)->org.id);
}

static int org_delete_apply(struct store_conn *tx, struct api_call *call)
{
    const char *id = call->params.value[0];
    int rc = store_org_delete(tx, id, time_now_ms());
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such organization");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = json_pack("{s:s, s:s}", "id", id, "status", "deleted");
    call->after_commit = org_gone;
    return 0;
}

void orgs_delete(struct api_call *call)
{
    api_write(call, org_delete_apply);
}

/* --- the caller's own org --- */

/* The org's own view: with its primary secret and its operational webhook. */
static json_t *org_self_json(struct store_conn *c, const struct org *org, int *rc)
{
    struct endpoint ep = {0};
    json_t *obj;
    *rc = store_endpoint_operational(c, org->id, &ep);
    if (*rc != 0 && *rc != ERR_NOT_FOUND)
        return NULL;
    obj = org_json(org, true);
    json_object_set_new(obj, "operational_webhook_url",
                        *rc == 0 ? json_string(ep.url) : json_null());
    json_object_set_new(obj, "operational_endpoint_id",
                        *rc == 0 ? json_string(ep.id) : json_null());
    json_object_set_new(obj, "operational_webhook_secret",
                        *rc == 0 ? json_string(ep.secret) : json_null());
    endpoint_clear(&ep);
    *rc = 0;
    return obj;
}

void org_self_get(struct api_call *call)
{
    struct org org;
    json_t *obj;
    int rc;
    if (api_target_org_full(call, &org) != 0 || api_conn(call) == NULL)
        return;
    if ((obj = org_self_json(call->conn, &org, &rc)) == NULL)
        api_fail_store(call, rc, "organization");
    else
        api_reply(call, 200, obj);
}

/* Points the org's operational endpoint at the change's URL (active again, its failures
 * forgotten), creating it if the org has none, or removes it. */
static int write_operational(struct store_conn *tx, struct org_change *change)
{
    struct endpoint ep = {0};
    int rc = store_endpoint_operational(tx, change->org.id, &ep);
    if (rc == ERR_NOT_FOUND)
        return change->operational == OPERATIONAL_SET ? store_endpoint_insert(tx, &change->endpoint)
                                                      : 0;
    if (rc == 0 && change->operational == OPERATIONAL_REMOVE) {
        rc = store_endpoint_delete(tx, ep.org_id, ep.id, time_now_ms());
    } else if (rc == 0) {
        free(ep.url);
        ep.url = xstrdup(change->endpoint.url);
        ep.is_active = true;
        ep.consecutive_failures = 0;
        ep.disabled_at = 0;
        ep.disabled_reason[0] = '\0';
        ep.updated_at = time_now_ms();
        rc = store_endpoint_update(tx, &ep);
    }
    endpoint_clear(&ep);
    return rc;
}

static const struct jsonv_field org_patch_fields[] = {
    {"signature_scheme", JSONV_STRING, false, false, 16, 0},
    {"operational_webhook_url", JSONV_URL, false, true, 0, 0},
    {"portal", JSONV_OBJECT, false, false, 0, 0},
    {"operational_endpoint_id", JSONV_READ_ONLY, false, false, 0, 0},
    {"operational_webhook_secret", JSONV_READ_ONLY, false, false, 0, 0},
    {"retention_days", JSONV_INTEGER, false, true, 0, 0},
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    {"primary_secret", JSONV_READ_ONLY, false, false, 0, 0}, /* rotate-secret changes it */
    JSONV_SET_BY_HOOKD,
    {NULL, 0, false, false, 0, 0},
};

static const struct jsonv_field org_rotate_fields[] = {
    {"org_id", JSONV_STRING, false, false, ID_MAX - 1, 0},
    {NULL, 0, false, false, 0, 0},
};

/* The portal's branding, {name?, logo_url?, accent_color?}: each given field replaces the one
 * stored, null clears it. */
static const struct jsonv_field branding_fields[] = {
    {"name", JSONV_STRING, false, true, LIMIT_NAME_CHARS, 0},
    {"logo_url", JSONV_STRING, false, true, LIMIT_URL_BYTES, 0},
    {"accent_color", JSONV_STRING, false, true, 7, 0},
    {NULL, 0, false, false, 0, 0},
};

static int check_branding(const struct api_call *call, const json_t *portal, struct err *e)
{
    const char *logo = json_string_value(json_object_get(portal, "logo_url"));
    const char *color = json_string_value(json_object_get(portal, "accent_color"));
    bool http_ok = call->app->cfg->allow_http;
    if (jsonv_check(portal, branding_fields, e) != 0) {
        char field[sizeof e->field + 8];
        snprintf(field, sizeof field, "portal.%s", e->field);
        text_copy(e->field, sizeof e->field, field);
        return ERR_FAIL;
    }
    if (logo && strncmp(logo, "https://", 8) != 0 && !(http_ok && strncmp(logo, "http://", 7) == 0))
        return err_invalid(e, "portal.logo_url", "logo_url must be an https:// URL");
    if (color &&
        (strlen(color) != 7 || color[0] != '#' || strspn(color + 1, "0123456789abcdefABCDEF") != 6))
        return err_invalid(e, "portal.accent_color", "accent_color must be #rrggbb");
    return 0;
}

static void apply_branding(struct org *org, const json_t *portal)
{
    static const struct {
        const char *field;
        size_t offset, size;
    } fields[] = {
        {"name", offsetof(struct org, portal_name), sizeof org->portal_name},
        {"logo_url", offsetof(struct org, portal_logo_url), sizeof org->portal_logo_url},
        {"accent_color", offsetof(struct org, portal_accent_color),
         sizeof org->portal_accent_color},
    };
    for (size_t i = 0; portal && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *value = json_object_get(portal, fields[i].field);
        if (value)
            text_copy((char *)org + fields[i].offset, fields[i].size,
                      json_is_string(value) ? json_string_value(value) : "");
    }
}

/* Re-reads the org inside the transaction and writes the change the handler prepared. */
static int org_update_apply(struct store_conn *tx, struct api_call *call)
{
    struct org_change *prepared = call->data;
    struct org *change = &prepared->org, current;
    int rc = store_org_get(tx, change->id, &current);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such organization");
    if (rc != 0)
        return rc;
    if (change->signature_scheme[0] != '\0')
        memcpy(current.signature_scheme, change->signature_scheme, sizeof current.signature_scheme);
    if (change->primary_secret[0] != '\0')
        memcpy(current.primary_secret, change->primary_secret, sizeof current.primary_secret);
    if (change->retention_days != RETENTION_UNCHANGED)
        current.retention_days = change->retention_days;
    apply_branding(&current, json_object_get(call->body, "portal"));
    rc = store_org_update(tx, &current);
    if (rc == 0 && prepared->operational != OPERATIONAL_UNCHANGED)
        rc = write_operational(tx, prepared);
    if (rc != 0 || (call->reply = org_self_json(tx, &current, &rc)) == NULL)
        return rc ? rc : ERR_FAIL;
    call->reply_status = 200;
    call->after_commit = org_changed;
    return 0;
}

void org_self_patch(struct api_call *call)
{
    struct org_change *prepared;
    struct org *change;
    struct err e;
    json_t *scheme, *operational = json_object_get(call->body, "operational_webhook_url");

    if (api_check_body(call, org_patch_fields) != 0)
        return;
    json_t *retention = json_object_get(call->body, "retention_days");
    if (retention && json_is_integer(retention) &&
        (json_integer_value(retention) < 1 || json_integer_value(retention) > RETENTION_DAYS_MAX)) {
        err_invalid(&e, "retention_days",
                    "retention_days must be 1 to %d days, or null for the server's --retention",
                    RETENTION_DAYS_MAX);
        api_fail(call, &e);
        return;
    }
    json_t *portal = json_object_get(call->body, "portal");
    if (portal && check_branding(call, portal, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    scheme = json_object_get(call->body, "signature_scheme");
    if (scheme && strcmp(json_string_value(scheme), "standard") != 0 &&
        strcmp(json_string_value(scheme), "hex") != 0) {
        err_invalid(&e, "signature_scheme", "signature_scheme must be standard or hex");
        api_fail(call, &e);
        return;
    }
    prepared = xcalloc(1, sizeof *prepared);
    api_set_data(call, prepared, org_change_free);
    change = &prepared->org;
    if (api_target_org(call, change) != 0)
        return;
    if (operational && json_is_null(operational)) {
        prepared->operational = OPERATIONAL_REMOVE;
    } else if (operational) {
        const char *url = json_string_value(operational);
        if (endpoints_check_url(call, url, "operational_webhook_url", &e) != 0 ||
            endpoint_init(&prepared->endpoint, change->id, url, &e) != 0) {
            api_fail(call, &e);
            return;
        }
        prepared->operational = OPERATIONAL_SET;
        prepared->endpoint.operational = true;
        text_copy(prepared->endpoint.name, sizeof prepared->endpoint.name, "operational webhooks");
    }
    /* only the fields being changed stay set */
    memset(change->primary_secret, 0, sizeof change->primary_secret);
    memset(change->signature_scheme, 0, sizeof change->signature_scheme);
    change->retention_days = retention == NULL            ? RETENTION_UNCHANGED
                             : json_is_integer(retention) ? (int)json_integer_value(retention)
                                                          : 0;
    if (scheme)
        snprintf(change->signature_scheme, sizeof change->signature_scheme, "%s",
                 json_string_value(scheme));
    api_write(call, org_update_apply);
}

void org_self_rotate(struct api_call *call)
{
    struct org_change *prepared;
    struct org *change;
    struct err e;

    if (api_check_body(call, org_rotate_fields) != 0)
        return;
    prepared = xcalloc(1, sizeof *prepared);
    api_set_data(call, prepared, org_change_free);
    change = &prepared->org;
    if (api_target_org(call, change) != 0)
        return;
    memset(change->signature_scheme, 0, sizeof change->signature_scheme);
    change->retention_days = RETENTION_UNCHANGED;
    if (new_secret(change->primary_secret, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    api_write(call, org_update_apply);
}
