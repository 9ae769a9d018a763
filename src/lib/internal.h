/* libhookd's internals shared between its files. Hidden from the shared object by
 * -fvisibility=hidden; the hookd__ prefix keeps them clear of other code in static links. */
#ifndef HOOKD_LIB_INTERNAL_H
#define HOOKD_LIB_INTERNAL_H

#include "hookd/hookd.h"

#include <stdbool.h>
#include <stddef.h>

#define HOOKD__MAC_LEN 32 /* HMAC-SHA256 */
/* The longest key a standard secret decodes to (3 bytes per 4 base64 characters). */
#define HOOKD__KEY_MAX (HOOKD_SECRET_MAX / 4 * 3 + 3)
/* The longest decimal unix time: 19 digits fit in a long long. */
#define HOOKD__TIMESTAMP_DIGITS_MAX 19

/* One piece of the message to authenticate; the HMAC covers the pieces in order. */
struct hookd__part {
    const void *data;
    size_t len;
};

/* HMAC-SHA256 of the concatenated parts under key, into out. Allocates nothing itself; OpenSSL's
 * EVP_MAC allocates and frees its context during the call. Thread-safe. */
hookd_status hookd__hmac_sha256(const void *key, size_t key_len, const struct hookd__part *parts,
                                size_t n_parts, unsigned char out[HOOKD__MAC_LEN]);

/* Decodes standard base64 text of len characters (padding optional, nothing else allowed) into
 * out; *out_len gets the byte count. False if the text is not base64, is empty, or decodes to
 * more than out_size bytes. No allocation; len is at most HOOKD_SECRET_MAX + 3. */
bool hookd__base64_decode(const char *text, size_t len, unsigned char *out, size_t out_size,
                          size_t *out_len);

/* The HMAC key of a standard-scheme secret: the base64 decoding of what follows an optional
 * "whsec_" prefix, into key[HOOKD__KEY_MAX]. HOOKD_E_BAD_SECRET if it is empty, too long or not
 * base64. The caller cleanses key after use. */
hookd_status hookd__standard_key(const char *secret, unsigned char *key, size_t *key_len);

#define HOOKD__ED25519_KEY_BYTES 32 /* a seed or a public key (RFC 8032) */
#define HOOKD__ED25519_SIG_BYTES 64

/* The 32-byte seed of an Ed25519 secret key (base64 after an optional "whsk_", of the seed or
 * of seed || public key, whose public half must match). HOOKD_E_BAD_SECRET otherwise. The
 * caller cleanses seed after use. */
hookd_status hookd__ed25519_seed(const char *secret, unsigned char seed[HOOKD__ED25519_KEY_BYTES]);

/* The 32 bytes of a public key, base64 after an optional "whpk_". HOOKD_E_BAD_SECRET otherwise. */
hookd_status hookd__ed25519_public(const char *text, unsigned char key[HOOKD__ED25519_KEY_BYTES]);

/* Ed25519 over the concatenated parts (joined in one heap buffer: OpenSSL's Ed25519 is one-shot).
 * verify gives HOOKD_OK, HOOKD_E_SIGNATURE_MISMATCH or HOOKD_E_CRYPTO. Thread-safe. */
hookd_status hookd__ed25519_sign(const unsigned char seed[HOOKD__ED25519_KEY_BYTES],
                                 const struct hookd__part *parts, size_t n_parts,
                                 unsigned char sig[HOOKD__ED25519_SIG_BYTES]);
hookd_status hookd__ed25519_verify(const unsigned char key[HOOKD__ED25519_KEY_BYTES],
                                   const struct hookd__part *parts, size_t n_parts,
                                   const unsigned char sig[HOOKD__ED25519_SIG_BYTES]);

#endif
