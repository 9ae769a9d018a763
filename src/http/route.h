/* Path patterns of the routing table: literal segments and {param} segments. Pure. */
#ifndef HOOKD_HTTP_ROUTE_H
#define HOOKD_HTTP_ROUTE_H

#include <stdbool.h>

#define ROUTE_MAX_PARAMS 3
#define ROUTE_PARAM_BYTES 256

struct route_params {
    int count;
    char value[ROUTE_MAX_PARAMS][ROUTE_PARAM_BYTES];
};

/* True if path matches pattern ("/v1/orgs/{id}/api-keys"); each {..} segment matches one
 * non-empty segment, copied into params in order. A trailing slash does not match. */
bool route_match(const char *pattern, const char *path, struct route_params *params);

#endif
