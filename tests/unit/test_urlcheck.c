/* URL safety (§4.4): one row per blocked range and textual trick, and the ones that pass. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/urlcheck.h"

#include <string.h>

struct row {
    const char *url;
    const char *expect; /* "" passes, else the error code */
};

static const struct url_policy strict = {false, false};

static void run_rows(const struct row *rows, size_t n, const struct url_policy *policy)
{
    for (size_t i = 0; i < n; i++) {
        struct err e = {0};
        int rc = url_check(rows[i].url, policy, "url", &e);
        if (rows[i].expect[0] == '\0') {
            if (rc != 0)
                fail_msg("%s: expected to pass, got %s (%s)", rows[i].url, e.code, e.message);
        } else {
            if (rc == 0)
                fail_msg("%s: expected %s, passed", rows[i].url, rows[i].expect);
            if (strcmp(e.code, rows[i].expect) != 0)
                fail_msg("%s: expected %s, got %s", rows[i].url, rows[i].expect, e.code);
            assert_string_equal(e.field, "url");
        }
    }
}

static void blocked_ranges_are_refused(void **state)
{
    static const struct row rows[] = {
        {"https://127.0.0.1/", "url_not_allowed"},
        {"https://127.8.9.10/", "url_not_allowed"},
        {"https://10.1.2.3/", "url_not_allowed"},
        {"https://172.16.0.1/", "url_not_allowed"},
        {"https://172.31.255.255/", "url_not_allowed"},
        {"https://192.168.1.1/", "url_not_allowed"},
        {"https://169.254.169.254/", "url_not_allowed"},
        {"https://100.64.0.1/", "url_not_allowed"},
        {"https://100.127.255.254/", "url_not_allowed"},
        {"https://0.0.0.0/", "url_not_allowed"},
        {"https://0.1.2.3/", "url_not_allowed"},
        {"https://224.0.0.1/", "url_not_allowed"},
        {"https://239.255.255.250/", "url_not_allowed"},
        {"https://240.0.0.1/", "url_not_allowed"},
        {"https://255.255.255.255/", "url_not_allowed"},
        {"https://192.0.2.1/", "url_not_allowed"},
        {"https://198.18.0.1/", "url_not_allowed"},
        {"https://[::1]/", "url_not_allowed"},
        {"https://[::]/", "url_not_allowed"},
        {"https://[fc00::1]/", "url_not_allowed"},
        {"https://[fd12:3456::1]/", "url_not_allowed"},
        {"https://[fe80::1]/", "url_not_allowed"},
        {"https://[ff02::1]/", "url_not_allowed"},
        {"https://[2001:db8::1]/", "url_not_allowed"},
        {"https://localhost/", "url_not_allowed"},
    };
    (void)state;
    run_rows(rows, sizeof rows / sizeof rows[0], &strict);
}

static void textual_tricks_are_refused(void **state)
{
    static const struct row rows[] = {
        {"https://2130706433/", "url_not_allowed"},           /* decimal 127.0.0.1 */
        {"https://0x7f000001/", "url_not_allowed"},           /* hex */
        {"https://0177.0.0.1/", "url_not_allowed"},           /* octal */
        {"https://127.1/", "url_not_allowed"},                /* short form */
        {"https://0x7f.0.0.1/", "url_not_allowed"},           /* mixed */
        {"https://[::ffff:127.0.0.1]/", "url_not_allowed"},   /* IPv4-mapped */
        {"https://[::ffff:7f00:1]/", "url_not_allowed"},      /* mapped, hex */
        {"https://[::127.0.0.1]/", "url_not_allowed"},        /* IPv4-compatible */
        {"https://[64:ff9b::a9fe:a9fe]/", "url_not_allowed"}, /* NAT64 of 169.254.169.254 */
        {"https://[2002:7f00:1::1]/", "url_not_allowed"},     /* 6to4 of 127.0.0.1 */
        {"https://127.0.0.1./", "url_not_allowed"},           /* trailing dot */
        {"https://localhost./", "url_not_allowed"},
        {"https://user:pass@example.com/", "invalid_url"}, /* credentials */
        {"https://example.com@127.0.0.1/", "invalid_url"},
        {"https://example.com/#frag", "invalid_url"},
        {"ftp://example.com/", "invalid_url"},
        {"file:///etc/passwd", "invalid_url"},
        {"gopher://127.0.0.1/", "invalid_url"},
        {"//example.com/x", "invalid_url"},
        {"example.com", "invalid_url"},
        {"https://", "invalid_url"},
        {"https://exa mple.com/", "invalid_url"},
        {"https://example.com/\r\nX: y", "invalid_url"},
        {"http://93.184.215.14/", "url_not_allowed"}, /* http without --allow-http */
    };
    (void)state;
    run_rows(rows, sizeof rows / sizeof rows[0], &strict);
}

