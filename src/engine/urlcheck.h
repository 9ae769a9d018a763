/* URL safety (§4.4): endpoint URLs are absolute http(s) URLs whose host resolves only to public
 * unicast addresses. Checked at registration and again at every connect (the address actually
 * used), so DNS rebinding cannot pass. */
#ifndef HOOKD_ENGINE_URLCHECK_H
#define HOOKD_ENGINE_URLCHECK_H

#include "core/err.h"

#include <stdbool.h>
#include <sys/socket.h>

struct url_policy {
    bool allow_http;    /* http:// besides https:// */
    bool allow_private; /* loopback, private and other non-public addresses */
};

/* Syntax only: absolute http(s), at most 2,048 bytes, no fragment, no credentials, no control
 * characters. 400 invalid_url (or url_not_allowed for http:// without allow_http) naming
 * field. */
int url_check_syntax(const char *url, const struct url_policy *policy, const char *field,
                     struct err *e);

/* Syntax, then resolves the host and checks every address: 400 url_not_allowed if one is not
 * allowed, invalid_url if the host does not resolve. Blocks on DNS. */
int url_check(const char *url, const struct url_policy *policy, const char *field, struct err *e);

/* Test-only resolver override (the DNS rebinding test): when the environment variable
 * HOOKD_TEST_HOSTS names a file of "ADDRESS NAME" lines, a name listed there resolves to that
 * address, read afresh at every use. Writes the address into out and returns true if listed. */
bool test_hosts_lookup(const char *name, char *out, size_t out_size);

/* The host (brackets removed) and port of an http(s) URL; false if it does not parse. */
bool url_host_port(const char *url, char *host, size_t host_size, int *port);

/* Is this address public unicast (or is any address allowed)? IPv4-mapped, -compatible,
 * NAT64 and 6to4 IPv6 addresses are judged by the IPv4 address inside. */
bool address_is_allowed(const struct sockaddr *sa, bool allow_private);

#endif
