/* libhookd: the senders' own schemes that inbound sources verify (GitHub, Shopify, Stripe,
 * custom HMAC). Expected values come from GitHub's documentation and `openssl dgst -hmac`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hookd/hookd.h>

#include <string.h>

static const char github_secret[] = "It's a Secret to Everybody";
static const char github_body[] = "Hello, World!";
static const char github_sig[] =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

static hookd_status github(const char *signature, const char *body)
{
    return hookd_verify_hmac(github_secret, strlen(github_secret), signature,
                             "sha256=", HOOKD_ENCODING_HEX, NULL, body, strlen(body), 0, 0);
}

static void github_documented_example_verifies(void **state)
{
    (void)state;
    assert_int_equal(github(github_sig, github_body), HOOKD_OK);
    assert_int_equal(github(github_sig, "Hello, World?"), HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(
        github("sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
               github_body),
        HOOKD_E_SIGNATURE_MISMATCH);
    /* uppercase hex is the same MAC */
    assert_int_equal(
        github("sha256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17",
               github_body),
        HOOKD_OK);
}

static void malformed_hmac_headers_are_errors(void **state)
{
    const char *bad[] = {"", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
                         "sha1=757107ea", "sha256=",
                         "sha256=zz07ea0eb2509fc211221cce984b8a3757"
                         "0b6d7586c22c46f4379c8b043e17"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(github(bad[i], github_body), HOOKD_E_MALFORMED_HEADER);
    assert_int_equal(
        hookd_verify_hmac("", 0, github_sig, "sha256=", HOOKD_ENCODING_HEX, NULL, "x", 1, 0, 0),
        HOOKD_E_BAD_SECRET);
    assert_int_equal(
        hookd_verify_hmac(NULL, 3, github_sig, "sha256=", HOOKD_ENCODING_HEX, NULL, "x", 1, 0, 0),
        HOOKD_E_INVALID_ARGUMENT);
}

static void shopify_base64_verifies(void **state)
{
    const char body[] = "{\"id\":1}";
    (void)state;
    assert_int_equal(hookd_verify_hmac("shpss_secret", 12,
                                       "xocA3LkeJ/RvNrkxep1EUtFHuj7rIoIqZYaLU26LyPQ=", NULL,
                                       HOOKD_ENCODING_BASE64, NULL, body, strlen(body), 0, 0),
                     HOOKD_OK);
    assert_int_equal(hookd_verify_hmac("shpss_secret", 12,
                                       "xocA3LkeJ/RvNrkxep1EUtFHuj7rIoIqZYaLU26LyPQ=", NULL,
                                       HOOKD_ENCODING_BASE64, NULL, "{\"id\":2}", 8, 0, 0),
                     HOOKD_E_SIGNATURE_MISMATCH);
}

static void custom_hmac_with_timestamp_checks_tolerance(void **state)
{
    /* the hookd/hex shape through the generic function: "{ts}.{body}" keyed by the string */
    const char body[] = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
    const char sig[] = "3951c1891e7d7f3735a4bdf78a8a9ae399991085b146a6d01cf2cb08cb948e71";
    (void)state;
    assert_int_equal(hookd_verify_hmac("whsec_stripe_test", 17, sig, "", HOOKD_ENCODING_HEX,
                                       "1700000000", body, strlen(body), 300, 1700000100),
                     HOOKD_OK);
    assert_int_equal(hookd_verify_hmac("whsec_stripe_test", 17, sig, "", HOOKD_ENCODING_HEX,
                                       "1700000000", body, strlen(body), 300, 1700000301),
                     HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(hookd_verify_hmac("whsec_stripe_test", 17, sig, "", HOOKD_ENCODING_HEX, "17x",
                                       body, strlen(body), 300, 1700000100),
                     HOOKD_E_MALFORMED_TIMESTAMP);
}

static void stripe_header_verifies(void **state)
{
    const char body[] = "{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}";
    const char good[] =
        "t=1700000000,v1=3951c1891e7d7f3735a4bdf78a8a9ae399991085b146a6d01cf2cb08cb948e71";
    const char rotated[] =
        "t=1700000000,v1=0000000000000000000000000000000000000000000000000000000000000000,"
        "v1=3951c1891e7d7f3735a4bdf78a8a9ae399991085b146a6d01cf2cb08cb948e71,v0=abc";
    (void)state;
    assert_int_equal(
        hookd_verify_stripe("whsec_stripe_test", good, body, strlen(body), 300, 1700000010),
        HOOKD_OK);
    assert_int_equal(
        hookd_verify_stripe("whsec_stripe_test", rotated, body, strlen(body), 300, 1700000010),
        HOOKD_OK);
    assert_int_equal(hookd_verify_stripe("whsec_other", good, body, strlen(body), 300, 1700000010),
                     HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(
        hookd_verify_stripe("whsec_stripe_test", good, body, strlen(body), 300, 1700000400),
        HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(hookd_verify_stripe("whsec_stripe_test", "v1=3951c189", body, strlen(body),
                                         300, 1700000010),
                     HOOKD_E_MALFORMED_HEADER);
    assert_int_equal(hookd_verify_stripe("whsec_stripe_test", "t=1700000000", body, strlen(body),
                                         300, 1700000010),
                     HOOKD_E_MALFORMED_HEADER);
    assert_int_equal(
        hookd_verify_stripe("whsec_stripe_test", "t=,v1=ab", body, strlen(body), 300, 1700000010),
        HOOKD_E_MALFORMED_HEADER);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(github_documented_example_verifies),
        cmocka_unit_test(malformed_hmac_headers_are_errors),
        cmocka_unit_test(shopify_base64_verifies),
        cmocka_unit_test(custom_hmac_with_timestamp_checks_tolerance),
        cmocka_unit_test(stripe_header_verifies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
