/* Object ids (§1): a prefix plus 26 Crockford base32 characters, 48 bits of milliseconds then
 * 80 random bits, so that sorting ids sorts by creation time (ULID layout). */
#ifndef HOOKD_CORE_ID_H
#define HOOKD_CORE_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ID_BODY_LEN 26
#define ID_MAX 72 /* room for producer-chosen event ids (64) and every prefix */

/* Writes prefix (e.g. "org_") + a new id body for time ms into out[ID_MAX]. Thread-safe. */
void id_make(const char *prefix, int64_t ms, char out[ID_MAX]);
/* Same, at the current time. */
void id_new(const char *prefix, char out[ID_MAX]);

/* A uniform double in [0, 1) from the same per-thread generator as the ids (not for secrets). */
double id_random_unit(void);

/* True if text is prefix followed by a well-formed id body. */
bool id_is_valid(const char *text, const char *prefix);

/* The milliseconds encoded in a well-formed id with the given prefix, or -1. */
int64_t id_time_ms(const char *text, const char *prefix);

/* Lowercase hex of len bytes into out (2*len+1 bytes). */
void hex_encode(const unsigned char *in, size_t len, char *out);
/* Decodes hex text of even length into out (at most out_size bytes); returns the byte count or
 * -1 if the text is not hex or does not fit. */
long hex_decode(const char *text, unsigned char *out, size_t out_size);
/* URL-safe base64 without padding of len bytes into out (4*ceil(len/3)+1 bytes suffice). */
void b64url_encode(const unsigned char *in, size_t len, char *out);

#endif
