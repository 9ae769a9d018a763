/* libhookd: sign and verify webhooks (Standard Webhooks, symmetric v1 and asymmetric v1a, and
 * hookd's hex scheme, SPEC §3, §5).
 * The public API, stable across minor versions.
 *
 * Conventions for every function below:
 * - Thread-safety: every function is reentrant and may be called from any number of threads at
 *   once; the library keeps no global state beyond OpenSSL's own.
 * - Ownership: the library never keeps a pointer it was given and never returns memory to free.
 *   Strings passed in are NUL-terminated and only read during the call; results are written
 *   into buffers the caller owns.
 * - NULL: a NULL pointer argument gives HOOKD_E_INVALID_ARGUMENT, except `body`, which may be
 *   NULL when `body_len` is 0.
 * - Allocation: libhookd's own code never allocates on the verify path (stack only). Computing
 *   the HMAC goes through OpenSSL's EVP_MAC, which allocates and frees a few small objects per
 *   call, as OpenSSL's one-shot HMAC() does. Ed25519 (v1a) is the exception: OpenSSL signs and
 *   verifies it in one shot only, so those functions assemble "{msg_id}.{timestamp}.{body}" in
 *   one heap buffer of that size, and OpenSSL allocates its key objects. */
#ifndef HOOKD_HOOKD_H
#define HOOKD_HOOKD_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(HOOKD_BUILDING_LIBRARY)
#define HOOKD_API __attribute__((visibility("default")))
#else
#define HOOKD_API
#endif

#define HOOKD_VERSION_MAJOR 0
#define HOOKD_VERSION_MINOR 1
#define HOOKD_VERSION_PATCH 0

/* Return codes. The values never change; new ones are only appended. */
typedef enum hookd_status {
    HOOKD_OK = 0,
    HOOKD_E_INVALID_ARGUMENT = 1,    /* a NULL or out-of-range argument */
    HOOKD_E_BUFFER_TOO_SMALL = 2,    /* the caller's output buffer cannot hold the result */
    HOOKD_E_CRYPTO = 3,              /* OpenSSL failed (random bytes, HMAC) */
    HOOKD_E_BAD_SECRET = 4,          /* the secret is empty, too long, or (standard scheme) not
                                        valid base64 after its optional whsec_ prefix; or an
                                        Ed25519 key (whsk_/whpk_) that is not one */
    HOOKD_E_SIGNATURE_MISMATCH = 5,  /* the signatures are well formed but none of them matches */
    HOOKD_E_TIMESTAMP_TOO_OLD = 6,   /* the timestamp is more than the tolerance before now */
    HOOKD_E_TIMESTAMP_TOO_NEW = 7,   /* the timestamp is more than the tolerance after now */
    HOOKD_E_MALFORMED_HEADER = 8,    /* the signature header (or the message id) is empty, longer
                                        than HOOKD_HEADER_MAX, or holds no well-formed signature
                                        of the scheme */
    HOOKD_E_MALFORMED_TIMESTAMP = 9, /* the timestamp is not a decimal unix time in seconds */
} hookd_status;

/* The library's version as "MAJOR.MINOR.PATCH"; a static string. */
HOOKD_API const char *hookd_version(void);

/* A static English description of a status; never NULL, also for unknown values. */
HOOKD_API const char *hookd_strerror(hookd_status status);

/* --- secrets ----------------------------------------------------------------------------- */

/* Length of a secret from hookd_secret_generate, without the terminating NUL. */
#define HOOKD_SECRET_LEN 50

/* The longest base64 part (after "whsec_") of a standard-scheme secret that is accepted. */
#define HOOKD_SECRET_MAX 256

/* Writes a new secret, "whsec_" + base64 of 32 random bytes (Standard Webhooks format),
 * NUL-terminated, into out (at least HOOKD_SECRET_LEN + 1 bytes). */
HOOKD_API hookd_status hookd_secret_generate(char *out, size_t out_size);

