/* libhookd: webhook secrets in the Standard Webhooks format (whsec_ + base64), and the HMAC keys
 * they stand for. */
#include "lib/internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define SECRET_RANDOM_BYTES 32
#define SECRET_PREFIX "whsec_"
#define BASE64_TEXT_MAX (HOOKD_SECRET_MAX + 3)

hookd_status hookd_secret_generate(char *out, size_t out_size)
{
    unsigned char raw[SECRET_RANDOM_BYTES];

    if (out == NULL)
        return HOOKD_E_INVALID_ARGUMENT;
    if (out_size < HOOKD_SECRET_LEN + 1)
        return HOOKD_E_BUFFER_TOO_SMALL;
    if (RAND_bytes(raw, sizeof raw) != 1)
        return HOOKD_E_CRYPTO;
    memcpy(out, SECRET_PREFIX, strlen(SECRET_PREFIX));
    /* 32 bytes encode to 44 base64 characters plus the NUL EVP_EncodeBlock writes. */
    EVP_EncodeBlock((unsigned char *)out + strlen(SECRET_PREFIX), raw, sizeof raw);
    OPENSSL_cleanse(raw, sizeof raw);
    return HOOKD_OK;
}

static bool is_base64_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
           c == '/';
}

bool hookd__base64_decode(const char *text, size_t len, unsigned char *out, size_t out_size,
                          size_t *out_len)
{
    /* EVP_DecodeBlock wants padded input and is lenient about whitespace, so the text is checked
     * here and padded into a stack copy first. */
    char padded[BASE64_TEXT_MAX + 1];
    unsigned char decoded[BASE64_TEXT_MAX / 4 * 3 + 3];
    size_t data_len = 0, pad_len, padded_len;
    int n;
    bool ok = false;

    if (len == 0 || len > BASE64_TEXT_MAX)
        return false;
    while (data_len < len && is_base64_char(text[data_len]))
        data_len++;
    for (size_t i = data_len; i < len; i++) {
        if (text[i] != '=')
            return false;
    }
    pad_len = (4 - data_len % 4) % 4;
    /* One leftover character carries no whole byte; given padding must be the right amount. */
    if (data_len == 0 || pad_len == 3 || (len > data_len && len - data_len != pad_len))
        return false;
    padded_len = data_len + pad_len;
    if (padded_len > BASE64_TEXT_MAX || padded_len / 4 * 3 - pad_len > out_size)
        return false;
    memcpy(padded, text, data_len);
    memset(padded + data_len, '=', pad_len);
    n = EVP_DecodeBlock(decoded, (const unsigned char *)padded, (int)padded_len);
    if (n >= 0 && (size_t)n == padded_len / 4 * 3) {
        *out_len = (size_t)n - pad_len;
        memcpy(out, decoded, *out_len);
        ok = true;
    }
    OPENSSL_cleanse(padded, sizeof padded);
    OPENSSL_cleanse(decoded, sizeof decoded);
    return ok;
}

hookd_status hookd__standard_key(const char *secret, unsigned char *key, size_t *key_len)
{
    size_t len;

    if (strncmp(secret, SECRET_PREFIX, strlen(SECRET_PREFIX)) == 0)
        secret += strlen(SECRET_PREFIX);
    len = strnlen(secret, HOOKD_SECRET_MAX + 1);
    if (len > HOOKD_SECRET_MAX || !hookd__base64_decode(secret, len, key, HOOKD__KEY_MAX, key_len))
        return HOOKD_E_BAD_SECRET;
    return HOOKD_OK;
}
