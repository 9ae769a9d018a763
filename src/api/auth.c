/* API key authentication. */
#include "api/auth.h"

#include "core/timeutil.h"

#include "core/mem.h"
#include "core/text.h"

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define KEY_RANDOM_BYTES 32
#define KEY_CACHE_SLOTS 1024

struct cached_key {
    unsigned long generation; /* 0: empty */
    char id[ID_MAX];
    char org_id[ID_MAX];
    unsigned char hash[32];
    unsigned scopes;
};

struct key_cache {
    pthread_mutex_t lock;
    atomic_ulong generation;
    struct cached_key slots[KEY_CACHE_SLOTS];
};

struct key_cache *key_cache_new(void)
{
    struct key_cache *cache = xcalloc(1, sizeof *cache);
    pthread_mutex_init(&cache->lock, NULL);
    atomic_init(&cache->generation, 1);
    return cache;
}

void key_cache_free(struct key_cache *cache)
{
    if (cache == NULL)
        return;
    pthread_mutex_destroy(&cache->lock);
    free(cache);
}

void key_cache_invalidate(struct key_cache *cache)
{
    if (cache)
        atomic_fetch_add(&cache->generation, 1);
}

void auth_after_revocation(struct api_call *call)
{
    key_cache_invalidate(call->app->keys);
}

static unsigned key_slot(const char *id)
{
    return text_hash(id) % KEY_CACHE_SLOTS;
}

/* A verified key from the cache: true and key filled if present and still current. */
static bool cache_get(struct key_cache *cache, const char *id, struct api_key *key)
{
    struct cached_key *slot;
    bool hit;
    if (cache == NULL)
        return false;
    slot = &cache->slots[key_slot(id)];
    pthread_mutex_lock(&cache->lock);
    hit = slot->generation == atomic_load(&cache->generation) && strcmp(slot->id, id) == 0;
    if (hit) {
        memset(key, 0, sizeof *key);
        memcpy(key->id, slot->id, sizeof key->id);
        memcpy(key->org_id, slot->org_id, sizeof key->org_id);
        memcpy(key->secret_hash, slot->hash, sizeof key->secret_hash);
        key->scopes = slot->scopes;
    }
    pthread_mutex_unlock(&cache->lock);
    return hit;
}

/* Remembers an active key read from the store at generation (read before the store was). */
static void cache_put(struct key_cache *cache, const struct api_key *key, unsigned long generation)
{
    struct cached_key *slot;
    if (cache == NULL)
        return;
    slot = &cache->slots[key_slot(key->id)];
    pthread_mutex_lock(&cache->lock);
    slot->generation = generation;
    memcpy(slot->id, key->id, sizeof slot->id);
    memcpy(slot->org_id, key->org_id, sizeof slot->org_id);
    memcpy(slot->hash, key->secret_hash, sizeof slot->hash);
    slot->scopes = key->scopes;
    pthread_mutex_unlock(&cache->lock);
}

static const char *const scope_names[] = {"admin", "events", "webhooks", "sources"};

void auth_hash(const char *text, size_t len, unsigned char out[32])
{
    unsigned int out_len = 32;
    if (EVP_Digest(text, len, out, &out_len, EVP_sha256(), NULL) != 1)
        abort(); /* SHA-256 cannot fail short of a broken libcrypto */
}

void auth_mint_secret(const char *id, char text[KEY_TEXT_MAX], unsigned char hash[32])
{
    unsigned char random[KEY_RANDOM_BYTES];
    char secret[64];

    if (RAND_bytes(random, sizeof random) != 1)
        abort();
    b64url_encode(random, sizeof random, secret);
    OPENSSL_cleanse(random, sizeof random);
    snprintf(text, KEY_TEXT_MAX, "%s.%s", id, secret);
    auth_hash(text, strlen(text), hash);
    OPENSSL_cleanse(secret, sizeof secret);
}

