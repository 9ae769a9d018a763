/* Differential: the ingest path's member spans (core/jsonspan.c) against jansson. For every
 * object jansson accepts, each member's span must exist and parse (by jansson) to a value equal
 * to the member jansson read; a name the object lacks has no span. */
#include "fuzz.h"

#include "core/jsonspan.h"

#include <jansson.h>

/* The index of the quote that closes the string opened at s[i]. */
static size_t string_end(const char *s, size_t len, size_t i)
{
    for (i++; i < len && s[i] != '"'; i++)
        if (s[i] == '\\')
            i++;
    return i;
}

static void check_member(const char *doc, size_t len, const char *name, const json_t *expected)
{
    size_t start = 0, n = 0;
    FUZZ_CHECK(json_member_span(doc, len, name, &start, &n));
    FUZZ_CHECK(start + n <= len && n > 0);
    json_t *value = json_loadb(doc + start, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(value != NULL);
    FUZZ_CHECK(json_equal(value, expected));
    json_decref(value);
    /* compacted, it still reads the same, with no white space or NUL left between tokens */
    char *compact = malloc(n + 1);
    size_t m = json_compact_copy(doc + start, n, compact);
    FUZZ_CHECK(m <= n);
    value = json_loadb(compact, m, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    FUZZ_CHECK(value != NULL && json_equal(value, expected));
    json_decref(value);
    for (size_t i = 0; i < m; i++)
        if (compact[i] == '"')
            i = string_end(compact, m, i);
        else
            FUZZ_CHECK(!strchr(" \t\n\r", compact[i]) && compact[i] != '\0');
    free(compact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *doc = (const char *)data;
    json_t *obj = json_loadb(doc, size, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
    size_t start, n;
    int checked = 0;

    if (!json_is_object(obj)) {
        json_decref(obj);
        return 0;
    }
    for (void *it = json_object_iter(obj); it && checked < 32;
         it = json_object_iter_next(obj, it)) {
        const char *key = json_object_iter_key(it);
        if (strlen(key) != json_object_iter_key_len(it))
            continue; /* a key with a NUL in it cannot be named as a C string */
        check_member(doc, size, key, json_object_iter_value(it));
        checked++;
    }
    if (json_object_get(obj, "data") == NULL)
        FUZZ_CHECK(!json_member_span(doc, size, "data", &start, &n));
    json_decref(obj);
    return 0;
}
