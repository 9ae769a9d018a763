/* The customer portal's sessions (issue 16): a product team mints a one-time link for one of its
 * customers (an org); the portal page exchanges it once for a short session that sees only that
 * org's endpoints (maybe fewer, maybe read-only) and their deliveries. Both credentials are kept
 * as SHA-256 hashes only. */
#include "api/api.h"

#include "api/auth.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EXPIRES_IN 3600
#define MAX_EXPIRES_IN (7 * 24 * 3600)
#define MAX_ENDPOINT_IDS 100

/* A link being minted: the row and its text, shown once. */
struct portal_draft {
    struct portal_session ps;
    char link[KEY_TEXT_MAX];
};

static void draft_free(void *ptr)
{
    struct portal_draft *d = ptr;
    portal_session_clear(&d->ps);
    OPENSSL_cleanse(d->link, sizeof d->link);
    free(d);
}

static json_t *session_json(const struct portal_session *ps)
{
    json_t *ids = ps->endpoint_ids ? json_loads(ps->endpoint_ids, 0, NULL) : NULL;
    json_t *obj = json_pack("{s:s, s:s, s:b, s:o, s:I}", "id", ps->id, "org_id", ps->org_id,
                            "read_only", ps->read_only, "endpoint_ids", ids ? ids : json_null(),
                            "expires_in", (json_int_t)(ps->expires_in_ms / 1000));
    json_object_set_new(obj, "expires_at", api_time(ps->expires_at));
    json_object_set_new(obj, "exchanged_at", api_time(ps->exchanged_at));
    json_object_set_new(obj, "session_expires_at", api_time(ps->session_expires_at));
    json_object_set_new(obj, "revoked_at", api_time(ps->revoked_at));
    json_object_set_new(obj, "created_at", api_time(ps->created_at));
    return obj;
}

/* The org of /v1/orgs/{id}/...: any for an admin key, its own for an org key (else 404). */
static int path_org(struct api_call *call, struct org *org)
{
    struct err e;
    int rc;
    if (!call->who.is_admin && strcmp(call->who.org_id, call->params.value[0]) != 0) {
        err_set(&e, 404, "not_found", NULL, "no such organization");
        api_fail(call, &e);
        return ERR_NOT_FOUND;
    }
    if (api_conn(call) == NULL)
        return ERR_FAIL;
    rc = store_org_get(call->conn, call->params.value[0], org);
    if (rc != 0)
        api_fail_store(call, rc, "organization");
    return rc;
}

/* Every id names an endpoint of the org that its customers may see (not the operational one). */
static int check_endpoint_ids(struct api_call *call, const char *org_id, const json_t *ids,
                              struct err *e)
{
    size_t i;
    json_t *item;
    if (json_array_size(ids) > MAX_ENDPOINT_IDS)
        return err_invalid(e, "endpoint_ids", "at most %d endpoint ids", MAX_ENDPOINT_IDS);
    json_array_foreach(ids, i, item)
    {
        struct endpoint ep = {0};
        int rc = store_endpoint_get(call->conn, org_id, json_string_value(item), &ep);
        bool operational = ep.operational;
        endpoint_clear(&ep);
        if (rc == ERR_FAIL)
            return err_set(e, 503, "unavailable", NULL, "the store is not reachable");
        if (rc != 0 || operational)
            return err_invalid(e, "endpoint_ids", "no endpoint %.80s in this org",
                               json_string_value(item));
    }
    return 0;
}

static const struct jsonv_field create_fields[] = {
    {"expires_in", JSONV_INTEGER, false, false, 0, 0},
    {"read_only", JSONV_BOOL, false, false, 0, 0},
    {"endpoint_ids", JSONV_STRING_ARRAY, false, true, ID_MAX - 1, 0},
    {NULL, 0, false, false, 0, 0},
};

static int create_apply(struct store_conn *tx, struct api_call *call)
{
    struct portal_draft *d = call->data;
    char url[sizeof call->app->cfg->public_url + KEY_TEXT_MAX + 16];
    int rc = store_portal_insert(tx, &d->ps);
    if (rc != 0)
        return rc;
    snprintf(url, sizeof url, "%s/portal#token=%s", call->app->cfg->public_url, d->link);
    call->reply_status = 201;
    call->reply = session_json(&d->ps);
    call->idem_reply = json_deep_copy(call->reply); /* a replay never shows the link */
    json_object_set_new(call->reply, "token", json_string(d->link));
    json_object_set_new(call->reply, "url", json_string(url));
    return 0;
}

void portal_sessions_create(struct api_call *call)
{
    json_t *expires = json_object_get(call->body, "expires_in");
    json_t *ids = json_object_get(call->body, "endpoint_ids");
    struct portal_draft *d;
    struct org org;
    struct err e;

    if (api_check_body(call, create_fields) != 0 || path_org(call, &org) != 0)
        return;
    if (expires &&
        (json_integer_value(expires) < 1 || json_integer_value(expires) > MAX_EXPIRES_IN)) {
        err_invalid(&e, "expires_in", "expires_in must be 1 to %d seconds", MAX_EXPIRES_IN);
        api_fail(call, &e);
        return;
    }
    if (ids && !json_is_null(ids) && check_endpoint_ids(call, org.id, ids, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    d = xcalloc(1, sizeof *d);
    api_set_data(call, d, draft_free);
    d->ps.created_at = time_now_ms();
    id_make("ps_", d->ps.created_at, d->ps.id);
    text_copy(d->ps.org_id, sizeof d->ps.org_id, org.id);
    d->ps.read_only = json_is_true(json_object_get(call->body, "read_only"));
    if (ids && !json_is_null(ids))
        d->ps.endpoint_ids = json_dumps(ids, JSON_COMPACT);
    d->ps.expires_in_ms = 1000LL * (expires ? json_integer_value(expires) : DEFAULT_EXPIRES_IN);
    d->ps.expires_at = d->ps.created_at + d->ps.expires_in_ms;
    auth_mint_secret(d->ps.id, d->link, d->ps.link_hash);
    api_write(call, create_apply);
}

void portal_sessions_list(struct api_call *call)
{
    struct page page;
    struct org org;
    struct portal_session *items;
    int count = 0, rc;

    if (api_page(call, &page) != 0 || path_org(call, &org) != 0)
        return;
    items = xcalloc((size_t)page.limit + 1, sizeof *items);
    rc = store_portal_list(call->conn, org.id, &page, items, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "portal session");
    } else {
        json_t *data = json_array();
        for (int i = 0; i < count && i < page.limit; i++)
            json_array_append_new(data, session_json(&items[i]));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(data, count, &page, items[last].created_at, items[last].id));
    }
    for (int i = 0; i < count; i++)
        portal_session_clear(&items[i]);
    free(items);
}

