/* API keys of an org (§2.2): create (the key is shown once), list, revoke. Admin only. */
#include "api/api.h"

#include "api/auth.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

struct key_draft {
    struct api_key key;
    char text[KEY_TEXT_MAX];
};

static json_t *key_json(const struct api_key *key)
{
    return json_pack("{s:s, s:o, s:s, s:o, s:o, s:o}", "id", key->id, "org_id",
                     key->org_id[0] ? json_string(key->org_id) : json_null(), "name", key->name,
                     "scopes", scopes_to_json(key->scopes), "created_at", api_time(key->created_at),
                     "revoked_at", api_time(key->revoked_at));
}

static void draft_free(struct key_draft *draft)
{
    OPENSSL_cleanse(draft->text, sizeof draft->text);
}

static const struct jsonv_field key_create_fields[] = {
    {"name", JSONV_STRING, true, false, LIMIT_NAME_CHARS, 0},
    {"scopes", JSONV_STRING_ARRAY, true, false, 20, 8},
    {NULL, 0, false, false, 0, 0},
};

static int key_create_apply(struct store_conn *tx, struct api_call *call)
{
    struct key_draft *draft = call->data;
    struct org org;
    int rc = store_org_get(tx, draft->key.org_id, &org);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such organization");
    if (rc != 0 || store_key_insert(tx, &draft->key) != 0)
        return ERR_FAIL;
    call->reply_status = 201;
    call->idem_reply = key_json(&draft->key); /* a replay never shows the key again */
    call->reply = json_deep_copy(call->idem_reply);
    json_object_set_new(call->reply, "key", json_string(draft->text));
    draft_free(draft);
    return 0;
}

void keys_create(struct api_call *call)
{
    struct key_draft *draft;
    unsigned scopes;
    struct err e;
    const char *name;

    if (api_check_body(call, key_create_fields) != 0)
        return;
    if (scopes_from_json(json_object_get(call->body, "scopes"), true, &scopes, &e) != 0) {
        api_fail(call, &e);
        return;
    }
    name = api_require_text(call, "name");
    if (name == NULL)
        return;
    draft = xcalloc(1, sizeof *draft);
    call->data = draft;
    auth_mint_key(call->params.value[0], name, scopes, &draft->key, draft->text);
    api_write(call, key_create_apply);
}

void keys_list(struct api_call *call)
{
    struct page page;
    struct api_key *keys;
    struct store_conn *conn;
    const char *org_id = call->params.value[0];
    int count = 0, rc;

    if (api_page(call, &page) != 0 || (conn = api_conn(call)) == NULL)
        return;
    struct org org;
    rc = store_org_get(conn, org_id, &org);
    if (rc != 0) {
        api_fail_store(call, rc, "organization");
        return;
    }
    keys = xcalloc((size_t)page.limit + 1, sizeof *keys);
    rc = store_key_list(conn, org_id, &page, keys, &count);
    if (rc != 0) {
        api_fail_store(call, rc, "organization");
    } else {
        json_t *items = json_array();
        for (int i = 0; i < count; i++)
            json_array_append_new(items, key_json(&keys[i]));
        int last = count > page.limit ? page.limit - 1 : 0;
        api_reply(call, 200, api_list(items, count, &page, keys[last].created_at, keys[last].id));
    }
    free(keys);
}

static int key_revoke_apply(struct store_conn *tx, struct api_call *call)
{
    struct api_key key;
    int rc = store_key_get(tx, call->params.value[0], &key);
    if (rc == ERR_NOT_FOUND)
        return err_set(&call->error, 404, "not_found", NULL, "no such API key");
    if (rc != 0)
        return rc;
    if (key.revoked_at == 0) {
        key.revoked_at = time_now_ms();
        rc = store_key_revoke(tx, key.id, key.revoked_at);
        if (rc != 0)
            return rc;
    }
    call->reply_status = 200;
    call->reply = key_json(&key);
    call->after_commit = auth_after_revocation;
    return 0;
}

void keys_revoke(struct api_call *call)
{
    api_write(call, key_revoke_apply);
}
