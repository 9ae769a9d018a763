/* The routing table: every route, the scope it needs and how its request is handled. */
#include "api/api.h"

#define ANY ROUTE_ANY_KEY
#define PORTAL ROUTE_PORTAL

/* Query parameters a route takes: an admin key names the org of org-owned routes with org_id;
 * lists page with limit and cursor. */
#define ORG "org_id"
#define PAGE "limit cursor"
#define SPAN "since until"

const struct api_route api_routes[] = {
    {"GET", "/healthz", ops_healthz, 0, ROUTE_PUBLIC, NULL},
    {"GET", "/readyz", ops_readyz, 0, ROUTE_PUBLIC, NULL},
    {"GET", "/metrics", ops_metrics, 0, ROUTE_PUBLIC, NULL},
    {"GET", "/openapi.json", ops_openapi, 0, ROUTE_PUBLIC, NULL},
    {"GET", "/", web_dashboard, 0, ROUTE_PUBLIC, NULL},
    {"GET", "/portal", web_dashboard, 0, ROUTE_PUBLIC, NULL},
    {"GET", "/assets/{name}", web_asset, 0, ROUTE_PUBLIC, NULL},

    {"POST", "/v1/orgs", orgs_create, SCOPE_ADMIN, ROUTE_BODY | ROUTE_CREATES, NULL},
    {"GET", "/v1/orgs", orgs_list, SCOPE_ADMIN, 0, PAGE},
    {"GET", "/v1/orgs/{id}", orgs_get, SCOPE_ADMIN, 0, NULL},
    {"DELETE", "/v1/orgs/{id}", orgs_delete, SCOPE_ADMIN, 0, NULL},
    {"POST", "/v1/orgs/{id}/api-keys", keys_create, SCOPE_ADMIN, ROUTE_BODY | ROUTE_CREATES, NULL},
    {"GET", "/v1/orgs/{id}/api-keys", keys_list, SCOPE_ADMIN, 0, PAGE},
    {"DELETE", "/v1/api-keys/{id}", keys_revoke, SCOPE_ADMIN, 0, NULL},
    {"POST", "/v1/orgs/{id}/portal-sessions", portal_sessions_create, SCOPE_WEBHOOKS,
     ROUTE_BODY | ROUTE_CREATES, NULL},
    {"GET", "/v1/orgs/{id}/portal-sessions", portal_sessions_list, SCOPE_WEBHOOKS, 0, PAGE},
    {"DELETE", "/v1/portal-sessions/{id}", portal_sessions_revoke, SCOPE_WEBHOOKS, 0, ORG},
    {"POST", "/v1/portal/exchange", portal_exchange, 0, ROUTE_PUBLIC | ROUTE_BODY, NULL},
    {"GET", "/v1/portal/session", portal_session_get, 0, ANY | PORTAL, NULL},

    {"GET", "/v1/org", org_self_get, 0, ANY, ORG},
    {"PATCH", "/v1/org", org_self_patch, SCOPE_WEBHOOKS, ROUTE_BODY, ORG},
    {"POST", "/v1/org/rotate-secret", org_self_rotate, SCOPE_WEBHOOKS, ROUTE_BODY, ORG},

    {"POST", "/v1/event-types", event_types_create, SCOPE_ADMIN, ROUTE_BODY | ROUTE_CREATES, NULL},
    {"GET", "/v1/event-types", event_types_list, 0, ANY | PORTAL, PAGE},
    {"GET", "/v1/event-types/{name}", event_types_get, 0, ANY | PORTAL, NULL},
    {"PATCH", "/v1/event-types/{name}", event_types_update, SCOPE_ADMIN, ROUTE_BODY, NULL},
    {"DELETE", "/v1/event-types/{name}", event_types_delete, SCOPE_ADMIN, 0, NULL},

    {"POST", "/v1/endpoints", endpoints_create, SCOPE_WEBHOOKS, ROUTE_BODY | ROUTE_CREATES | PORTAL,
     ORG},
    {"GET", "/v1/endpoints", endpoints_list, SCOPE_WEBHOOKS, PORTAL, ORG " " PAGE " is_active"},
    {"GET", "/v1/endpoints/{id}", endpoints_get, SCOPE_WEBHOOKS, PORTAL, ORG},
    {"PATCH", "/v1/endpoints/{id}", endpoints_update, SCOPE_WEBHOOKS, ROUTE_BODY | PORTAL, ORG},
    {"DELETE", "/v1/endpoints/{id}", endpoints_delete, SCOPE_WEBHOOKS, PORTAL, ORG},
    {"POST", "/v1/endpoints/{id}/rotate-secret", endpoints_rotate, SCOPE_WEBHOOKS,
     ROUTE_BODY | PORTAL, ORG},
    {"POST", "/v1/endpoints/{id}/test", endpoints_test, SCOPE_WEBHOOKS,
     ROUTE_BODY | ROUTE_CREATES | PORTAL, ORG},
    {"POST", "/v1/endpoints/{id}/replay", endpoints_replay, SCOPE_WEBHOOKS,
     ROUTE_BODY | ROUTE_CREATES | PORTAL, ORG},
    {"GET", "/v1/endpoints/{id}/deliveries", endpoints_deliveries, SCOPE_WEBHOOKS, PORTAL,
     ORG " " PAGE " " SPAN " status event_id"},
    {"GET", "/v1/endpoints/{id}/stats", endpoints_stats, SCOPE_WEBHOOKS, PORTAL, ORG " window"},
    {"GET", "/v1/endpoints/{id}/poll", endpoints_poll, 0, ROUTE_POLL, "cursor limit"},

    {"POST", "/v1/events", events_create, SCOPE_EVENTS, ROUTE_BODY | ROUTE_CREATES, ORG},
    {"GET", "/v1/events", events_list, SCOPE_EVENTS, 0, ORG " " PAGE " " SPAN " type"},
    {"GET", "/v1/events/{id}", events_get, SCOPE_EVENTS, 0, ORG},

    {"GET", "/v1/deliveries", deliveries_list, SCOPE_WEBHOOKS, 0,
     ORG " " PAGE " " SPAN " status endpoint_id event_id"},
    {"GET", "/v1/deliveries/{id}", deliveries_get, SCOPE_WEBHOOKS, PORTAL, ORG},
    {"POST", "/v1/deliveries/{id}/retry", deliveries_retry, SCOPE_WEBHOOKS, ROUTE_BODY | PORTAL,
     ORG},

    {"POST", "/v1/sources", sources_create, SCOPE_SOURCES, ROUTE_BODY | ROUTE_CREATES, ORG},
    {"GET", "/v1/sources", sources_list, SCOPE_SOURCES, 0, ORG " " PAGE},
    {"GET", "/v1/sources/{id}", sources_get, SCOPE_SOURCES, 0, ORG},
    {"PATCH", "/v1/sources/{id}", sources_update, SCOPE_SOURCES, ROUTE_BODY, ORG},
    {"DELETE", "/v1/sources/{id}", sources_delete, SCOPE_SOURCES, 0, ORG},
    {"POST", "/v1/sources/{id}/rotate-secret", sources_rotate, SCOPE_SOURCES, ROUTE_BODY, ORG},
    {"GET", "/v1/sources/{id}/messages", sources_messages, SCOPE_SOURCES, 0,
     ORG " " PAGE " status"},
    {"GET", "/v1/inbound/{id}", inbound_get, SCOPE_SOURCES, 0, ORG},
    {"POST", "/in/{id}", inbound_receive, 0, ROUTE_PUBLIC | ROUTE_RAW, NULL},
    {NULL, NULL, NULL, 0, 0, NULL},
};
