/* libhookd: webhook secrets in the Standard Webhooks format (whsec_ + base64). */
#include "hookd/hookd.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define SECRET_RANDOM_BYTES 32
#define SECRET_PREFIX "whsec_"

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
