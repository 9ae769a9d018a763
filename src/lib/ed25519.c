/* libhookd: Ed25519 keys in the Standard Webhooks format (whsk_/whpk_ + base64) and the v1a
 * signatures made with them, through libcrypto's EVP_PKEY_ED25519. */
#include "lib/internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdint.h>
#include <string.h>

#define SECRET_KEY_PREFIX "whsk_"
#define PUBLIC_KEY_PREFIX "whpk_"
#define KEY_TEXT_MAX 100 /* base64 of 64 bytes is 88 characters */

static const char *skip_prefix(const char *text, const char *prefix)
{
    size_t len = strlen(prefix);
    return strncmp(text, prefix, len) == 0 ? text + len : text;
}

/* The raw public key of a seed. */
static hookd_status public_of_seed(const unsigned char seed[HOOKD__ED25519_KEY_BYTES],
                                   unsigned char key[HOOKD__ED25519_KEY_BYTES])
{
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, HOOKD__ED25519_KEY_BYTES);
    size_t len = HOOKD__ED25519_KEY_BYTES;
    hookd_status status = HOOKD_E_CRYPTO;

    if (pkey != NULL && EVP_PKEY_get_raw_public_key(pkey, key, &len) == 1 &&
        len == HOOKD__ED25519_KEY_BYTES)
        status = HOOKD_OK;
    EVP_PKEY_free(pkey);
    return status;
}

/* "<prefix><base64 of 32 bytes>" into out. */
static hookd_status write_key(const char *prefix, const unsigned char key[HOOKD__ED25519_KEY_BYTES],
                              char *out, size_t out_size)
{
    size_t len = strlen(prefix);
    if (out_size < HOOKD_ED25519_KEY_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    memcpy(out, prefix, len);
    EVP_EncodeBlock((unsigned char *)out + len, key, HOOKD__ED25519_KEY_BYTES);
    return HOOKD_OK;
}

hookd_status hookd__ed25519_seed(const char *secret, unsigned char seed[HOOKD__ED25519_KEY_BYTES])
{
    unsigned char raw[2 * HOOKD__ED25519_KEY_BYTES + 3], derived[HOOKD__ED25519_KEY_BYTES];
    const char *text = skip_prefix(secret, SECRET_KEY_PREFIX);
    size_t len = strnlen(text, KEY_TEXT_MAX + 1), raw_len = 0;
    hookd_status status = HOOKD_E_BAD_SECRET;

    if (len <= KEY_TEXT_MAX && hookd__base64_decode(text, len, raw, sizeof raw, &raw_len) &&
        (raw_len == HOOKD__ED25519_KEY_BYTES || raw_len == 2 * HOOKD__ED25519_KEY_BYTES)) {
        memcpy(seed, raw, HOOKD__ED25519_KEY_BYTES);
        status = HOOKD_OK;
        if (raw_len == 2 * HOOKD__ED25519_KEY_BYTES) {
            status = public_of_seed(seed, derived);
            if (status == HOOKD_OK &&
                memcmp(derived, raw + HOOKD__ED25519_KEY_BYTES, HOOKD__ED25519_KEY_BYTES) != 0)
                status = HOOKD_E_BAD_SECRET;
        }
    }
    OPENSSL_cleanse(raw, sizeof raw);
    if (status != HOOKD_OK)
        OPENSSL_cleanse(seed, HOOKD__ED25519_KEY_BYTES);
    return status;
}

hookd_status hookd__ed25519_public(const char *text, unsigned char key[HOOKD__ED25519_KEY_BYTES])
{
    unsigned char raw[HOOKD__ED25519_KEY_BYTES + 3];
    size_t len, raw_len = 0;

    text = skip_prefix(text, PUBLIC_KEY_PREFIX);
    len = strnlen(text, KEY_TEXT_MAX + 1);
    if (len > KEY_TEXT_MAX || !hookd__base64_decode(text, len, raw, sizeof raw, &raw_len) ||
        raw_len != HOOKD__ED25519_KEY_BYTES)
        return HOOKD_E_BAD_SECRET;
    memcpy(key, raw, HOOKD__ED25519_KEY_BYTES);
    return HOOKD_OK;
}

/* The parts joined into one new buffer (at least one byte, so that an empty message is not
 * a NULL); NULL when out of memory. OPENSSL_free it. */
static unsigned char *join_parts(const struct hookd__part *parts, size_t n_parts, size_t *len)
{
    size_t total = 0, used = 0;
    unsigned char *buf;

    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].len > SIZE_MAX - 1 - total)
            return NULL;
        total += parts[i].len;
    }
    buf = OPENSSL_malloc(total + 1);
    if (buf == NULL)
        return NULL;
    for (size_t i = 0; i < n_parts; i++) {
        if (parts[i].len > 0)
            memcpy(buf + used, parts[i].data, parts[i].len);
        used += parts[i].len;
    }
    *len = total;
    return buf;
}

