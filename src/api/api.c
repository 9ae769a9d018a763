/* The request pipeline shared by every route, and the handlers' helpers. */
#include "api/api.h"

#include "api/auth.h"
#include "api/limits.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/metrics.h"
#include "core/timeutil.h"
#include "engine/engine.h"
#include "core/text.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define IDEMPOTENCY_WINDOW_MS (24LL * 3600 * 1000)

static void call_free(void *ptr)
{
    struct api_call *call = ptr;
    if (http_status(call->http) != 0)
        metrics_http(call->route ? (int)(call->route - api_routes) : -1, http_status(call->http));
    json_decref(call->body);
    json_decref(call->who.endpoint_ids);
    json_decref(call->reply);
    free(call->reply_text);
    json_decref(call->idem_reply);
    store_release(call->conn);
    free(call->replayed);
    if (call->data_free)
        call->data_free(call->data);
    else
        free(call->data);
    free(call);
}

void api_set_data(struct api_call *call, void *data, void (*free_fn)(void *))
{
    if (call->data_free)
        call->data_free(call->data);
    else
        free(call->data);
    call->data = data;
    call->data_free = free_fn;
}

struct store_conn *api_conn(struct api_call *call)
{
    if (call->conn == NULL) {
        call->conn = store_acquire(call->app->store);
        if (call->conn == NULL) {
            struct err e;
            err_set(&e, 503, "unavailable", NULL, "the store is not reachable");
            api_fail(call, &e);
        }
    }
    return call->conn;
}

void api_reply(struct api_call *call, int status, json_t *body)
{
    http_reply_json(call->http, status, body);
}

void api_fail(struct api_call *call, const struct err *e)
{
    http_reply_error(call->http, e);
}

void api_fail_store(struct api_call *call, int rc, const char *what)
{
    struct err e;
    if (rc == ERR_NOT_FOUND)
        err_set(&e, 404, "not_found", NULL, "no such %s", what);
    else
        err_set(&e, 503, "unavailable", NULL, "the store could not be read");
    api_fail(call, &e);
}

/* "Name: value\n" lines (as the engine logs headers) as a JSON object, or null. */
json_t *api_header_object(const char *lines)
{
    json_t *obj;
    if (lines == NULL)
        return json_null();
    obj = json_object();
    while (*lines) {
        const char *end = strchr(lines, '\n'), *colon;
        size_t len = end ? (size_t)(end - lines) : strlen(lines);
        colon = memchr(lines, ':', len);
        if (colon) {
            char *name = xstrndup(lines, (size_t)(colon - lines));
            const char *value = colon + 1;
            while (value < lines + len && *value == ' ')
                value++;
            json_object_set_new(obj, name, json_stringn(value, (size_t)(lines + len - value)));
            free(name);
        }
        lines += len + (end != NULL);
    }
    return obj;
}

bool api_endpoint_visible(const struct api_call *call, const char *endpoint_id)
{
    size_t i;
    json_t *id;
    if (!call->who.is_portal)
        return true;
    if (endpoint_id[0] == '\0')
        return false;
    if (call->who.endpoint_ids == NULL)
        return true;
    json_array_foreach(call->who.endpoint_ids, i, id)
    {
        if (strcmp(json_string_value(id), endpoint_id) == 0)
            return true;
    }
    return false;
}

void api_kick_engine(struct api_call *call)
{
    if (call->app->engine)
        engine_kick(call->app->engine);
}

json_t *api_time(int64_t ms)
{
    char text[TIME_RFC3339_LEN];
    if (ms == 0)
        return json_null();
    time_format_rfc3339(ms, text);
    return json_string(text);
}

