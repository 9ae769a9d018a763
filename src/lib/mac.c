/* libhookd: HMAC-SHA256 over a message given in pieces, so that "{id}.{timestamp}.{body}" is
 * never assembled in memory. */
#include "lib/internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

/* Each thread keeps one HMAC context and re-keys it for every message: creating a context and
 * looking up its digest (by name, in OpenSSL's method store, under a lock) cost more than the
 * MAC of a 1 KiB body. The context goes with its thread. */
static pthread_key_t context_key;
static pthread_once_t context_key_made = PTHREAD_ONCE_INIT;
static EVP_MAC *hmac_method;

static void free_context(void *ctx)
{
    EVP_MAC_CTX_free(ctx);
}

static void make_context_key(void)
{
    hmac_method = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
    if (pthread_key_create(&context_key, free_context) != 0) {
        EVP_MAC_free(hmac_method);
        hmac_method = NULL;
    }
}

/* The thread's context, keyed with key; NULL if OpenSSL fails. */
static EVP_MAC_CTX *keyed_context(const void *key, size_t key_len)
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    static const unsigned char no_key[1];
    EVP_MAC_CTX *ctx;

    if (key == NULL)
        key = no_key; /* a NULL key would re-use the context's previous one */
    if (pthread_once(&context_key_made, make_context_key) != 0 || hmac_method == NULL)
        return NULL;
    ctx = pthread_getspecific(context_key);
    if (ctx != NULL)
        return EVP_MAC_init(ctx, key, key_len, NULL) == 1 ? ctx : NULL;
    ctx = EVP_MAC_CTX_new(hmac_method);
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1 ||
        pthread_setspecific(context_key, ctx) != 0) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

hookd_status hookd__hmac_sha256(const void *key, size_t key_len, const struct hookd__part *parts,
                                size_t n_parts, unsigned char out[HOOKD__MAC_LEN])
{
    EVP_MAC_CTX *ctx = keyed_context(key, key_len);
    size_t out_len = 0;

    if (ctx == NULL)
        return HOOKD_E_CRYPTO;
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].len > 0 && EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1)
            return HOOKD_E_CRYPTO;
    }
    if (EVP_MAC_final(ctx, out, &out_len, HOOKD__MAC_LEN) != 1 || out_len != HOOKD__MAC_LEN)
        return HOOKD_E_CRYPTO;
    return HOOKD_OK;
}