hookd_status hookd__ed25519_sign(const unsigned char seed[HOOKD__ED25519_KEY_BYTES],
                                 const struct hookd__part *parts, size_t n_parts,
                                 unsigned char sig[HOOKD__ED25519_SIG_BYTES])
{
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, HOOKD__ED25519_KEY_BYTES);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t msg_len = 0, sig_len = HOOKD__ED25519_SIG_BYTES;
    unsigned char *msg = join_parts(parts, n_parts, &msg_len);
    hookd_status status = HOOKD_E_CRYPTO;

    if (pkey != NULL && ctx != NULL && msg != NULL &&
        EVP_DigestSignInit(ctx, NULL, NULL, NULL, pkey) == 1 &&
        EVP_DigestSign(ctx, sig, &sig_len, msg, msg_len) == 1 &&
        sig_len == HOOKD__ED25519_SIG_BYTES)
        status = HOOKD_OK;
    OPENSSL_free(msg);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return status;
}

hookd_status hookd__ed25519_verify(const unsigned char key[HOOKD__ED25519_KEY_BYTES],
                                   const struct hookd__part *parts, size_t n_parts,
                                   const unsigned char sig[HOOKD__ED25519_SIG_BYTES])
{
    EVP_PKEY *pkey =
        EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, key, HOOKD__ED25519_KEY_BYTES);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    size_t msg_len = 0;
    unsigned char *msg = join_parts(parts, n_parts, &msg_len);
    hookd_status status = HOOKD_E_CRYPTO;
    int rc;

    /* A public key that is not a point on the curve fails here, as a signature would. */
    if (pkey != NULL && ctx != NULL && msg != NULL &&
        EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pkey) == 1) {
        rc = EVP_DigestVerify(ctx, sig, HOOKD__ED25519_SIG_BYTES, msg, msg_len);
        status = rc == 1 ? HOOKD_OK : HOOKD_E_SIGNATURE_MISMATCH;
    }
    OPENSSL_free(msg);
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    return status;
}

hookd_status hookd_ed25519_generate(char *secret_out, size_t secret_size, char *public_out,
                                    size_t public_size)
{
    unsigned char seed[HOOKD__ED25519_KEY_BYTES], key[HOOKD__ED25519_KEY_BYTES];
    hookd_status status;

    if (secret_out == NULL || public_out == NULL)
        return HOOKD_E_INVALID_ARGUMENT;
    if (secret_size > 0)
        secret_out[0] = '\0';
    if (public_size > 0)
        public_out[0] = '\0';
    if (secret_size < HOOKD_ED25519_KEY_LEN + 1 || public_size < HOOKD_ED25519_KEY_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    if (RAND_priv_bytes(seed, sizeof seed) != 1)
        return HOOKD_E_CRYPTO;
    status = public_of_seed(seed, key);
    if (status == HOOKD_OK)
        status = write_key(SECRET_KEY_PREFIX, seed, secret_out, secret_size);
    if (status == HOOKD_OK)
        status = write_key(PUBLIC_KEY_PREFIX, key, public_out, public_size);
    OPENSSL_cleanse(seed, sizeof seed);
    if (status != HOOKD_OK)
        OPENSSL_cleanse(secret_out, secret_size);
    return status;
}

hookd_status hookd_ed25519_public_key(const char *secret, char *out, size_t out_size)
{
    unsigned char seed[HOOKD__ED25519_KEY_BYTES], key[HOOKD__ED25519_KEY_BYTES];
    hookd_status status;

    if (out != NULL && out_size > 0)
        out[0] = '\0';
    if (secret == NULL || out == NULL)
        return HOOKD_E_INVALID_ARGUMENT;
    if (out_size < HOOKD_ED25519_KEY_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    status = hookd__ed25519_seed(secret, seed);
    if (status == HOOKD_OK)
        status = public_of_seed(seed, key);
    OPENSSL_cleanse(seed, sizeof seed);
    return status == HOOKD_OK ? write_key(PUBLIC_KEY_PREFIX, key, out, out_size) : status;
}