void auth_mint_key(const char *org_id, const char *name, unsigned scopes, struct api_key *key,
                   char text[KEY_TEXT_MAX])
{
    memset(key, 0, sizeof *key);
    key->created_at = time_now_ms();
    id_make("key_", key->created_at, key->id);
    text_copy(key->org_id, sizeof key->org_id, org_id ? org_id : "");
    text_copy(key->name, sizeof key->name, name);
    key->scopes = scopes;
    auth_mint_secret(key->id, text, key->secret_hash);
}

/* A poll endpoint's consumer token. */
static int authenticate_poller(struct store_conn *conn, const char *id,
                               const unsigned char hash[32], struct principal *who, struct err *e)
{
    struct endpoint ep = {0};
    int rc = store_endpoint_get(conn, "", id, &ep);
    bool valid = rc == 0 && ep.is_poll && CRYPTO_memcmp(hash, ep.poll_token_hash, 32) == 0;
    if (valid) {
        text_copy(who->key_id, sizeof who->key_id, ep.id);
        text_copy(who->org_id, sizeof who->org_id, ep.org_id);
        who->is_poller = true;
    }
    endpoint_clear(&ep);
    if (rc == ERR_FAIL)
        return err_set(e, 503, "unavailable", NULL, "the store is not reachable");
    return valid ? 0 : err_set(e, 401, "unauthorized", NULL, "unknown poll token");
}

/* A portal session's bearer: exchanged, current, not revoked. */
static int authenticate_portal(struct store_conn *conn, const char *id,
                               const unsigned char hash[32], struct principal *who, struct err *e)
{
    struct portal_session ps;
    int rc = store_portal_get(conn, "", id, &ps);
    bool valid;
    if (rc == ERR_FAIL)
        return err_set(e, 503, "unavailable", NULL, "the store is not reachable");
    if (rc != 0)
        return err_set(e, 401, "unauthorized", NULL, "unknown portal session");
    valid = ps.exchanged_at != 0 && CRYPTO_memcmp(hash, ps.session_hash, 32) == 0;
    if (valid && (ps.revoked_at != 0 || ps.session_expires_at <= time_now_ms())) {
        portal_session_clear(&ps);
        return err_set(e, 401, "unauthorized", NULL, "this portal session has ended");
    }
    if (!valid) {
        portal_session_clear(&ps);
        return err_set(e, 401, "unauthorized", NULL, "unknown portal session");
    }
    text_copy(who->key_id, sizeof who->key_id, ps.id);
    text_copy(who->org_id, sizeof who->org_id, ps.org_id);
    who->scopes = SCOPE_WEBHOOKS;
    who->is_portal = true;
    who->read_only = ps.read_only;
    who->endpoint_ids = ps.endpoint_ids ? json_loads(ps.endpoint_ids, 0, NULL) : NULL;
    portal_session_clear(&ps);
    return 0;
}

/* The presented key, or NULL. "Bearer" is matched case-insensitively (RFC 7235). */
static const char *presented_key(struct http_request *req, struct err *e, bool *conflict)
{
    const char *authorization = http_header(req, "Authorization");
    const char *api_key = http_header(req, "X-API-Key");
    const char *bearer = NULL;

    *conflict = false;
    if (authorization != NULL) {
        if (strncasecmp(authorization, "Bearer ", 7) != 0) {
            err_set(e, 401, "unauthorized", NULL, "Authorization must be `Bearer <key>`");
            *conflict = true;
            return NULL;
        }
        bearer = authorization + 7;
        while (*bearer == ' ')
            bearer++;
    }
    if (bearer && api_key && strcmp(bearer, api_key) != 0) {
        err_set(e, 401, "unauthorized", NULL,
                "Authorization and X-API-Key carry different keys; send one");
        *conflict = true;
        return NULL;
    }
    return bearer ? bearer : api_key;
}

int auth_authenticate(struct app *app, struct store_conn *conn, struct http_request *req,
                      struct principal *who, struct err *e)
{
    unsigned char hash[32];
    struct api_key key;
    char key_id[ID_MAX];
    bool conflict;
    const char *text = presented_key(req, e, &conflict), *dot;
    size_t len;

