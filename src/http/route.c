/* Segment-by-segment matching of request paths against route patterns. */
#include "http/route.h"

#include <string.h>

bool route_match(const char *pattern, const char *path, struct route_params *params)
{
    params->count = 0;
    while (*pattern && *path) {
        if (*pattern != '/' || *path != '/')
            return false;
        pattern++;
        path++;
        size_t plen = strcspn(pattern, "/"), len = strcspn(path, "/");
        if (plen > 1 && pattern[0] == '{' && pattern[plen - 1] == '}') {
            if (len == 0 || len >= ROUTE_PARAM_BYTES || params->count == ROUTE_MAX_PARAMS)
                return false;
            memcpy(params->value[params->count], path, len);
            params->value[params->count][len] = '\0';
            params->count++;
        } else if (plen != len || strncmp(pattern, path, len) != 0) {
            return false;
        }
        pattern += plen;
        path += len;
    }
    return *pattern == '\0' && *path == '\0';
}
