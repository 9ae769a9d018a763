/* libhookd: verifying webhooks in the standard (v1 and v1a) and hex schemes (SPEC §5): header
 * parsing, timestamp tolerance and constant-time comparison, on the stack only (but Ed25519's
 * one-shot message buffer). */
#include "lib/internal.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

#define STANDARD_VERSION "v1,"
#define ED25519_VERSION "v1a,"
#define HEX_ALGORITHM "sha256="

/* A piece of a header value; not NUL-terminated. */
struct span {
    const char *text;
    size_t len;
};

/* Turns one signature entry into the MAC it carries; false if the entry is not a well-formed
 * signature this scheme can check (another version or algorithm, or bad encoding). */
typedef bool (*entry_decoder)(struct span entry, unsigned char sig[HOOKD__MAC_LEN]);

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* The value with the spaces and tabs around it removed; false if it is over HOOKD_HEADER_MAX
 * (checked without reading past that). */
static bool header_value(const char *text, struct span *value)
{
    size_t len = strnlen(text, HOOKD_HEADER_MAX + 1);

    if (len > HOOKD_HEADER_MAX)
        return false;
    while (len > 0 && is_ows(*text)) {
        text++;
        len--;
    }
    while (len > 0 && is_ows(text[len - 1]))
        len--;
    value->text = text;
    value->len = len;
    return true;
}

/* Takes the next non-empty entry of list (split on sep, spaces and tabs around entries dropped)
 * into entry; false when the list is used up. */
static bool next_entry(struct span *list, char sep, struct span *entry)
{
    for (;;) {
        while (list->len > 0 && (is_ows(*list->text) || *list->text == sep)) {
            list->text++;
            list->len--;
        }
        if (list->len == 0)
            return false;
        entry->text = list->text;
        while (list->len > 0 && *list->text != sep) {
            list->text++;
            list->len--;
        }
        entry->len = (size_t)(list->text - entry->text);
        while (entry->len > 0 && is_ows(entry->text[entry->len - 1]))
            entry->len--;
        if (entry->len > 0)
            return true;
    }
}

static bool starts_with(struct span s, const char *prefix)
{
    size_t len = strlen(prefix);
    return s.len >= len && memcmp(s.text, prefix, len) == 0;
}

/* A "<version><base64>" entry's sig_len bytes (at most HOOKD__ED25519_SIG_BYTES). */
static bool decode_base64_entry(struct span entry, const char *version, unsigned char *sig,
                                size_t sig_len)
{
    unsigned char canonical[2 * HOOKD__ED25519_SIG_BYTES];
    size_t len = 0;

    if (!starts_with(entry, version))
        return false;
    entry.text += strlen(version);
    entry.len -= strlen(version);
    if (!hookd__base64_decode(entry.text, entry.len, sig, sig_len, &len) || len != sig_len)
        return false;
    /* Base64 leaves unused bits in the last character of 32 or 64 bytes; an encoding with them
     * set decodes to the same bytes, but the reference libraries compare text and refuse it. So
     * does this one: only the canonical encoding (padded or not) is a signature. */
    EVP_EncodeBlock(canonical, sig, (int)sig_len);
    return memcmp(canonical, entry.text, entry.len) == 0;
}

static bool decode_standard_entry(struct span entry, unsigned char sig[HOOKD__MAC_LEN])
{
    return decode_base64_entry(entry, STANDARD_VERSION, sig, HOOKD__MAC_LEN);
}

static bool decode_hex_entry(struct span entry, unsigned char sig[HOOKD__MAC_LEN])
{
    if (!starts_with(entry, HEX_ALGORITHM) ||
        entry.len != strlen(HEX_ALGORITHM) + 2 * HOOKD__MAC_LEN)
        return false;
    entry.text += strlen(HEX_ALGORITHM);
    for (size_t i = 0; i < HOOKD__MAC_LEN; i++) {
        int high = OPENSSL_hexchar2int((unsigned char)entry.text[2 * i]);
        int low = OPENSSL_hexchar2int((unsigned char)entry.text[2 * i + 1]);
        if (high < 0 || low < 0)
            return false;
        sig[i] = (unsigned char)(high << 4 | low);
    }
    return true;
}

/* How many entries of the list are well-formed signatures of the scheme. */
static size_t count_signatures(struct span list, char sep, entry_decoder decode)
{
    unsigned char sig[HOOKD__MAC_LEN];
    struct span entry;
    size_t count = 0;

    while (next_entry(&list, sep, &entry)) {
        if (decode(entry, sig))
            count++;
    }
    return count;
}

/* True if any well-formed entry equals mac. Every entry is compared in constant time and the
 * loop does not stop at a match. */
