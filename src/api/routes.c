/* The routing table: every route, the scope it needs and how its request is handled. */
#include "api/api.h"

#define ANY ROUTE_ANY_KEY

const struct api_route api_routes[] = {
    {"GET", "/healthz", ops_healthz, 0, ROUTE_PUBLIC},
    {"GET", "/readyz", ops_readyz, 0, ROUTE_PUBLIC},

    {"POST", "/v1/orgs", orgs_create, SCOPE_ADMIN, ROUTE_BODY | ROUTE_CREATES},
    {"GET", "/v1/orgs", orgs_list, SCOPE_ADMIN, 0},
    {"GET", "/v1/orgs/{id}", orgs_get, SCOPE_ADMIN, 0},
    {"DELETE", "/v1/orgs/{id}", orgs_delete, SCOPE_ADMIN, 0},
    {"POST", "/v1/orgs/{id}/api-keys", keys_create, SCOPE_ADMIN, ROUTE_BODY | ROUTE_CREATES},
    {"GET", "/v1/orgs/{id}/api-keys", keys_list, SCOPE_ADMIN, 0},
    {"DELETE", "/v1/api-keys/{id}", keys_revoke, SCOPE_ADMIN, 0},

    {"GET", "/v1/org", org_self_get, 0, ANY},
    {"PATCH", "/v1/org", org_self_patch, SCOPE_WEBHOOKS, ROUTE_BODY},
    {"POST", "/v1/org/rotate-secret", org_self_rotate, SCOPE_WEBHOOKS, ROUTE_BODY},
    {NULL, NULL, NULL, 0, 0},
};
