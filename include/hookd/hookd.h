/* libhookd: sign and verify webhooks. The public API, stable across minor versions.
 * Thread-safe: no global state beyond OpenSSL's own. */
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
    HOOKD_E_INVALID_ARGUMENT = 1, /* a NULL or malformed argument */
    HOOKD_E_BUFFER_TOO_SMALL = 2, /* the caller's output buffer cannot hold the result */
    HOOKD_E_CRYPTO = 3,           /* OpenSSL failed (random bytes, HMAC) */
    HOOKD_E_BAD_SECRET = 4,       /* the secret is not valid base64 after its whsec_ prefix */
} hookd_status;

/* The library's version as "MAJOR.MINOR.PATCH"; a static string. */
HOOKD_API const char *hookd_version(void);

/* A static English description of a status; never NULL, also for unknown values. */
HOOKD_API const char *hookd_strerror(hookd_status status);

/* Length of a secret from hookd_secret_generate, without the terminating NUL. */
#define HOOKD_SECRET_LEN 50

/* Writes a new secret, "whsec_" + base64 of 32 random bytes (Standard Webhooks format),
 * NUL-terminated, into out (at least HOOKD_SECRET_LEN + 1 bytes). */
HOOKD_API hookd_status hookd_secret_generate(char *out, size_t out_size);

#ifdef __cplusplus
}
#endif
#endif
