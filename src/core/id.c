/* Time-sortable ids and the small encodings around them. */
#include "core/id.h"

#include "core/timeutil.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

static const char crockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Ids must be unique, not secret: a per-thread xoshiro256** seeded from OpenSSL's generator
 * is enough, and much cheaper than RAND_bytes for every id. */
static _Thread_local uint64_t prng[4];
static _Thread_local bool prng_seeded;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t prng_next(void)
{
    uint64_t result = rotl(prng[1] * 5, 7) * 9, t = prng[1] << 17;
    prng[2] ^= prng[0];
    prng[3] ^= prng[1];
    prng[1] ^= prng[2];
    prng[0] ^= prng[3];
    prng[2] ^= t;
    prng[3] = rotl(prng[3], 45);
    return result;
}

static void id_random(unsigned char *out, size_t len)
{
    if (!prng_seeded) {
        if (RAND_bytes((unsigned char *)prng, sizeof prng) != 1)
            abort(); /* no randomness means no unique ids: nothing safe to do */
        prng_seeded = true;
    }
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = prng_next();
        memcpy(out + i, &v, len - i < 8 ? len - i : 8);
    }
}

double id_random_unit(void)
{
    uint64_t v;
    id_random((unsigned char *)&v, sizeof v);
    return (double)(v >> 11) / 9007199254740992.0; /* 53 bits */
}

void id_make(const char *prefix, int64_t ms, char out[ID_MAX])
{
    unsigned char random[10];
    size_t plen = strlen(prefix);
    char *body = out + plen;
    uint64_t t = (uint64_t)ms;

    memcpy(out, prefix, plen);
    /* 48 bits of time in 10 characters (the first carries only 3 bits). */
    for (int i = 9; i >= 0; i--) {
        body[i] = crockford[t & 31];
        t >>= 5;
    }
    id_random(random, sizeof random);
    /* 80 random bits in 16 characters, 5 bits at a time. */
    for (int i = 0; i < 16; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = (unsigned)random[byte] << 8 | (byte + 1 < 10 ? random[byte + 1] : 0);
        body[10 + i] = crockford[(v >> (11 - shift)) & 31];
    }
    body[ID_BODY_LEN] = '\0';
}

void id_new(const char *prefix, char out[ID_MAX])
{
    id_make(prefix, time_now_ms(), out);
}

static int crockford_value(char c)
{
    const char *p = c ? strchr(crockford, c) : NULL;
    return p ? (int)(p - crockford) : -1;
}

bool id_is_valid(const char *text, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (text == NULL || strncmp(text, prefix, plen) != 0 || strlen(text) != plen + ID_BODY_LEN)
        return false;
    for (size_t i = plen; text[i]; i++)
        if (crockford_value(text[i]) < 0)
            return false;
    return crockford_value(text[plen]) <= 7; /* the first character holds 3 bits */
}

int64_t id_time_ms(const char *text, const char *prefix)
{
    uint64_t t = 0;
    if (!id_is_valid(text, prefix))
        return -1;
    for (int i = 0; i < 10; i++)
        t = t << 5 | (uint64_t)crockford_value(text[strlen(prefix) + i]);
    return (int64_t)t;
}

void hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

long hex_decode(const char *text, unsigned char *out, size_t out_size)
{
    size_t len = strlen(text);
    if (len % 2 != 0 || len / 2 > out_size)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hex_value(text[2 * i]), lo = hex_value(text[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return (long)(len / 2);
}

void b64url_encode(const unsigned char *in, size_t len, char *out)
{
    int n = EVP_EncodeBlock((unsigned char *)out, in, (int)len);
    while (n > 0 && out[n - 1] == '=')
        n--;
    out[n] = '\0';
    for (int i = 0; i < n; i++) {
        if (out[i] == '+')
            out[i] = '-';
        else if (out[i] == '/')
            out[i] = '_';
    }
}