static bool any_signature_matches(struct span list, char sep, entry_decoder decode,
                                  const unsigned char mac[HOOKD__MAC_LEN])
{
    unsigned char sig[HOOKD__MAC_LEN];
    struct span entry;
    bool matched = false;

    while (next_entry(&list, sep, &entry)) {
        if (decode(entry, sig))
            matched |= CRYPTO_memcmp(sig, mac, HOOKD__MAC_LEN) == 0;
    }
    return matched;
}

/* Parses a decimal unix time. digits gets the canonical text that was signed (leading zeros
 * dropped, as the Standard Webhooks libraries re-format the number they parse). */
static hookd_status parse_timestamp(const char *text, long long *value, struct span *digits)
{
    struct span s;
    long long v = 0;

    if (!header_value(text, &s) || s.len == 0)
        return HOOKD_E_MALFORMED_TIMESTAMP;
    for (size_t i = 0; i < s.len; i++) {
        if (s.text[i] < '0' || s.text[i] > '9')
            return HOOKD_E_MALFORMED_TIMESTAMP;
    }
    while (s.len > 1 && s.text[0] == '0') {
        s.text++;
        s.len--;
    }
    if (s.len > HOOKD__TIMESTAMP_DIGITS_MAX)
        return HOOKD_E_MALFORMED_TIMESTAMP;
    for (size_t i = 0; i < s.len; i++) {
        int digit = s.text[i] - '0';
        if (v > (LLONG_MAX - digit) / 10)
            return HOOKD_E_MALFORMED_TIMESTAMP;
        v = v * 10 + digit;
    }
    *value = v;
    *digits = s;
    return HOOKD_OK;
}

/* Both timestamp and now are >= 0 here, so neither difference can overflow. */
static hookd_status check_tolerance(long long timestamp, long long tolerance, long long now)
{
    if (tolerance == 0)
        return HOOKD_OK;
    if (timestamp < now && now - timestamp > tolerance)
        return HOOKD_E_TIMESTAMP_TOO_OLD;
    if (timestamp > now && timestamp - now > tolerance)
        return HOOKD_E_TIMESTAMP_TOO_NEW;
    return HOOKD_OK;
}

/* The checks both schemes share, before any HMAC is computed: the signature list holds at least
 * one well-formed signature, the timestamp parses and lies within the tolerance. */
static hookd_status check_headers(const char *timestamp, const char *signatures, char sep,
                                  entry_decoder decode, long long tolerance, long long now,
                                  struct span *list, struct span *ts_digits)
{
    long long ts_value = 0;
    hookd_status status;

    if (!header_value(signatures, list) || count_signatures(*list, sep, decode) == 0)
        return HOOKD_E_MALFORMED_HEADER;
    status = parse_timestamp(timestamp, &ts_value, ts_digits);
    if (status != HOOKD_OK)
        return status;
    return check_tolerance(ts_value, tolerance, now);
}

static bool arguments_are_valid(const void *body, size_t body_len, long long tolerance,
                                long long now)
{
    return (body != NULL || body_len == 0) && tolerance >= 0 && (tolerance == 0 || now >= 0);
}

hookd_status hookd_verify_standard(const char *secret, const char *msg_id, const char *timestamp,
                                   const char *signatures, const void *body, size_t body_len,
                                   long long tolerance, long long now)
{
    unsigned char key[HOOKD__KEY_MAX], mac[HOOKD__MAC_LEN];
    struct span list, ts_digits;
    size_t key_len = 0, id_len;
    hookd_status status;

    if (secret == NULL || msg_id == NULL || timestamp == NULL || signatures == NULL ||
        !arguments_are_valid(body, body_len, tolerance, now))
        return HOOKD_E_INVALID_ARGUMENT;
    status = hookd__standard_key(secret, key, &key_len);
    if (status != HOOKD_OK)
        return status;
    id_len = strnlen(msg_id, HOOKD_HEADER_MAX + 1);
    if (id_len == 0 || id_len > HOOKD_HEADER_MAX)
        status = HOOKD_E_MALFORMED_HEADER;
    else
        status = check_headers(timestamp, signatures, ' ', decode_standard_entry, tolerance, now,
                               &list, &ts_digits);
    if (status == HOOKD_OK) {
        const struct hookd__part parts[] = {
            {msg_id, id_len}, {".", 1}, {ts_digits.text, ts_digits.len}, {".", 1}, {body, body_len},
        };
        status = hookd__hmac_sha256(key, key_len, parts, sizeof parts / sizeof parts[0], mac);
        if (status == HOOKD_OK && !any_signature_matches(list, ' ', decode_standard_entry, mac))
            status = HOOKD_E_SIGNATURE_MISMATCH;
    }
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(mac, sizeof mac);
    return status;
}

