/* Spans of members in a valid JSON object (see jsonspan.h). The document is valid, so the scan
 * only has to find where each value ends: strings with their escapes, nesting, and the
 * characters that end a number or a literal. */
#include "core/jsonspan.h"

#include <jansson.h>
#include <string.h>

static size_t skip_space(const char *s, size_t len, size_t i)
{
    /* jansson's reader passes over a NUL byte between tokens as it does white space */
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r' || s[i] == '\0'))
        i++;
    return i;
}

/* s[i] is the opening quote; returns the index just past the closing one. */
static size_t skip_string(const char *s, size_t len, size_t i)
{
    for (i++; i < len; i++) {
        if (s[i] == '\\')
            i++;
        else if (s[i] == '"')
            return i + 1;
    }
    return len;
}

/* Returns the index just past the value that starts at s[i]. */
static size_t skip_value(const char *s, size_t len, size_t i)
{
    int depth = 0;
    if (s[i] != '{' && s[i] != '[' && s[i] != '"') {
        while (i < len && s[i] != '\0' && !strchr(",}] \t\n\r", s[i]))
            i++;
        return i;
    }
    while (i < len) {
        char c = s[i];
        if (c == '"') {
            i = skip_string(s, len, i);
            if (depth == 0)
                return i;
            continue;
        }
        if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']')
            if (--depth == 0)
                return i + 1;
        i++;
    }
    return len;
}

/* Whether the key string at s[from..to) (quotes included) reads as name. A key with escapes
 * is decoded by jansson, which decides what the document means. */
static bool key_is(const char *s, size_t from, size_t to, const char *name)
{
    size_t n = to - from - 2;
    if (memchr(s + from, '\\', to - from) == NULL)
        return strlen(name) == n && memcmp(s + from + 1, name, n) == 0;
    json_t *key = json_loadb(s + from, to - from, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    bool same = json_is_string(key) && json_string_length(key) == strlen(name) &&
                memcmp(json_string_value(key), name, strlen(name)) == 0;
    json_decref(key);
    return same;
}

bool json_member_span(const char *doc, size_t len, const char *name, size_t *start,
                      size_t *value_len)
{
    size_t i = skip_space(doc, len, 0);
    if (i >= len || doc[i] != '{')
        return false;
    for (i = skip_space(doc, len, i + 1); i < len && doc[i] == '"';) {
        size_t key_end = skip_string(doc, len, i), value_start, value_end;
        bool match = key_is(doc, i, key_end, name);
        i = skip_space(doc, len, key_end);
        if (i >= len || doc[i] != ':')
            return false;
        value_start = skip_space(doc, len, i + 1);
        if (value_start >= len)
            return false;
        value_end = skip_value(doc, len, value_start);
        if (match) {
            *start = value_start;
            *value_len = value_end - value_start;
            return true;
        }
        i = skip_space(doc, len, value_end);
        if (i >= len || doc[i] != ',')
            return false;
        i = skip_space(doc, len, i + 1);
    }
    return false;
}

size_t json_compact_copy(const char *src, size_t len, char *out)
{
    size_t used = 0;
    for (size_t i = 0; i < len;) {
        if (src[i] == '"') {
            size_t end = skip_string(src, len, i);
            memcpy(out + used, src + i, end - i);
            used += end - i;
            i = end;
        } else if (skip_space(src, len, i) > i) {
            i = skip_space(src, len, i);
        } else {
            out[used++] = src[i++];
        }
    }
    return used;
}
