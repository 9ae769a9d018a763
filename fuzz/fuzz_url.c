/* Fuzzes URL safety (§4.4) without DNS: url_check_syntax under the four policies, url_host_port,
 * and address_is_allowed on the input's first bytes as IPv4 and IPv6 addresses, including the
 * forms that carry an IPv4 address inside an IPv6 one. (url_check is left out: it resolves.) */
#include "fuzz.h"

#include "core/jsonv.h"
#include "engine/urlcheck.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <strings.h>

/* url_host_port takes what url_check_syntax takes with http allowed; the host goes into a
 * buffer of exactly host_size bytes, so that writing past it is caught. */
static void check_host_port(const char *url, bool passes, size_t host_size)
{
    char *host = malloc(host_size > 0 ? host_size : 1), full[512];
    int port = -1;

    if (host == NULL)
        abort();
    FUZZ_CHECK(url_host_port(url, full, sizeof full, &port) == passes);
    if (passes) {
        FUZZ_CHECK(full[0] != '\0' && strlen(full) < sizeof full);
        FUZZ_CHECK(port >= 0 && port <= 65535);
    }
    if (host_size > 0 && url_host_port(url, host, host_size, &port))
        FUZZ_CHECK(strlen(host) < host_size && strcmp(host, full) == 0);
    free(host);
}

static void check_syntax(const uint8_t *data, size_t size)
{
    char *url = fuzz_strndup(data, size);
    bool passes[4];

    for (int i = 0; i < 4; i++) {
        const struct url_policy policy = {.allow_http = i & 1, .allow_private = (i & 2) != 0};
        struct err e = {0};
        passes[i] = url_check_syntax(url, &policy, "url", &e) == 0;
        if (!passes[i])
            FUZZ_CHECK(e.status == 400 && (strcmp(e.code, "invalid_url") == 0 ||
                                           strcmp(e.code, "url_not_allowed") == 0));
    }
    /* allow_http only widens; allow_private does not touch syntax */
    FUZZ_CHECK(!passes[0] || passes[1]);
    FUZZ_CHECK(passes[0] == passes[2] && passes[1] == passes[3]);
    if (passes[1]) {
        FUZZ_CHECK(strlen(url) <= LIMIT_URL_BYTES);
        FUZZ_CHECK(strchr(url, '#') == NULL);
        FUZZ_CHECK(strncasecmp(url, "http", 4) == 0);
    }
    check_host_port(url, passes[1], size > 0 ? data[size - 1] : 0);
    free(url);
}

static bool v6_allowed(const uint8_t prefix[12], const uint8_t v4[4])
{
    struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
    memcpy(sa.sin6_addr.s6_addr, prefix, 12);
    memcpy(sa.sin6_addr.s6_addr + 12, v4, 4);
    return address_is_allowed((const struct sockaddr *)&sa, false);
}

static void check_addresses(const uint8_t *data, size_t size)
{
    static const uint8_t compatible[12] = {0};
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};

    if (size >= 4) {
        struct sockaddr_in v4 = {.sin_family = AF_INET};
        struct sockaddr_in6 six_to_four = {.sin6_family = AF_INET6};
        bool allowed;

        memcpy(&v4.sin_addr.s_addr, data, 4);
        allowed = address_is_allowed((const struct sockaddr *)&v4, false);
        FUZZ_CHECK(address_is_allowed((const struct sockaddr *)&v4, true));
        /* an IPv4 address inside IPv6 is judged as itself */
        FUZZ_CHECK(v6_allowed(mapped, data) == allowed);
        FUZZ_CHECK(v6_allowed(nat64, data) == allowed);
        FUZZ_CHECK(v6_allowed(compatible, data) == allowed);
        six_to_four.sin6_addr.s6_addr[0] = 0x20;
        six_to_four.sin6_addr.s6_addr[1] = 0x02;
        memcpy(six_to_four.sin6_addr.s6_addr + 2, data, 4);
        if (size >= 16)
            memcpy(six_to_four.sin6_addr.s6_addr + 6, data + 6, 10);
        FUZZ_CHECK(address_is_allowed((const struct sockaddr *)&six_to_four, false) == allowed);
    }
    if (size >= 16) {
        struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
        memcpy(v6.sin6_addr.s6_addr, data, 16);
        (void)address_is_allowed((const struct sockaddr *)&v6, false);
        FUZZ_CHECK(address_is_allowed((const struct sockaddr *)&v6, true));
    }
    if (size >= 1 && data[0] != AF_INET && data[0] != AF_INET6) {
        struct sockaddr other = {.sa_family = data[0]};
        FUZZ_CHECK(!address_is_allowed(&other, false));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_syntax(data, size);
    check_addresses(data, size);
    return 0;
}
