/* Fuzzes libhookd's signing and verifying (§3, §5): the standard (v1 and Ed25519 v1a), hex,
 * Stripe and sender-HMAC schemes. The input is "secret\nmsg id\ntimestamp\nsignature header\nbody":
 * any return code is fine, and whatever hookd_sign_* produces (and the same MAC in the other
 * schemes) must verify. */
#include "fuzz.h"

#include "hookd/hookd.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <openssl/evp.h>

#define VECTOR_NOW 1614265330LL /* the Standard Webhooks test vector's time */

enum { SECRET, MSG_ID, TIMESTAMP, SIGNATURES, BODY, PIECES };

/* The timestamp to sign with: the piece as a decimal number if it is one, else a value taken
 * from the input's length (negative ones included, which signing must refuse). */
static long long signing_time(const char *text, size_t input_size)
{
    char *end;
    long long value;

    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno == 0 && end != text && *end == '\0')
        return value;
    return (long long)input_size * 7919 - 100000;
}

static void check_standard(char **piece, const void *body, size_t body_len, long long timestamp,
                           size_t out_size)
{
    char *out = malloc(out_size > 0 ? out_size : 1), ts[32], list[3 * HOOKD_SIGNATURE_MAX];
    hookd_status status;

    if (out == NULL)
        abort();
    status =
        hookd_sign_standard(piece[SECRET], piece[MSG_ID], timestamp, body, body_len, out, out_size);
    if (status != HOOKD_OK) {
        FUZZ_CHECK(out_size == 0 || out[0] == '\0');
        if (status == HOOKD_E_BAD_SECRET)
            FUZZ_CHECK(hookd_verify_standard(piece[SECRET], piece[MSG_ID], "1", "v1,x", body,
                                             body_len, 0, 0) == HOOKD_E_BAD_SECRET);
        goto out;
    }
    FUZZ_CHECK(timestamp >= 0 && piece[MSG_ID][0] != '\0' && strlen(out) < HOOKD_SIGNATURE_MAX);
    if (strlen(piece[MSG_ID]) > HOOKD_HEADER_MAX)
        goto out; /* signing takes any id; verifying refuses long ones */
    snprintf(ts, sizeof ts, "%lld", timestamp);
    FUZZ_CHECK(hookd_verify_standard(piece[SECRET], piece[MSG_ID], ts, out, body, body_len, 0, 0) ==
               HOOKD_OK);
    /* the tolerance is inclusive */
    FUZZ_CHECK(hookd_verify_standard(piece[SECRET], piece[MSG_ID], ts, out, body, body_len, 300,
                                     timestamp <= LLONG_MAX - 300 ? timestamp + 300 : timestamp) ==
               HOOKD_OK);
    /* other versions and broken entries around it, spaces and leading zeros are ignored */
    snprintf(list, sizeof list, " v2,abc v1,%.44s= %s v1,!!\t", out + 3, out);
    snprintf(ts, sizeof ts, " 000%lld\t", timestamp);
    FUZZ_CHECK(hookd_verify_standard(piece[SECRET], piece[MSG_ID], ts, list, body, body_len, 0,
                                     0) == HOOKD_OK);
out:
    free(out);
}

/* The secret piece as an Ed25519 secret key: what hookd_sign_ed25519 writes verifies with the
 * key's public half, and not once the body changes. */
static void check_ed25519(char **piece, const void *body, size_t body_len, long long timestamp)
{
    char sig[HOOKD_SIGNATURE_MAX], public_key[HOOKD_ED25519_KEY_LEN + 1], ts[32];

    if (hookd_sign_ed25519(piece[SECRET], piece[MSG_ID], timestamp, body, body_len, sig,
                           sizeof sig) != HOOKD_OK) {
        FUZZ_CHECK(sig[0] == '\0');
        return;
    }
    FUZZ_CHECK(hookd_ed25519_public_key(piece[SECRET], public_key, sizeof public_key) == HOOKD_OK);
    if (strlen(piece[MSG_ID]) > HOOKD_HEADER_MAX)
        return;
    snprintf(ts, sizeof ts, "%lld", timestamp);
    FUZZ_CHECK(hookd_verify_ed25519(public_key, piece[MSG_ID], ts, sig, body, body_len, 0, 0) ==
               HOOKD_OK);
    FUZZ_CHECK(hookd_verify_ed25519(public_key, piece[MSG_ID], ts, sig, "x", body_len == 1 ? 0 : 1,
                                    0, 0) == HOOKD_E_SIGNATURE_MISMATCH);
}

/* The MAC of "{ts}.{body}" under the secret's bytes, as hookd_sign_hex wrote it in hex, is also
 * a GitHub-style hex or a Shopify-style base64 signature with a timestamp, and a Stripe one. */