static int revoke_apply(struct store_conn *tx, struct api_call *call)
{
    struct portal_session ps = {0};
    const char *org_id = call->data;
    int rc = store_portal_revoke(tx, org_id, call->params.value[0], time_now_ms());
    if (rc != 0 && rc != ERR_NOT_FOUND) /* not found: unknown, or revoked already */
        return rc;
    rc = store_portal_get(tx, org_id, call->params.value[0], &ps);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such portal session");
    if (rc != 0)
        return rc;
    call->reply_status = 200;
    call->reply = session_json(&ps);
    portal_session_clear(&ps);
    return 0;
}

void portal_sessions_revoke(struct api_call *call)
{
    struct org org;
    if (api_target_org(call, &org) != 0)
        return;
    api_set_data(call, xstrdup(org.id), NULL);
    api_write(call, revoke_apply);
}

/* --- the portal page's side --- */

/* What the page needs to show itself: the org's name and branding, and what it may do. */
static json_t *portal_view(const struct portal_session *ps, const struct org *org)
{
    json_t *obj = session_json(ps);
    json_object_set_new(obj, "org",
                        json_pack("{s:s, s:s, s:o}", "id", org->id, "name", org->name, "portal",
                                  orgs_portal_json(org)));
    return obj;
}

/* The exchange: a session of its own credential, the link spent. */
struct exchange {
    char id[ID_MAX];
    unsigned char link_hash[32];
    char session[KEY_TEXT_MAX];
    unsigned char session_hash[32];
};

static void exchange_free(void *ptr)
{
    OPENSSL_cleanse(ptr, sizeof(struct exchange));
    free(ptr);
}

static int refuse_link(struct api_call *call)
{
    return err_set(&call->error, 401, "unauthorized", "token",
                   "this portal link is unknown, used already, expired or revoked");
}

static int exchange_apply(struct store_conn *tx, struct api_call *call)
{
    struct exchange *x = call->data;
    struct portal_session ps = {0};
    struct org org;
    int rc = store_portal_get(tx, "", x->id, &ps);

    if (rc == ERR_NOT_FOUND)
        return refuse_link(call);
    if (rc != 0)
        return rc;
    if (CRYPTO_memcmp(ps.link_hash, x->link_hash, sizeof x->link_hash) != 0) {
        portal_session_clear(&ps);
        return refuse_link(call);
    }
    portal_session_clear(&ps);
    rc = store_portal_exchange(tx, x->id, x->session_hash, time_now_ms());
    if (rc == ERR_NOT_FOUND)
        return refuse_link(call);
    if (rc != 0 || (rc = store_portal_get(tx, "", x->id, &ps)) != 0)
        return rc;
    rc = store_org_get(tx, ps.org_id, &org);
    if (rc == 0) {
        call->reply_status = 200;
        call->reply = portal_view(&ps, &org);
        json_object_set_new(call->reply, "session", json_string(x->session));
    }
    portal_session_clear(&ps);
    return rc == ERR_NOT_FOUND ? refuse_link(call) : rc;
}

static const struct jsonv_field exchange_fields[] = {
    {"token", JSONV_STRING, true, false, KEY_TEXT_MAX, 0},
    {NULL, 0, false, false, 0, 0},
};

void portal_exchange(struct api_call *call)
{
    const char *token, *dot;
    struct exchange *x;
    struct err e;

    if (api_check_body(call, exchange_fields) != 0)
        return;
    token = json_string_value(json_object_get(call->body, "token"));
    dot = strchr(token, '.');
    x = xcalloc(1, sizeof *x);
    api_set_data(call, x, exchange_free);
    if (dot == NULL || (size_t)(dot - token) >= sizeof x->id) {
        refuse_link(call);
        e = call->error;
        api_fail(call, &e);
        return;
    }
    memcpy(x->id, token, (size_t)(dot - token));
    auth_hash(token, strlen(token), x->link_hash);
    auth_mint_secret(x->id, x->session, x->session_hash);
    api_write(call, exchange_apply);
}

void portal_session_get(struct api_call *call)
{
    struct portal_session ps = {0};
    struct org org;
    int rc;
    if (!call->who.is_portal) {
        struct err e;
        err_set(&e, 403, "forbidden", NULL, "this needs a portal session");
        api_fail(call, &e);
        return;
    }
    if (api_conn(call) == NULL)
        return;
    rc = store_portal_get(call->conn, call->who.org_id, call->who.key_id, &ps);
    if (rc == 0 && (rc = store_org_get(call->conn, ps.org_id, &org)) == 0)
        api_reply(call, 200, portal_view(&ps, &org));
    else
        api_fail_store(call, rc, "portal session");
    portal_session_clear(&ps);
}
