/* Validation of JSON request bodies against a small field table (§2.1): unknown fields, wrong
 * types, over-long strings and over-deep nesting become a 400 that names the field. */
#ifndef HOOKD_CORE_JSONV_H
#define HOOKD_CORE_JSONV_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define JSONV_MAX_DEPTH 64
#define LIMIT_NAME_CHARS 100
#define LIMIT_DESCRIPTION_CHARS 500
#define LIMIT_URL_BYTES 2048

enum jsonv_type {
    JSONV_STRING,
    JSONV_URL, /* a string whose failures are invalid_url (§4.4) */
    JSONV_BOOL,
    JSONV_INTEGER,
    JSONV_NUMBER,
    JSONV_OBJECT,
    JSONV_STRING_ARRAY,
    JSONV_ANY,
    JSONV_READ_ONLY, /* shown by hookd, never written: refused with read_only_field */
};

struct jsonv_field {
    const char *name;
    enum jsonv_type type;
    bool required;
    bool nullable;    /* JSON null accepted (means "unset") */
    size_t max_chars; /* strings (and each string of an array): code points; 0 = no limit */
    size_t max_items; /* arrays: 0 = no limit */
};

/* The read-only fields every resource shows (a GET's body sent back is refused by name). */
#define JSONV_SET_BY_HOOKD                                                                         \
    {"id", JSONV_READ_ONLY, false, false, 0, 0},                                                   \
        {"created_at", JSONV_READ_ONLY, false, false, 0, 0},                                       \
    {                                                                                              \
        "updated_at", JSONV_READ_ONLY, false, false, 0, 0                                          \
    }

/* Parses a request body. An empty body reads as {} when empty_is_object, else is an error.
 * Returns the object (caller owns it) or NULL with e filled (400 invalid_json). */
json_t *jsonv_parse_object(const char *body, size_t len, bool empty_is_object, struct err *e);

/* Checks obj against fields (ended by a {NULL} entry). Fields not in the table are rejected. */
int jsonv_check(const json_t *obj, const struct jsonv_field *fields, struct err *e);

/* The number of UTF-8 code points in s (which jansson has already validated). */
size_t utf8_chars(const char *s);

/* Makes s[0..len) valid UTF-8 without NULs, in place: each byte of an invalid or cut sequence
 * and each NUL becomes '?'. s[len] must be writable; it becomes the terminator. */
void utf8_scrub(char *s, size_t len);

/* Depth of nested arrays and objects (a scalar is 0). */
int jsonv_depth(const json_t *value);

#endif
