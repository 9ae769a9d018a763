/* libhookd: HMAC-SHA256 over a message given in pieces, so that "{id}.{timestamp}.{body}" is
 * never assembled in memory. */
#include "lib/internal.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>

/* The HMAC implementation, fetched once: a fetch looks it up in OpenSSL's method store under a
 * lock, which cost a fifth of each signature. Never freed: it lives as long as the process. */
static EVP_MAC *hmac_method;
static pthread_once_t hmac_fetched = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
    hmac_method = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
}

hookd_status hookd__hmac_sha256(const void *key, size_t key_len, const struct hookd__part *parts,
                                size_t n_parts, unsigned char out[HOOKD__MAC_LEN])
{
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    hookd_status status = HOOKD_E_CRYPTO;
    EVP_MAC_CTX *ctx = NULL;
    size_t out_len = 0;

    if (pthread_once(&hmac_fetched, fetch_hmac) != 0 || hmac_method == NULL)
        return HOOKD_E_CRYPTO;
    ctx = EVP_MAC_CTX_new(hmac_method);
    if (ctx == NULL || EVP_MAC_init(ctx, key, key_len, params) != 1)
        goto out;
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].len > 0 && EVP_MAC_update(ctx, parts[i].data, parts[i].len) != 1)
            goto out;
    }
    if (EVP_MAC_final(ctx, out, &out_len, HOOKD__MAC_LEN) != 1 || out_len != HOOKD__MAC_LEN)
        goto out;
    status = HOOKD_OK;
out:
    EVP_MAC_CTX_free(ctx);
    return status;
}