/* A "v1a," entry's 64-byte signature, in canonical base64 only, as for v1. */
static bool decode_ed25519_entry(struct span entry, unsigned char sig[HOOKD__ED25519_SIG_BYTES])
{
    return decode_base64_entry(entry, ED25519_VERSION, sig, HOOKD__ED25519_SIG_BYTES);
}

hookd_status hookd_verify_ed25519(const char *public_key, const char *msg_id, const char *timestamp,
                                  const char *signatures, const void *body, size_t body_len,
                                  long long tolerance, long long now)
{
    unsigned char key[HOOKD__ED25519_KEY_BYTES], sig[HOOKD__ED25519_SIG_BYTES];
    struct span list, entry, ts_digits;
    long long ts_value = 0;
    size_t id_len, well_formed = 0;
    hookd_status status;

    if (public_key == NULL || msg_id == NULL || timestamp == NULL || signatures == NULL ||
        !arguments_are_valid(body, body_len, tolerance, now))
        return HOOKD_E_INVALID_ARGUMENT;
    status = hookd__ed25519_public(public_key, key);
    if (status != HOOKD_OK)
        return status;
    id_len = strnlen(msg_id, HOOKD_HEADER_MAX + 1);
    if (id_len == 0 || id_len > HOOKD_HEADER_MAX || !header_value(signatures, &list))
        return HOOKD_E_MALFORMED_HEADER;
    for (struct span rest = list; next_entry(&rest, ' ', &entry);)
        well_formed += decode_ed25519_entry(entry, sig);
    if (well_formed == 0)
        return HOOKD_E_MALFORMED_HEADER;
    status = parse_timestamp(timestamp, &ts_value, &ts_digits);
    if (status == HOOKD_OK)
        status = check_tolerance(ts_value, tolerance, now);
    if (status != HOOKD_OK)
        return status;
    const struct hookd__part parts[] = {
        {msg_id, id_len}, {".", 1}, {ts_digits.text, ts_digits.len}, {".", 1}, {body, body_len},
    };
    status = HOOKD_E_SIGNATURE_MISMATCH;
    for (struct span rest = list;
         status == HOOKD_E_SIGNATURE_MISMATCH && next_entry(&rest, ' ', &entry);) {
        if (decode_ed25519_entry(entry, sig))
            status = hookd__ed25519_verify(key, parts, sizeof parts / sizeof parts[0], sig);
    }
    return status;
}

hookd_status hookd_verify_hex(const char *secret, const char *timestamp, const char *signatures,
                              const void *body, size_t body_len, long long tolerance, long long now)
{
    unsigned char mac[HOOKD__MAC_LEN];
    struct span list, ts_digits;
    hookd_status status;

    if (secret == NULL || timestamp == NULL || signatures == NULL ||
        !arguments_are_valid(body, body_len, tolerance, now))
        return HOOKD_E_INVALID_ARGUMENT;
    if (secret[0] == '\0')
        return HOOKD_E_BAD_SECRET;
    status = check_headers(timestamp, signatures, ',', decode_hex_entry, tolerance, now, &list,
                           &ts_digits);
    if (status != HOOKD_OK)
        return status;
    const struct hookd__part parts[] = {
        {ts_digits.text, ts_digits.len},
        {".", 1},
        {body, body_len},
    };
    status = hookd__hmac_sha256(secret, strlen(secret), parts, sizeof parts / sizeof parts[0], mac);
    if (status == HOOKD_OK && !any_signature_matches(list, ',', decode_hex_entry, mac))
        status = HOOKD_E_SIGNATURE_MISMATCH;
    OPENSSL_cleanse(mac, sizeof mac);
    return status;
}

/* Decodes a MAC written in encoding (hex in either case, or base64 with optional padding). */
static bool decode_mac(struct span text, hookd_encoding encoding, unsigned char mac[HOOKD__MAC_LEN])
{
    size_t len = 0;
    if (encoding == HOOKD_ENCODING_BASE64)
        return hookd__base64_decode(text.text, text.len, mac, HOOKD__MAC_LEN, &len) &&
               len == HOOKD__MAC_LEN;
    if (encoding != HOOKD_ENCODING_HEX || text.len != 2 * HOOKD__MAC_LEN)
        return false;
    for (size_t i = 0; i < HOOKD__MAC_LEN; i++) {
        int high = OPENSSL_hexchar2int((unsigned char)text.text[2 * i]);
        int low = OPENSSL_hexchar2int((unsigned char)text.text[2 * i + 1]);
        if (high < 0 || low < 0)
            return false;
        mac[i] = (unsigned char)(high << 4 | low);
    }
    return true;
}

