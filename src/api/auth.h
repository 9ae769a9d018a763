/* API keys (§2.1, §2.2): minting, hashing, scopes, and authenticating a request. A key is
 * "<key id>.<43 random base64url characters>"; only its SHA-256 is stored. */
#ifndef HOOKD_API_AUTH_H
#define HOOKD_API_AUTH_H

#include "api/api.h"

#define KEY_TEXT_MAX (ID_MAX + 72)
#define ADMIN_CONFIG_KEY_ID "key_admin" /* the id shown in logs for --admin-key */

/* SHA-256 of a presented key. */
void auth_hash(const char *text, size_t len, unsigned char out[32]);

/* A credential "<id>.<43 random base64url characters>" into text, and its SHA-256: the text is
 * shown once, the hash is what is kept. */
void auth_mint_secret(const char *id, char text[KEY_TEXT_MAX], unsigned char hash[32]);

/* Fills key (new id, hash, created_at now) and writes the key's text, shown once. */
void auth_mint_key(const char *org_id, const char *name, unsigned scopes, struct api_key *key,
                   char text[KEY_TEXT_MAX]);

/* A cache of verified keys, so that a request's authentication needs no store read. Any
 * revocation (key revoked, org deleted) invalidates all of it before its request answers. */
struct key_cache;
struct key_cache *key_cache_new(void);
void key_cache_free(struct key_cache *cache);
void key_cache_invalidate(struct key_cache *cache);
/* An after_commit hook for writes that revoke keys. */
void auth_after_revocation(struct api_call *call);

/* Finds the key of the request (Authorization: Bearer or X-API-Key) and fills who. 401 when
 * it is missing, unknown or revoked, or when the two headers disagree. A portal session's
 * bearer ("ps_..." ids) makes a portal principal, until it expires or is revoked. */
int auth_authenticate(struct app *app, struct store_conn *conn, struct http_request *req,
                      struct principal *who, struct err *e);

/* Scope names: "admin", "events", "webhooks", "sources". */
bool scope_from_name(const char *name, unsigned *bit);
/* A JSON array of scope names (at least one; no "admin" for org keys) into a bit set. */
int scopes_from_json(const json_t *array, bool is_org_key, unsigned *out, struct err *e);
json_t *scopes_to_json(unsigned scopes);
/* The name of the first scope of needed that held lacks, or NULL. */
const char *scope_missing(unsigned held, unsigned needed);

#endif
