/* URL syntax through libcurl's URL API, and the address ranges of §4.4. */
#include "engine/urlcheck.h"

#include "core/jsonv.h"
#include "core/text.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct v4_range {
    uint32_t net;
    int bits;
};

/* Not public unicast: this network, private, CGNAT, loopback, link-local (the cloud metadata
 * address among them), IETF assignments, documentation, benchmarking, 6to4 relay, multicast,
 * reserved and broadcast. */
static const struct v4_range blocked_v4[] = {
    {0x00000000, 8},  {0x0A000000, 8},  {0x64400000, 10}, {0x7F000000, 8},  {0xA9FE0000, 16},
    {0xAC100000, 12}, {0xC0000000, 24}, {0xC0000200, 24}, {0xC0586300, 24}, {0xC0A80000, 16},
    {0xC6120000, 15}, {0xC6336400, 24}, {0xCB007100, 24}, {0xE0000000, 4},  {0xF0000000, 4},
};

static bool v4_is_public(uint32_t addr)
{
    for (size_t i = 0; i < sizeof blocked_v4 / sizeof blocked_v4[0]; i++) {
        uint32_t mask = blocked_v4[i].bits ? 0xFFFFFFFFu << (32 - blocked_v4[i].bits) : 0;
        if ((addr & mask) == blocked_v4[i].net)
            return false;
    }
    return true;
}