const char *api_require_text(struct api_call *call, const char *field)
{
    const char *text = json_string_value(json_object_get(call->body, field));
    struct err e;
    for (const char *p = text; p && *p; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
            return text;
    err_invalid(&e, field, "%s must not be blank", field);
    api_fail(call, &e);
    return NULL;
}

int api_check_body(struct api_call *call, const struct jsonv_field *fields)
{
    struct err e;
    if (jsonv_check(call->body, fields, &e) != 0) {
        api_fail(call, &e);
        return ERR_FAIL;
    }
    return 0;
}

int api_page(struct api_call *call, struct page *page)
{
    struct err e;
    if (page_parse(http_query(call->http, "limit"), http_query(call->http, "cursor"), page, &e)) {
        api_fail(call, &e);
        return ERR_FAIL;
    }
    return 0;
}

json_t *api_list(json_t *items, int count, const struct page *page, int64_t last_created_at,
                 const char *last_id)
{
    char cursor[PAGE_CURSOR_MAX];
    json_t *next = json_null();
    if (count > page->limit) {
        json_array_remove(items, (size_t)page->limit); /* the look-ahead item */
        page_cursor(last_created_at, last_id, cursor);
        next = json_string(cursor);
    }
    return json_pack("{s:o, s:o}", "data", items, "next_cursor", next);
}

/* The org named by the request, checked against the store; full says all fields are needed. */
static int target_org(struct api_call *call, struct org *org, bool full)
{
    struct err e;
    const char *org_id = call->who.org_id;
    struct store_conn *conn;
    int rc;

    if (call->who.is_admin) {
        json_t *in_body = call->body ? json_object_get(call->body, "org_id") : NULL;
        org_id = in_body ? json_string_value(in_body) : http_query(call->http, "org_id");
        if (org_id == NULL || *org_id == '\0') {
            err_invalid(&e, "org_id", "an admin key must name the org with org_id");
            api_fail(call, &e);
            return ERR_FAIL;
        }
    } else if (!full) {
        /* a valid org key proves its org alive: deleting an org revokes its keys */
        memset(org, 0, sizeof *org);
        text_copy(org->id, sizeof org->id, org_id);
        return 0;
    }
    conn = api_conn(call);
    if (conn == NULL)
        return ERR_FAIL;
    rc = store_org_get(conn, org_id, org);
    if (rc != 0) {
        api_fail_store(call, rc, "organization");
        return ERR_FAIL;
    }
    return 0;
}

int api_target_org(struct api_call *call, struct org *org)
{
    return target_org(call, org, false);
}

int api_target_org_full(struct api_call *call, struct org *org)
{
    return target_org(call, org, true);
}

/* --- writes through the writer --- */

static int idem_check(struct store_conn *tx, struct api_call *call, bool *replay)
{
    struct idem_record rec = {0};
    int rc = store_idem_get(tx, call->idem_scope, call->idem_key,
                            time_now_ms() - IDEMPOTENCY_WINDOW_MS, &rec);
    *replay = false;
    if (rc == ERR_NOT_FOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (CRYPTO_memcmp(rec.request_hash, call->idem_hash, sizeof rec.request_hash) != 0) {
        free(rec.body);
        return err_set(&call->error, 409, "idempotency_conflict", "Idempotency-Key",
                       "this Idempotency-Key was used with a different request");
    }
    call->reply_status = rec.status;
    call->replayed = rec.body;
    *replay = true;
    return 0;
}

static int idem_remember(struct store_conn *tx, struct api_call *call)
{
    struct idem_record rec = {0};
    int rc;
    text_copy(rec.scope, sizeof rec.scope, call->idem_scope);
    text_copy(rec.key, sizeof rec.key, call->idem_key);
    memcpy(rec.request_hash, call->idem_hash, sizeof rec.request_hash);
    rec.status = call->reply_status;
    if (call->idem_reply == NULL && call->reply_text)
        rec.body = xstrdup(call->reply_text);
    else
        rec.body = json_dumps(call->idem_reply ? call->idem_reply : call->reply,
                              JSON_COMPACT | JSON_PRESERVE_ORDER);
    rec.created_at = time_now_ms();
    rc = rec.body ? store_idem_put(tx, &rec) : ERR_FAIL;
    free(rec.body);
    return rc;
}

static int job_apply(struct store_conn *tx, struct write_job *job)
{
    struct api_call *call = (struct api_call *)((char *)job - offsetof(struct api_call, job));
    bool replay = false;
    int rc;

    if (call->idem_key[0] != '\0') {
        rc = idem_check(tx, call, &replay);
        if (rc != 0 || replay)
            return rc;
    }
    rc = call->apply(tx, call);
    if (rc == 0 && call->idem_key[0] != '\0')
        rc = idem_remember(tx, call);
    return rc;
}

/* Answers a finished write; on the HTTP thread (see job_done). */
static void finish_write(struct http_request *req)
{
    struct api_call *call = http_data(req);
    struct err e;

    if (!call->committed) {
        err_set(&e, 503, "unavailable", NULL, "the write could not be committed; retry");
        api_fail(call, &e);
    } else if (call->job.result != 0) {
        if (call->error.status == 0)
            err_set(&call->error, 503, "unavailable", NULL, "the store failed; retry");
        api_fail(call, &call->error);
    } else if (call->replayed) {
        http_add_header(call->http, "Idempotent-Replayed", "true");
        http_reply_text(call->http, call->reply_status, "application/json", call->replayed,
                        strlen(call->replayed));
    } else if (call->reply_text) {
        http_reply_text(call->http, call->reply_status, "application/json", call->reply_text,
                        strlen(call->reply_text));
    } else {
        api_reply(call, call->reply_status, json_incref(call->reply));
    }
}

/* On the writer: hand-offs that must follow the commit, then wake the request. */
static void job_done(struct write_job *job, bool committed)
{
    struct api_call *call = (struct api_call *)((char *)job - offsetof(struct api_call, job));
    bool stored = committed && job->result == 0 && !call->replayed;
    call->committed = committed;
    if (stored && call->after_commit)
        call->after_commit(call);
    if (stored)
        notices_hand_off(&call->notices, call->app->engine);
    else
        notices_free(&call->notices);
    http_resume_with(call->http, finish_write);
}

void api_write(struct api_call *call, api_apply apply)
{
    call->apply = apply;
    call->job.apply = job_apply;
    call->job.done = job_done;
    http_defer(call->http); /* before the writer can answer */
    writer_submit(call->app->writer, &call->job);
}

/* --- the pipeline --- */

bool api_is_json_type(const char *type)
{
    size_t len = strcspn(type, ";");
    while (len > 0 && (type[len - 1] == ' ' || type[len - 1] == '\t'))
        len--;
    return len == 16 && strncasecmp(type, "application/json", 16) == 0;
}

static const struct api_route *find_route(struct http_request *req, struct route_params *params,
                                          char *allow, size_t allow_size)
{
    size_t used = 0;
    allow[0] = '\0';
    for (const struct api_route *r = api_routes; r->pattern; r++) {
        if (!route_match(r->pattern, http_path(req), params))
            continue;
        if (strcmp(r->method, http_method(req)) == 0)
            return r;
        used += (size_t)snprintf(allow + used, used < allow_size ? allow_size - used : 0, "%s%s",
                                 used ? ", " : "", r->method);
    }
    return NULL;
}

static int check_scope(struct api_call *call, struct err *e)
{
    const struct api_route *r = call->route;
    if (call->who.is_poller != ((r->flags & ROUTE_POLL) != 0))
        return err_set(e, 403, "forbidden", NULL,
                       call->who.is_poller ? "a poll token only reads its endpoint's poll route"
                                           : "this needs the endpoint's poll token");
    if (call->who.is_portal && !(r->flags & ROUTE_PORTAL))
        return err_set(e, 403, "forbidden", NULL, "a portal session cannot use this route");
    if (call->who.is_portal && call->who.read_only && strcmp(r->method, "GET") != 0)
        return err_set(e, 403, "forbidden", NULL, "this portal session is read-only");
    if (r->flags & ROUTE_ANY_KEY)
        return 0;
    if (r->scope == SCOPE_ADMIN && !call->who.is_admin)
        return err_set(e, 403, "forbidden", NULL, "this needs an admin key");
    if ((call->who.scopes & r->scope) != r->scope)
        return err_set(e, 403, "forbidden", NULL, "this key lacks the %s scope",
                       scope_missing(call->who.scopes, r->scope));
    return 0;
}

static int check_rate(struct api_call *call, struct err *e)
{
    int retry_after;
    char header[16];
    if (call->app->limits == NULL ||
        key_limits_take(call->app->limits, call->who.key_id, &retry_after))
        return 0;
    snprintf(header, sizeof header, "%d", retry_after);
    http_add_header(call->http, "Retry-After", header);
    return err_set(e, 429, "rate_limited", NULL, "too many requests for this key; retry in %d s",
                   retry_after);
}

/* Reads the Idempotency-Key of a creating POST, and answers a replay or a conflict at once
 * when the store already has it (the writer checks again, for requests racing each other). */
static int check_idempotency(struct api_call *call, struct err *e)
{
    const char *key = http_header(call->http, "Idempotency-Key");
    size_t len, body_len;
    const char *body;
    EVP_MD_CTX *md;
    unsigned int hash_len = 32;

    if (key == NULL || !(call->route->flags & ROUTE_CREATES))
        return 0;
    len = strlen(key);
    if (len == 0 || len >= IDEM_KEY_BYTES)
        return err_invalid(e, "Idempotency-Key", "Idempotency-Key must be 1 to %d characters",
                           IDEM_KEY_BYTES - 1);
    for (size_t i = 0; i < len; i++)
        if (key[i] < 0x21 || key[i] > 0x7e)
            return err_invalid(e, "Idempotency-Key",
                               "Idempotency-Key must be printable ASCII without spaces");
    memcpy(call->idem_key, key, len + 1);
    snprintf(call->idem_scope, sizeof call->idem_scope, "%s",
             call->who.is_admin ? "admin" : call->who.org_id);
    /* the request is the method, the path and the body's bytes */
    body = http_body(call->http, &body_len);
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(md, http_method(call->http), strlen(http_method(call->http))) != 1 ||
        EVP_DigestUpdate(md, " ", 1) != 1 ||
        EVP_DigestUpdate(md, http_path(call->http), strlen(http_path(call->http))) != 1 ||
        EVP_DigestUpdate(md, "\n", 1) != 1 || EVP_DigestUpdate(md, body, body_len) != 1 ||
        EVP_DigestFinal_ex(md, call->idem_hash, &hash_len) != 1) {
        EVP_MD_CTX_free(md);
        return err_internal(e, "cannot hash the request");
    }
    EVP_MD_CTX_free(md);

    struct store_conn *conn = api_conn(call);
    bool replay;
    if (conn == NULL)
        return ERR_CONFLICT; /* answered */
    if (idem_check(conn, call, &replay) != 0) {
        *e = call->error;
        return ERR_FAIL;
    }
    if (replay) {
        http_add_header(call->http, "Idempotent-Replayed", "true");
        http_reply_text(call->http, call->reply_status, "application/json", call->replayed,
                        strlen(call->replayed));
        return ERR_CONFLICT; /* answered */
    }
    return 0;
}

/* An unknown query parameter is refused as an unknown body field is, so that a mistyped filter
 * (?page_size=) does not silently answer everything. */
static int check_query(struct api_call *call, struct err *e)
{
    const char *known = call->route->query ? call->route->query : "";
    const char *name = http_query_unknown(call->http, known);
    if (name == NULL)
        return 0;
    if (*known == '\0')
        return err_set(e, 400, "unknown_field", name,
                       "unknown query parameter '%.100s' (this route takes none)", name);
    return err_set(e, 400, "unknown_field", name,
                   "unknown query parameter '%.100s' (this route takes: %s)", name, known);
}

static int read_body(struct api_call *call, struct err *e)
{
    size_t len;
    const char *body = http_body(call->http, &len);
    const char *type = http_header(call->http, "Content-Type");

    if (call->route->flags & ROUTE_RAW)
        return 0;
    if (len > 0 && type != NULL && !api_is_json_type(type))
        return err_set(e, 415, "unsupported_media_type", NULL, "send the body as application/json");
    if (!(call->route->flags & ROUTE_BODY))
        return 0;
    call->body = jsonv_parse_object(body, len, true, e);
    return call->body ? 0 : ERR_FAIL;
}

void api_dispatch(struct http_request *req, void *app_ptr)
{
    struct app *app = app_ptr;
    struct api_call *call = xcalloc(1, sizeof *call);
    char allow[128];
    struct err e;
    int rc;

    call->http = req;
    call->app = app;
    http_set_data(req, call, call_free);
    call->route = find_route(req, &call->params, allow, sizeof allow);
    if (http_body_too_large(req) && !(call->route && (call->route->flags & ROUTE_RAW)))
        return; /* answered 413 already; only raw routes record such requests */
    if (call->route && app->cfg->role == ROLE_WORKER && !(call->route->flags & ROUTE_PUBLIC)) {
        call->route = NULL; /* a worker serves health and readiness only */
        allow[0] = '\0';
    }
    if (call->route && !(call->route->flags & ROUTE_PUBLIC) && atomic_load(&app->stopping)) {
        http_add_header(req, "Connection", "close");
        err_set(&e, 503, "unavailable", NULL, "hookd is shutting down; retry on another node");
        api_fail(call, &e);
        return;
    }
    if (call->route == NULL) {
        if (allow[0] != '\0') {
            http_add_header(req, "Allow", allow);
            err_set(&e, 405, "method_not_allowed", NULL, "%s is not allowed here (allowed: %s)",
                    http_method(req), allow);
        } else {
            err_set(&e, 404, "not_found", NULL, "no such route: %.200s", http_path(req));
        }
        api_fail(call, &e);
        return;
    }
    if (!(call->route->flags & ROUTE_PUBLIC)) {
        struct store_conn *conn = api_conn(call);
        if (conn == NULL)
            return;
        if (auth_authenticate(app, conn, req, &call->who, &e) != 0)
            goto fail;
        http_set_log_key(req, call->who.key_id);
        if (check_scope(call, &e) != 0 || check_rate(call, &e) != 0 || check_query(call, &e) != 0)
            goto fail;
    }
    if (read_body(call, &e) != 0)
        goto fail;
    rc = check_idempotency(call, &e);
    if (rc == ERR_CONFLICT)
        return;
    if (rc != 0)
        goto fail;
    call->route->handler(call);
    return;
fail:
    api_fail(call, &e);
}
