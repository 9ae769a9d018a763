/* libhookd: signing outbound webhooks in the standard (v1 and v1a) and hex schemes (SPEC §3). */
#include "lib/internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#define STANDARD_PREFIX "v1,"
#define ED25519_PREFIX "v1a,"
#define HEX_PREFIX "sha256="
#define BASE64_MAC_LEN 44     /* 32 bytes in padded base64 */
#define BASE64_ED25519_LEN 88 /* 64 bytes in padded base64 */

/* Formats a timestamp >= 0 into buf; returns its length. */
static size_t format_timestamp(long long timestamp, char buf[HOOKD__TIMESTAMP_DIGITS_MAX + 1])
{
    int n = snprintf(buf, HOOKD__TIMESTAMP_DIGITS_MAX + 1, "%lld", timestamp);
    return n > 0 ? (size_t)n : 0;
}

static void clear_output(char *out, size_t out_size)
{
    if (out != NULL && out_size > 0)
        out[0] = '\0';
}

/* The arguments both Standard Webhooks signatures (v1, v1a) take. */
static bool standard_arguments_are_valid(const char *secret, const char *msg_id,
                                         long long timestamp, const void *body, size_t body_len,
                                         const char *out)
{
    return secret != NULL && msg_id != NULL && msg_id[0] != '\0' && timestamp >= 0 && out != NULL &&
           (body != NULL || body_len == 0);
}

hookd_status hookd_sign_standard(const char *secret, const char *msg_id, long long timestamp,
                                 const void *body, size_t body_len, char *out, size_t out_size)
{
    unsigned char key[HOOKD__KEY_MAX], mac[HOOKD__MAC_LEN];
    char ts[HOOKD__TIMESTAMP_DIGITS_MAX + 1];
    size_t key_len = 0;
    hookd_status status;

    clear_output(out, out_size);
    if (!standard_arguments_are_valid(secret, msg_id, timestamp, body, body_len, out))
        return HOOKD_E_INVALID_ARGUMENT;
    if (out_size < strlen(STANDARD_PREFIX) + BASE64_MAC_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    status = hookd__standard_key(secret, key, &key_len);
    if (status == HOOKD_OK) {
        struct hookd__part parts[] = {
            {msg_id, strlen(msg_id)}, {".", 1}, {ts, format_timestamp(timestamp, ts)}, {".", 1},
            {body, body_len},
        };
        status = hookd__hmac_sha256(key, key_len, parts, sizeof parts / sizeof parts[0], mac);
    }
    OPENSSL_cleanse(key, sizeof key);
    if (status != HOOKD_OK)
        return status;
    memcpy(out, STANDARD_PREFIX, strlen(STANDARD_PREFIX));
    EVP_EncodeBlock((unsigned char *)out + strlen(STANDARD_PREFIX), mac, sizeof mac);
    return HOOKD_OK;
}

hookd_status hookd_sign_ed25519(const char *secret, const char *msg_id, long long timestamp,
                                const void *body, size_t body_len, char *out, size_t out_size)
{
    unsigned char seed[HOOKD__ED25519_KEY_BYTES], sig[HOOKD__ED25519_SIG_BYTES];
    char ts[HOOKD__TIMESTAMP_DIGITS_MAX + 1];
    hookd_status status;

    clear_output(out, out_size);
    if (!standard_arguments_are_valid(secret, msg_id, timestamp, body, body_len, out))
        return HOOKD_E_INVALID_ARGUMENT;
    if (out_size < strlen(ED25519_PREFIX) + BASE64_ED25519_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    status = hookd__ed25519_seed(secret, seed);
    if (status == HOOKD_OK) {
        struct hookd__part parts[] = {
            {msg_id, strlen(msg_id)}, {".", 1}, {ts, format_timestamp(timestamp, ts)}, {".", 1},
            {body, body_len},
        };
        status = hookd__ed25519_sign(seed, parts, sizeof parts / sizeof parts[0], sig);
    }
    OPENSSL_cleanse(seed, sizeof seed);
    if (status != HOOKD_OK)
        return status;
    memcpy(out, ED25519_PREFIX, strlen(ED25519_PREFIX));
    EVP_EncodeBlock((unsigned char *)out + strlen(ED25519_PREFIX), sig, sizeof sig);
    return HOOKD_OK;
}

hookd_status hookd_sign_hex(const char *secret, long long timestamp, const void *body,
                            size_t body_len, char *out, size_t out_size)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[HOOKD__MAC_LEN];
    char ts[HOOKD__TIMESTAMP_DIGITS_MAX + 1];
    char *hex;
    hookd_status status;

    clear_output(out, out_size);
    if (secret == NULL || timestamp < 0 || out == NULL || (body == NULL && body_len > 0))
        return HOOKD_E_INVALID_ARGUMENT;
    if (secret[0] == '\0')
        return HOOKD_E_BAD_SECRET;
    if (out_size < strlen(HEX_PREFIX) + 2 * HOOKD__MAC_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    struct hookd__part parts[] = {
        {ts, format_timestamp(timestamp, ts)},
        {".", 1},
        {body, body_len},
    };
    status = hookd__hmac_sha256(secret, strlen(secret), parts, sizeof parts / sizeof parts[0], mac);
    if (status != HOOKD_OK)
        return status;
    /* OPENSSL_buf2hexstr writes uppercase with separators; the scheme wants plain lowercase. */
    memcpy(out, HEX_PREFIX, strlen(HEX_PREFIX));
    hex = out + strlen(HEX_PREFIX);
    for (size_t i = 0; i < sizeof mac; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 0x0f];
    }
    hex[2 * sizeof mac] = '\0';
    return HOOKD_OK;
}