/* Length of an Ed25519 secret key ("whsk_" + base64 of the 32-byte RFC 8032 secret key, the
 * seed) and of a public key ("whpk_" + base64 of its 32 bytes), without the NUL. */
#define HOOKD_ED25519_KEY_LEN 49

/* Writes a new Ed25519 key pair (Standard Webhooks v1a): the secret key "whsk_<base64 of the
 * 32-byte seed>" into secret_out and its public key "whpk_<base64 of 32 bytes>" into
 * public_out, each NUL-terminated in at least HOOKD_ED25519_KEY_LEN + 1 bytes. */
HOOKD_API hookd_status hookd_ed25519_generate(char *secret_out, size_t secret_size,
                                              char *public_out, size_t public_size);

/* Writes the public key "whpk_..." of an Ed25519 secret key into out (HOOKD_ED25519_KEY_LEN + 1
 * bytes). The secret key is base64 after an optional "whsk_" prefix, of the 32-byte seed or of
 * the 64 bytes seed || public key (libsodium's form, whose public half must match the seed). */
HOOKD_API hookd_status hookd_ed25519_public_key(const char *secret, char *out, size_t out_size);

/* --- signing ----------------------------------------------------------------------------- */

/* Room for one signature of any scheme and its NUL ("v1,<44>" is 47, "sha256=<64>" is 71,
 * "v1a,<88>" is 93). It was 80 before v1a; a caller's own out_size is what the library checks. */
#define HOOKD_SIGNATURE_MAX 96

/* Standard Webhooks: writes "v1,<base64 HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}")>",
 * NUL-terminated, into out (HOOKD_SIGNATURE_MAX bytes always suffice). The key is the base64
 * decoding of secret after an optional "whsec_" prefix; padding is optional. msg_id must not be
 * empty; timestamp is unix seconds, >= 0. During a secret rotation, call once per secret and
 * join the results with a space. On any error out holds "" (when out_size > 0). */
HOOKD_API hookd_status hookd_sign_standard(const char *secret, const char *msg_id,
                                           long long timestamp, const void *body, size_t body_len,
                                           char *out, size_t out_size);

/* hookd's hex scheme: writes "sha256=<lowercase hex HMAC-SHA256(key, "{timestamp}.{body}")>",
 * NUL-terminated, into out. The key is the secret string itself, its bytes as given ("whsec_"
 * prefix included, no base64 decoding). During a rotation, join the results with a comma. */
HOOKD_API hookd_status hookd_sign_hex(const char *secret, long long timestamp, const void *body,
                                      size_t body_len, char *out, size_t out_size);

/* Standard Webhooks asymmetric: writes "v1a,<base64 Ed25519 signature of
 * "{msg_id}.{timestamp}.{body}">" (64 bytes, 88 base64 characters), NUL-terminated, into out.
 * secret is an Ed25519 secret key as hookd_ed25519_public_key takes it. Arguments and rotation
 * as for hookd_sign_standard. Allocates (see the conventions above). */
HOOKD_API hookd_status hookd_sign_ed25519(const char *secret, const char *msg_id,
                                          long long timestamp, const void *body, size_t body_len,
                                          char *out, size_t out_size);

/* --- verifying --------------------------------------------------------------------------- */

/* The longest signature header and message id that verification accepts (bytes, without NUL);
 * longer ones give HOOKD_E_MALFORMED_HEADER without being read further. */
#define HOOKD_HEADER_MAX 8192

/* The timestamp tolerance the Standard Webhooks libraries use, in seconds. */
#define HOOKD_TOLERANCE_DEFAULT 300