static void check_same_mac(const char *secret, const char *ts, const char *hex, const void *body,
                           size_t body_len)
{
    unsigned char mac[32];
    char base64[64], header[160];

    for (size_t i = 0; i < sizeof mac; i++) {
        unsigned int byte = 0;
        FUZZ_CHECK(sscanf(hex + 2 * i, "%2x", &byte) == 1);
        mac[i] = (unsigned char)byte;
    }
    EVP_EncodeBlock((unsigned char *)base64, mac, sizeof mac);
    snprintf(header, sizeof header, "sha256=%s", hex);
    FUZZ_CHECK(hookd_verify_hmac(secret, strlen(secret), header, "sha256=", HOOKD_ENCODING_HEX, ts,
                                 body, body_len, 0, 0) == HOOKD_OK);
    FUZZ_CHECK(hookd_verify_hmac(secret, strlen(secret), base64, NULL, HOOKD_ENCODING_BASE64, ts,
                                 body, body_len, 0, 0) == HOOKD_OK);
    snprintf(header, sizeof header, "t=%s,v0=00,v1=%s", ts, hex);
    FUZZ_CHECK(hookd_verify_stripe(secret, header, body, body_len, 0, 0) == HOOKD_OK);
}

static void check_hex(char **piece, const void *body, size_t body_len, long long timestamp,
                      size_t out_size)
{
    char *out = malloc(out_size > 0 ? out_size : 1), ts[32], list[3 * HOOKD_SIGNATURE_MAX];
    hookd_status status;

    if (out == NULL)
        abort();
    status = hookd_sign_hex(piece[SECRET], timestamp, body, body_len, out, out_size);
    if (status != HOOKD_OK) {
        FUZZ_CHECK(out_size == 0 || out[0] == '\0');
        goto out;
    }
    snprintf(ts, sizeof ts, "%lld", timestamp);
    FUZZ_CHECK(hookd_verify_hex(piece[SECRET], ts, out, body, body_len, 0, 0) == HOOKD_OK);
    FUZZ_CHECK(hookd_verify_hex(piece[SECRET], ts, out, body, body_len, 300,
                                timestamp >= 300 ? timestamp - 300 : timestamp) == HOOKD_OK);
    /* hex digits in either case, other algorithms and empty entries ignored */
    snprintf(list, sizeof list, "md5=00,, %s ,sha256=zz", out);
    for (char *p = strchr(list, ' ') + 1 + strlen("sha256="); isxdigit((unsigned char)*p); p++)
        *p = (char)toupper((unsigned char)*p);
    FUZZ_CHECK(hookd_verify_hex(piece[SECRET], ts, list, body, body_len, 0, 0) == HOOKD_OK);
    check_same_mac(piece[SECRET], ts, out + strlen("sha256="), body, body_len);
out:
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = fuzz_strndup(data, size), *piece[PIECES];
    uint8_t *body = NULL;
    size_t body_len, out_size = HOOKD_SIGNATURE_MAX;
    long long timestamp;

    fuzz_split(buf, size, '\n', piece, PIECES, &body_len);
    if (body_len > 0) {
        /* an exact-size copy without a NUL after it, so that reading past the body is caught */
        body = malloc(body_len);
        if (body == NULL)
            abort();
        memcpy(body, piece[BODY], body_len);
        if (body[0] == '~')
            out_size = size % (HOOKD_SIGNATURE_MAX + 1); /* too small, or just enough */
    }

    for (int t = 0; t < 2; t++) {
        long long tolerance = t == 0 ? 0 : HOOKD_TOLERANCE_DEFAULT;
        (void)hookd_verify_standard(piece[SECRET], piece[MSG_ID], piece[TIMESTAMP],
                                    piece[SIGNATURES], body, body_len, tolerance, VECTOR_NOW);
        (void)hookd_verify_hex(piece[SECRET], piece[TIMESTAMP], piece[SIGNATURES], body, body_len,
                               tolerance, VECTOR_NOW);
        (void)hookd_verify_ed25519(piece[SECRET], piece[MSG_ID], piece[TIMESTAMP],
                                   piece[SIGNATURES], body, body_len, tolerance, VECTOR_NOW);
        (void)hookd_verify_stripe(piece[SECRET], piece[SIGNATURES], body, body_len, tolerance,
                                  VECTOR_NOW);
        for (int encoding = HOOKD_ENCODING_HEX; encoding <= HOOKD_ENCODING_BASE64 + 1; encoding++) {
            /* GitHub-like (prefix, no timestamp), Shopify-like (neither), and one past the last
             * encoding, which must be refused */
            (void)hookd_verify_hmac(piece[SECRET], strlen(piece[SECRET]), piece[SIGNATURES],
                                    "sha256=", (hookd_encoding)encoding, NULL, body, body_len,
                                    tolerance, VECTOR_NOW);
            (void)hookd_verify_hmac(piece[SECRET], strlen(piece[SECRET]), piece[SIGNATURES], NULL,
                                    (hookd_encoding)encoding, piece[TIMESTAMP], body, body_len,
                                    tolerance, VECTOR_NOW);
        }
    }
    timestamp = signing_time(piece[TIMESTAMP], size);
    check_standard(piece, body, body_len, timestamp, out_size);
    check_hex(piece, body, body_len, timestamp, out_size);
    check_ed25519(piece, body, body_len, timestamp);
    free(body);
    free(buf);
    return 0;
}