static uint32_t v4_at(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static bool v6_is_public(const uint8_t *b)
{
    static const uint8_t zeros[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

    /* ::/96 holds ::, ::1 and the deprecated IPv4-compatible form */
    if (memcmp(b, zeros, 12) == 0 || memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_at(b + 12) != 0 && v4_is_public(v4_at(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02) /* 6to4: 2002:V4ADDR::/48 */
        return v4_is_public(v4_at(b + 2));
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local (deprecated) */
        return false;
    if (b[0] == 0xff) /* multicast */
        return false;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* documentation */
        return false;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) /* 2001::/23 IETF, Teredo among them */
        return false;
    if (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, zeros, 6) == 0) /* 100::/64 discard */
        return false;
    return (b[0] & 0xe0) == 0x20; /* only 2000::/3 is global unicast */
}

bool address_is_allowed(const struct sockaddr *sa, bool allow_private)
{
    if (allow_private)
        return true;
    if (sa->sa_family == AF_INET)
        return v4_is_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_is_public(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return false;
}

/* Reads a part of a parsed URL; NULL if absent. curl_free() it. */
static char *url_part(CURLU *u, CURLUPart part)
{
    char *value = NULL;
    if (curl_url_get(u, part, &value, 0) != CURLUE_OK)
        return NULL;
    return value;
}

/* What libcurl's parser found wrong, as the rule the URL broke. */
static const char *parse_failure(CURLUcode rc)
{
    switch (rc) {
    case CURLUE_BAD_PORT_NUMBER:
        return "has a bad port: it must be a number from 1 to 65535";
    case CURLUE_UNSUPPORTED_SCHEME:
        return "must be an http(s) URL";
    case CURLUE_NO_HOST:
    case CURLUE_BAD_HOSTNAME:
        return "has no usable host";
    case CURLUE_BAD_IPV6:
        return "has a malformed IPv6 address";
    default:
        return "is not an absolute http(s) URL";
    }
}

/* Parses url and copies its host (brackets removed) into host. */
static int parse(const char *url, const struct url_policy *policy, const char *field, char *host,
                 size_t host_size, struct err *e)
{
    CURLU *u;
    char *scheme = NULL, *part = NULL;
    int rc = 0;
    size_t len = strlen(url);

    if (len == 0 || len > LIMIT_URL_BYTES)
        return err_set(e, 400, "invalid_url", field, "%s must be 1 to %d bytes", field,
                       LIMIT_URL_BYTES);
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '#' || *p == '\\')
            return err_set(e, 400, "invalid_url", field,
                           "%s must not hold spaces, control characters, '\\' or a fragment",
                           field);
    u = curl_url();
    if (u == NULL)
        return err_internal(e, "out of memory");
    CURLUcode parsed = curl_url_set(u, CURLUPART_URL, url, 0);
    if (parsed != CURLUE_OK) {
        rc = err_set(e, 400, "invalid_url", field, "%s %s", field, parse_failure(parsed));
        goto out;
    }
    scheme = url_part(u, CURLUPART_SCHEME);
    if (scheme == NULL || (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0)) {
        rc = err_set(e, 400, "invalid_url", field, "%s must be an http(s) URL", field);
        goto out;
    }
    if (strcmp(scheme, "http") == 0 && !policy->allow_http) {
        rc = err_set(e, 400, "url_not_allowed", field, "%s must use https", field);
        goto out;
    }
    if ((part = url_part(u, CURLUPART_USER)) != NULL ||
        (part = url_part(u, CURLUPART_PASSWORD)) != NULL) {
        rc = err_set(e, 400, "invalid_url", field, "%s must not carry credentials", field);
        goto out;
    }
    if ((part = url_part(u, CURLUPART_PORT)) != NULL && strtol(part, NULL, 10) == 0) {
        rc = err_set(e, 400, "invalid_url", field, "%s %s", field,
                     parse_failure(CURLUE_BAD_PORT_NUMBER)); /* libcurl takes port 0 */
        goto out;
    }
    curl_free(part);
    part = url_part(u, CURLUPART_HOST);
    if (part == NULL || part[0] == '\0' || strlen(part) >= host_size) {
        rc = err_set(e, 400, "invalid_url", field, "%s has no usable host", field);
        goto out;
    }
    if (part[0] == '[') { /* an IPv6 literal, maybe with a zone */
        size_t n = strcspn(part + 1, "]%");
        memcpy(host, part + 1, n);
        host[n] = '\0';
    } else {
        size_t n = strlen(part);
        if (n > 1 && part[n - 1] == '.')
            n--; /* the root's dot: "127.0.0.1." is 127.0.0.1 to a resolver */
        memcpy(host, part, n);
        host[n] = '\0';
    }
out:
    curl_free(part);
    curl_free(scheme);
    curl_url_cleanup(u);
    return rc;
}

bool test_hosts_lookup(const char *name, char *out, size_t out_size)
{
    const char *path = getenv("HOOKD_TEST_HOSTS");
    char line[512], address[256], listed[256];
    bool found = false;
    FILE *f;
    if (path == NULL || *path == '\0' || (f = fopen(path, "r")) == NULL)
        return false;
    while (!found && fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "%255s %255s", address, listed) == 2 && address[0] != '#' &&
            strcasecmp(listed, name) == 0)
            found = snprintf(out, out_size, "%s", address) < (int)out_size;
    fclose(f);
    return found;
}

bool url_host_port(const char *url, char *host, size_t host_size, int *port)
{
    const struct url_policy any = {true, true};
    CURLU *u;
    char *text = NULL, *scheme = NULL;
    if (parse(url, &any, "url", host, host_size, NULL) != 0)
        return false;
    u = curl_url();
    if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        curl_url_cleanup(u);
        return false;
    }
    text = url_part(u, CURLUPART_PORT);
    scheme = url_part(u, CURLUPART_SCHEME);
    /* libcurl has checked the port: digits, 0..65535 */
    *port = text ? (int)strtol(text, NULL, 10) : (scheme && strcmp(scheme, "http") == 0 ? 80 : 443);
    curl_free(text);
    curl_free(scheme);
    curl_url_cleanup(u);
    return true;
}

int url_check_syntax(const char *url, const struct url_policy *policy, const char *field,
                     struct err *e)
{
    char host[512];
    return parse(url, policy, field, host, sizeof host, e);
}

int url_check(const char *url, const struct url_policy *policy, const char *field, struct err *e)
{
    struct addrinfo hints = {0}, *list = NULL;
    char host[512];
    int rc = parse(url, policy, field, host, sizeof host, e);

    if (rc != 0)
        return rc;
    hints.ai_socktype = SOCK_STREAM;
    char pinned[256];
    if (test_hosts_lookup(host, pinned, sizeof pinned)) {
        hints.ai_flags = AI_NUMERICHOST;
        text_copy(host, sizeof host, pinned);
    }
    if (getaddrinfo(host, NULL, &hints, &list) != 0 || list == NULL)
        return err_set(e, 400, "invalid_url", field, "the host of %s does not resolve", field);
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (!address_is_allowed(ai->ai_addr, policy->allow_private)) {
            rc = err_set(e, 400, "url_not_allowed", field,
                         "%s resolves to an address that is not public", field);
            break;
        }
    }
    freeaddrinfo(list);
    return rc;
}