/* Verifies a Standard Webhooks request: msg_id, timestamp and signatures are the values of its
 * webhook-id, webhook-timestamp and webhook-signature headers (svix-id, svix-timestamp and
 * svix-signature in Svix's naming); body is the raw request body, byte for byte.
 *
 * signatures is a space-separated list of "<version>,<base64>" entries; the request is valid if
 * any "v1," entry matches (the others are ignored, so senders may rotate secrets or add
 * signature versions). timestamp is decimal unix seconds; spaces and tabs around either header
 * value are ignored. With tolerance > 0 the timestamp must lie within tolerance seconds of now
 * (both inclusive, in both directions); tolerance 0 skips the check (now is then unused);
 * a negative tolerance, or a negative now with tolerance > 0, is HOOKD_E_INVALID_ARGUMENT.
 *
 * Returns HOOKD_OK or, checked in this order: HOOKD_E_INVALID_ARGUMENT, HOOKD_E_BAD_SECRET,
 * HOOKD_E_MALFORMED_HEADER, HOOKD_E_MALFORMED_TIMESTAMP, HOOKD_E_TIMESTAMP_TOO_OLD or _TOO_NEW,
 * HOOKD_E_CRYPTO, HOOKD_E_SIGNATURE_MISMATCH. Signatures are compared in constant time. */
HOOKD_API hookd_status hookd_verify_standard(const char *secret, const char *msg_id,
                                             const char *timestamp, const char *signatures,
                                             const void *body, size_t body_len, long long tolerance,
                                             long long now);

/* Verifies a request of hookd's hex scheme: timestamp and signatures are the values of its
 * X-Webhook-Timestamp and X-Webhook-Signature headers; the key is the secret string itself, as
 * for hookd_sign_hex. signatures is a comma-separated list of "<algorithm>=<hex>" entries
 * (spaces around entries allowed); the request is valid if any "sha256=" entry matches (hex
 * digits in either case); entries of other algorithms are ignored. Timestamp, tolerance, now
 * and the return codes are as for hookd_verify_standard. */
HOOKD_API hookd_status hookd_verify_hex(const char *secret, const char *timestamp,
                                        const char *signatures, const void *body, size_t body_len,
                                        long long tolerance, long long now);

/* Verifies a Standard Webhooks request signed with Ed25519: as hookd_verify_standard, but with
 * the sender's public key ("whpk_" prefix optional, then base64 of 32 bytes) and the "v1a,"
 * entries of signatures (base64 of 64 bytes; other entries are ignored). Same checks and return
 * codes in the same order; HOOKD_E_BAD_SECRET for a public key that is not one. Allocates (see
 * the conventions above); a signature holds no secret, so there is no timing to hide. */
HOOKD_API hookd_status hookd_verify_ed25519(const char *public_key, const char *msg_id,
                                            const char *timestamp, const char *signatures,
                                            const void *body, size_t body_len, long long tolerance,
                                            long long now);

/* How a MAC is written in a header. */
typedef enum hookd_encoding {
    HOOKD_ENCODING_HEX = 0,    /* lowercase or uppercase hex */
    HOOKD_ENCODING_BASE64 = 1, /* standard base64, padding optional */
} hookd_encoding;

/* Verifies a signature of a sender's own HMAC-SHA256 scheme (GitHub's X-Hub-Signature-256,
 * Shopify's X-Shopify-Hmac-Sha256, custom ones). signature is the header's value: prefix (NULL
 * or "" for none, e.g. "sha256=") then the MAC in encoding. The HMAC key is key[0..key_len);
 * the signed bytes are "{timestamp}.{body}" when timestamp (a header's text) is not NULL, and
 * then tolerance/now apply as for hookd_verify_hex; else the body alone. Allocates nothing
 * itself; thread-safe. */
HOOKD_API hookd_status hookd_verify_hmac(const void *key, size_t key_len, const char *signature,
                                         const char *prefix, hookd_encoding encoding,
                                         const char *timestamp, const void *body, size_t body_len,
                                         long long tolerance, long long now);

/* Verifies a Stripe-Signature header, "t=<unix>,v1=<hex>[,v1=<hex>...]" (other schemes such as
 * v0 are ignored): HMAC-SHA256 keyed with the secret string of "{t}.{body}", with the timestamp
 * within tolerance seconds of now (0 = no check). */
HOOKD_API hookd_status hookd_verify_stripe(const char *secret, const char *header, const void *body,
                                           size_t body_len, long long tolerance, long long now);

#ifdef __cplusplus
}
#endif
#endif
