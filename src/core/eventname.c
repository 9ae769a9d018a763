/* Event names, patterns and filter matching. */
#include "core/eventname.h"

#include <string.h>

static bool name_span_is_valid(const char *name, size_t len)
{
    bool segment_empty = true;
    if (len == 0 || len > EVENT_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        if (c == '.') {
            if (segment_empty)
                return false;
            segment_empty = true;
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_') {
            segment_empty = false;
        } else {
            return false;
        }
    }
    return !segment_empty;
}

bool event_name_is_valid(const char *name)
{
    return name != NULL && name_span_is_valid(name, strlen(name));
}

bool event_pattern_is_valid(const char *pattern)
{
    size_t len;
    if (pattern == NULL)
        return false;
    len = strlen(pattern);
    if (len > 2 && strcmp(pattern + len - 2, ".*") == 0)
        return name_span_is_valid(pattern, len - 2);
    return name_span_is_valid(pattern, len);
}

bool event_pattern_prefix(const char *pattern, char *out, size_t out_size)
{
    size_t len = strlen(pattern);
    if (len < 3 || strcmp(pattern + len - 2, ".*") != 0 || len - 1 > out_size)
        return false;
    memcpy(out, pattern, len - 2);
    out[len - 2] = '\0';
    return true;
}

/* Does the pattern pattern[0..len) match type? */
static bool span_matches(const char *pattern, size_t len, const char *type)
{
    if (len > 2 && pattern[len - 2] == '.' && pattern[len - 1] == '*')
        return strncmp(type, pattern, len - 1) == 0 && type[len - 1] != '\0';
    return strlen(type) == len && strncmp(type, pattern, len) == 0;
}

bool event_pattern_matches(const char *pattern, const char *type)
{
    return span_matches(pattern, strlen(pattern), type);
}

bool event_filter_matches(const char *filter_json, const char *type)
{
    const char *p = filter_json;
    bool any = false;
    for (;;) {
        const char *open = strchr(p, '"'), *close;
        if (open == NULL)
            return !any; /* "[]" subscribes to everything */
        close = strchr(open + 1, '"');
        if (close == NULL)
            return false;
        any = true;
        if (span_matches(open + 1, (size_t)(close - open - 1), type))
            return true;
        p = close + 1;
    }
}