    memset(who, 0, sizeof *who);
    if (conflict)
        return ERR_FAIL;
    if (text == NULL || *text == '\0')
        return err_set(e, 401, "unauthorized", NULL,
                       "an API key is required (Authorization: Bearer <key> or X-API-Key)");
    len = strlen(text);
    auth_hash(text, len, hash);
    if (app->has_admin_key && CRYPTO_memcmp(hash, app->admin_key_hash, sizeof hash) == 0) {
        text_copy(who->key_id, sizeof who->key_id, ADMIN_CONFIG_KEY_ID);
        who->is_admin = true;
        who->scopes = SCOPE_ADMIN | SCOPE_EVENTS | SCOPE_WEBHOOKS | SCOPE_SOURCES;
        return 0;
    }
    dot = strchr(text, '.');
    if (dot == NULL || (size_t)(dot - text) >= sizeof key_id)
        return err_set(e, 401, "unauthorized", NULL, "unknown API key");
    memcpy(key_id, text, (size_t)(dot - text));
    key_id[dot - text] = '\0';
    if (id_is_valid(key_id, "ps_"))
        return authenticate_portal(conn, key_id, hash, who, e);
    if (id_is_valid(key_id, "ep_"))
        return authenticate_poller(conn, key_id, hash, who, e);
    if (!id_is_valid(key_id, "key_"))
        return err_set(e, 401, "unauthorized", NULL, "unknown API key");
    if (!cache_get(app->keys, key_id, &key)) {
        unsigned long generation = app->keys ? atomic_load(&app->keys->generation) : 0;
        int rc = store_key_get(conn, key_id, &key);
        if (rc == ERR_FAIL)
            return err_set(e, 503, "unavailable", NULL, "the store is not reachable");
        if (rc != 0 || CRYPTO_memcmp(hash, key.secret_hash, sizeof hash) != 0)
            return err_set(e, 401, "unauthorized", NULL, "unknown API key");
        if (key.revoked_at != 0)
            return err_set(e, 401, "unauthorized", NULL, "this API key has been revoked");
        cache_put(app->keys, &key, generation);
    } else if (CRYPTO_memcmp(hash, key.secret_hash, sizeof hash) != 0) {
        return err_set(e, 401, "unauthorized", NULL, "unknown API key");
    }
    text_copy(who->key_id, sizeof who->key_id, key.id);
    text_copy(who->org_id, sizeof who->org_id, key.org_id);
    who->is_admin = key.org_id[0] == '\0';
    who->scopes =
        who->is_admin ? SCOPE_ADMIN | SCOPE_EVENTS | SCOPE_WEBHOOKS | SCOPE_SOURCES : key.scopes;
    return 0;
}

bool scope_from_name(const char *name, unsigned *bit)
{
    for (unsigned i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
        if (strcmp(name, scope_names[i]) == 0) {
            *bit = 1u << i;
            return true;
        }
    }
    return false;
}

int scopes_from_json(const json_t *array, bool is_org_key, unsigned *out, struct err *e)
{
    size_t i;
    json_t *item;
    *out = 0;
    if (json_array_size(array) == 0)
        return err_invalid(e, "scopes", "scopes needs at least one of events, webhooks, sources");
    json_array_foreach(array, i, item)
    {
        unsigned bit;
        if (!scope_from_name(json_string_value(item), &bit))
            return err_invalid(e, "scopes", "unknown scope '%.40s' (events, webhooks, sources)",
                               json_string_value(item));
        if (bit == SCOPE_ADMIN && is_org_key)
            return err_invalid(e, "scopes", "org keys cannot hold the admin scope");
        *out |= bit;
    }
    return 0;
}

const char *scope_missing(unsigned held, unsigned needed)
{
    for (unsigned i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
        if ((needed & (1u << i)) && !(held & (1u << i)))
            return scope_names[i];
    return NULL;
}

json_t *scopes_to_json(unsigned scopes)
{
    json_t *array = json_array();
    for (unsigned i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
        if (scopes & (1u << i))
            json_array_append_new(array, json_string(scope_names[i]));
    return array;
}