static void public_addresses_pass(void **state)
{
    static const struct row rows[] = {
        {"https://93.184.215.14/hook", ""},
        {"https://8.8.8.8:8443/a?b=c", ""},
        {"https://[2606:4700:4700::1111]/", ""},
        {"https://100.128.0.1/", ""}, /* just outside CGNAT */
        {"https://172.32.0.1/", ""},  /* just outside 172.16/12 */
    };
    (void)state;
    run_rows(rows, sizeof rows / sizeof rows[0], &strict);
}

static void relaxations_allow_what_they_say(void **state)
{
    static const struct row with_http[] = {{"http://93.184.215.14/", ""},
                                           {"http://127.0.0.1/", "url_not_allowed"}};
    static const struct row with_both[] = {{"http://127.0.0.1:8080/hook", ""},
                                           {"https://[::1]/", ""},
                                           {"http://localhost/x", ""},
                                           {"ftp://127.0.0.1/", "invalid_url"}};
    const struct url_policy http_only = {true, false}, both = {true, true};
    (void)state;
    run_rows(with_http, 2, &http_only);
    run_rows(with_both, 4, &both);
}

static void over_long_urls_are_refused(void **state)
{
    char url[2100] = "https://example.com/";
    struct err e;
    (void)state;
    memset(url + strlen(url), 'a', 2048 - strlen(url));
    url[2048] = '\0';
    assert_int_equal(url_check_syntax(url, &strict, "url", &e), 0);
    url[2048] = 'a';
    url[2049] = '\0';
    assert_int_not_equal(url_check_syntax(url, &strict, "url", &e), 0);
    assert_string_equal(e.code, "invalid_url");
}

/* The message names the rule that was broken (issue 18.11). */
static void a_refusal_says_the_rule(void **state)
{
    const struct {
        const char *url, *says;
    } rows[] = {
        {"https://example.com:99999/", "bad port: it must be a number from 1 to 65535"},
        {"https://example.com:12ab/", "bad port"},
        {"https://example.com:0/", "bad port"},
        {"ftp://example.com/", "must be an http(s) URL"},
        {"https://[::1/", "malformed IPv6"},
        {"https://", "no usable host"},
        {"example.com", "not an absolute http(s) URL"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        struct err e = {0};
        assert_int_not_equal(url_check_syntax(rows[i].url, &strict, "url", &e), 0);
        if (strstr(e.message, rows[i].says) == NULL)
            fail_msg("%s: expected \"%s\" in \"%s\"", rows[i].url, rows[i].says, e.message);
        assert_string_equal(e.code, "invalid_url");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(blocked_ranges_are_refused),
        cmocka_unit_test(textual_tricks_are_refused),
        cmocka_unit_test(public_addresses_pass),
        cmocka_unit_test(relaxations_allow_what_they_say),
        cmocka_unit_test(over_long_urls_are_refused),
        cmocka_unit_test(a_refusal_says_the_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