/* HMAC-SHA256 of "[{timestamp}.]{body}" compared in constant time with expected. */
static hookd_status check_mac(const void *key, size_t key_len, const struct span *timestamp,
                              const void *body, size_t body_len,
                              const unsigned char expected[HOOKD__MAC_LEN])
{
    unsigned char mac[HOOKD__MAC_LEN];
    struct hookd__part parts[3];
    size_t count = 0;
    hookd_status status;
    if (timestamp) {
        parts[count++] = (struct hookd__part){timestamp->text, timestamp->len};
        parts[count++] = (struct hookd__part){".", 1};
    }
    parts[count++] = (struct hookd__part){body, body_len};
    status = hookd__hmac_sha256(key, key_len, parts, count, mac);
    if (status == HOOKD_OK && CRYPTO_memcmp(mac, expected, HOOKD__MAC_LEN) != 0)
        status = HOOKD_E_SIGNATURE_MISMATCH;
    OPENSSL_cleanse(mac, sizeof mac);
    return status;
}

hookd_status hookd_verify_hmac(const void *key, size_t key_len, const char *signature,
                               const char *prefix, hookd_encoding encoding, const char *timestamp,
                               const void *body, size_t body_len, long long tolerance,
                               long long now)
{
    unsigned char expected[HOOKD__MAC_LEN];
    struct span value, ts_digits;
    size_t prefix_len = prefix ? strlen(prefix) : 0;
    long long ts_value = 0;
    hookd_status status;

    if (key == NULL || signature == NULL || !arguments_are_valid(body, body_len, tolerance, now))
        return HOOKD_E_INVALID_ARGUMENT;
    if (key_len == 0)
        return HOOKD_E_BAD_SECRET;
    if (!header_value(signature, &value) || value.len < prefix_len ||
        (prefix_len && memcmp(value.text, prefix, prefix_len) != 0))
        return HOOKD_E_MALFORMED_HEADER;
    value.text += prefix_len;
    value.len -= prefix_len;
    if (!decode_mac(value, encoding, expected))
        return HOOKD_E_MALFORMED_HEADER;
    if (timestamp) {
        status = parse_timestamp(timestamp, &ts_value, &ts_digits);
        if (status == HOOKD_OK)
            status = check_tolerance(ts_value, tolerance, now);
        if (status != HOOKD_OK)
            return status;
    }
    status = check_mac(key, key_len, timestamp ? &ts_digits : NULL, body, body_len, expected);
    OPENSSL_cleanse(expected, sizeof expected);
    return status;
}

hookd_status hookd_verify_stripe(const char *secret, const char *header, const void *body,
                                 size_t body_len, long long tolerance, long long now)
{
    struct span list, entry, t = {NULL, 0};
    char t_text[HOOKD__TIMESTAMP_DIGITS_MAX + 1];
    unsigned char expected[HOOKD__MAC_LEN], mac[HOOKD__MAC_LEN];
    struct span ts_digits;
    long long ts_value = 0;
    bool matched = false, any = false;
    hookd_status status;

    if (secret == NULL || header == NULL || !arguments_are_valid(body, body_len, tolerance, now))
        return HOOKD_E_INVALID_ARGUMENT;
    if (secret[0] == '\0')
        return HOOKD_E_BAD_SECRET;
    if (!header_value(header, &list))
        return HOOKD_E_MALFORMED_HEADER;
    for (struct span rest = list; next_entry(&rest, ',', &entry);)
        if (starts_with(entry, "t="))
            t = (struct span){entry.text + 2, entry.len - 2};
    if (t.text == NULL || t.len == 0 || t.len > HOOKD__TIMESTAMP_DIGITS_MAX)
        return HOOKD_E_MALFORMED_HEADER;
    memcpy(t_text, t.text, t.len);
    t_text[t.len] = '\0';
    status = parse_timestamp(t_text, &ts_value, &ts_digits);
    if (status == HOOKD_OK)
        status = check_tolerance(ts_value, tolerance, now);
    if (status != HOOKD_OK)
        return status;
    /* Stripe signs the t value as sent */
    const struct hookd__part parts[] = {{t.text, t.len}, {".", 1}, {body, body_len}};
    status = hookd__hmac_sha256(secret, strlen(secret), parts, 3, mac);
    if (status != HOOKD_OK)
        return status;
    for (struct span rest = list; next_entry(&rest, ',', &entry);) {
        if (!starts_with(entry, "v1="))
            continue;
        struct span hex = {entry.text + 3, entry.len - 3};
        if (decode_mac(hex, HOOKD_ENCODING_HEX, expected)) {
            any = true;
            matched |= CRYPTO_memcmp(expected, mac, HOOKD__MAC_LEN) == 0;
        }
    }
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(expected, sizeof expected);
    if (!any)
        return HOOKD_E_MALFORMED_HEADER;
    return matched ? HOOKD_OK : HOOKD_E_SIGNATURE_MISMATCH;
}
