/* libhookd (§3, §5): signing and verifying in both schemes, through the public API only.
 * Expected values come from the Standard Webhooks documentation and from `openssl dgst`. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hookd/hookd.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The published Standard Webhooks test vector. */
#define SW_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS 1614265330LL
#define SW_TS_TEXT "1614265330"
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* The same body and timestamp in the hex scheme, keyed with the secret string itself:
 * printf '%s' '1614265330.{"test": 2432232314}' | openssl dgst -sha256 -hmac "$SW_SECRET" */
#define HEX_SIG "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964"

/* A valid signature of other secrets, to stand beside the right one in rotation headers. */
#define OTHER_SIG "v1,X6hCpfBYAJO7XjfvzK3GxXptJGJ7lYU83UB1CAq1ntQ="
#define OTHER_HEX "sha256=1736616ca502dd0795dd33e742aba65214c255d6064bb6035e7b37d18983438e"

#define NO_TOLERANCE 0
#define NOW SW_TS

static hookd_status verify_sw(const char *secret, const char *id, const char *ts, const char *sigs,
                              const char *body)
{
    return hookd_verify_standard(secret, id, ts, sigs, body, strlen(body), HOOKD_TOLERANCE_DEFAULT,
                                 NOW);
}

static hookd_status verify_hex(const char *ts, const char *sigs, const char *body)
{
    return hookd_verify_hex(SW_SECRET, ts, sigs, body, strlen(body), HOOKD_TOLERANCE_DEFAULT, NOW);
}

/* --- standard scheme: the published vector ------------------------------------------------- */

static void standard_sign_reproduces_the_published_vector(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(
        hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig, sizeof sig),
        HOOKD_OK);
    assert_string_equal(sig, SW_SIG);
}

static void standard_verify_accepts_the_published_vector(void **state)
{
    (void)state;
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY), HOOKD_OK);
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY,
                                           strlen(SW_BODY), NO_TOLERANCE, 0),
                     HOOKD_OK);
}

static void standard_verify_refuses_any_one_character_change(void **state)
{
    (void)state;
    /* body */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, "{\"test\": 2432232315}"),
                     HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, "{\"test\": 2432232314} "),
                     HOOKD_E_SIGNATURE_MISMATCH);
    /* message id */
    assert_int_equal(
        verify_sw(SW_SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJel", SW_TS_TEXT, SW_SIG, SW_BODY),
        HOOKD_E_SIGNATURE_MISMATCH);
    /* timestamp (still within the tolerance) */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, "1614265331", SW_SIG, SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
    /* signature */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT,
                               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT,
                               "v1,h0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
    /* A change only in the unused low bits of the last character decodes to the same bytes;
     * it is refused as a non-canonical encoding, as the string-comparing libraries refuse it. */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT,
                               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=", SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
    /* Without its padding the same signature is still accepted. */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT,
                               "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE", SW_BODY),
                     HOOKD_OK);
    /* secret */
    assert_int_equal(
        verify_sw("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY),
        HOOKD_E_SIGNATURE_MISMATCH);
}

static void standard_signs_and_verifies_bodies_with_nul_bytes(void **state)
{
    static const char body[] = {'a', '\0', 'b'};
    char sig[HOOKD_SIGNATURE_MAX], truncated[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(
        hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, body, sizeof body, sig, sizeof sig), HOOKD_OK);
    assert_int_equal(
        hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, body, 1, truncated, sizeof truncated),
        HOOKD_OK);
    assert_string_not_equal(sig, truncated);
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, sig, body, sizeof body,
                                           NO_TOLERANCE, 0),
                     HOOKD_OK);
    assert_int_equal(
        hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, sig, body, 1, NO_TOLERANCE, 0),
        HOOKD_E_SIGNATURE_MISMATCH);
}

static void standard_accepts_an_empty_body(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, NULL, 0, sig, sizeof sig),
                     HOOKD_OK);
    assert_int_equal(
        hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, sig, NULL, 0, NO_TOLERANCE, 0),
        HOOKD_OK);
    assert_int_equal(
        hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, sig, "x", 1, NO_TOLERANCE, 0),
        HOOKD_E_SIGNATURE_MISMATCH);
}

/* --- secrets ------------------------------------------------------------------------------- */

static void standard_secret_prefix_and_padding_are_optional(void **state)
{
    /* bytes 0..31 need one '=', bytes 0..30 need two; the known answer is from
     * openssl dgst -mac HMAC -macopt hexkey:000102...1f over "msg_2Lh9.1700000000.{}". */
    static const char *const one_pad[] = {
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",
    };
    static const char *const two_pad[] = {
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg",
    };
    char sig[HOOKD_SIGNATURE_MAX], first[HOOKD_SIGNATURE_MAX];
    (void)state;
    for (size_t i = 0; i < sizeof one_pad / sizeof one_pad[0]; i++) {
        assert_int_equal(
            hookd_sign_standard(one_pad[i], "msg_2Lh9", 1700000000, "{}", 2, sig, sizeof sig),
            HOOKD_OK);
        assert_string_equal(sig, OTHER_SIG);
        assert_int_equal(hookd_verify_standard(one_pad[i], "msg_2Lh9", "1700000000", OTHER_SIG,
                                               "{}", 2, NO_TOLERANCE, 0),
                         HOOKD_OK);
    }
    for (size_t i = 0; i < sizeof two_pad / sizeof two_pad[0]; i++) {
        assert_int_equal(
            hookd_sign_standard(two_pad[i], "msg_2Lh9", 1700000000, "{}", 2, sig, sizeof sig),
            HOOKD_OK);
        if (i == 0)
            memcpy(first, sig, sizeof sig);
        assert_string_equal(sig, first);
        assert_string_not_equal(sig, OTHER_SIG);
    }
    /* The vector's own secret needs no padding, with or without its prefix. */
    assert_int_equal(
        verify_sw("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY),
        HOOKD_OK);
}

static void bad_secrets_are_refused(void **state)
{
    static const char *const bad[] = {
        "",
        "whsec_",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw=",             /* padding where none is due */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8==", /* too much padding */
        "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=",   /* too little padding */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA",             /* 33 characters: one dangles */
        "whsec_MfKQ9r8GKYqrTwjUPD8I LPZIo2LaLaSw",             /* a space */
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n",            /* a newline */
        "whsec_MfKQ9r8GKYqrTwjU-D8ILPZIo2LaLa_w",              /* URL-safe alphabet */
        "whsec_=MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    };
    char sig[HOOKD_SIGNATURE_MAX];
    char long_secret[HOOKD_SECRET_MAX + 2];
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(hookd_sign_standard(bad[i], SW_ID, SW_TS, "{}", 2, sig, sizeof sig),
                         HOOKD_E_BAD_SECRET);
        assert_string_equal(sig, "");
        assert_int_equal(verify_sw(bad[i], SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY), HOOKD_E_BAD_SECRET);
    }
    /* HOOKD_SECRET_MAX characters are accepted, one more is not. */
    memset(long_secret, 'A', HOOKD_SECRET_MAX);
    long_secret[HOOKD_SECRET_MAX] = '\0';
    assert_int_equal(hookd_sign_standard(long_secret, SW_ID, SW_TS, "{}", 2, sig, sizeof sig),
                     HOOKD_OK);
    memset(long_secret, 'A', HOOKD_SECRET_MAX + 1);
    long_secret[HOOKD_SECRET_MAX + 1] = '\0';
    assert_int_equal(hookd_sign_standard(long_secret, SW_ID, SW_TS, "{}", 2, sig, sizeof sig),
                     HOOKD_E_BAD_SECRET);
    /* The hex scheme takes any non-empty string. */
    assert_int_equal(hookd_sign_hex("", SW_TS, "{}", 2, sig, sizeof sig), HOOKD_E_BAD_SECRET);
    assert_int_equal(hookd_verify_hex("", SW_TS_TEXT, HEX_SIG, SW_BODY, strlen(SW_BODY), 0, 0),
                     HOOKD_E_BAD_SECRET);
}

static void generated_secrets_sign_and_verify(void **state)
{
    char secret[HOOKD_SECRET_LEN + 1], sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(hookd_secret_generate(secret, sizeof secret), HOOKD_OK);
    assert_int_equal(strlen(secret), HOOKD_SECRET_LEN);
    assert_int_equal(
        hookd_sign_standard(secret, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig, sizeof sig),
        HOOKD_OK);
    assert_string_not_equal(sig, SW_SIG);
    assert_int_equal(verify_sw(secret, SW_ID, SW_TS_TEXT, sig, SW_BODY), HOOKD_OK);
    assert_int_equal(verify_sw(secret, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
}

/* --- several signatures in one header (rotation) ------------------------------------------- */

static void standard_accepts_the_valid_signature_anywhere_in_the_list(void **state)
{
    static const char *const headers[] = {
        SW_SIG " " OTHER_SIG " " OTHER_SIG,
        OTHER_SIG " " SW_SIG " " OTHER_SIG,
        OTHER_SIG " " OTHER_SIG " " SW_SIG,
        "  " OTHER_SIG "   " SW_SIG "  ",           /* extra spaces */
        "v1a,c29tZSBhc3ltbWV0cmljIHNpZw== " SW_SIG, /* unknown versions are skipped */
        "v2,whatever " SW_SIG " v1,!!not-base64!!",
    };
    (void)state;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, headers[i], SW_BODY), HOOKD_OK);
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, OTHER_SIG " " OTHER_SIG, SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
    /* A comma-separated list is not the standard format: one malformed entry. */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, OTHER_SIG "," SW_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
}

/* --- timestamps ---------------------------------------------------------------------------- */

static hookd_status verify_at(long long tolerance, long long now)
{
    return hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY, strlen(SW_BODY),
                                 tolerance, now);
}

static hookd_status verify_hex_at(long long tolerance, long long now)
{
    return hookd_verify_hex(SW_SECRET, SW_TS_TEXT, HEX_SIG, SW_BODY, strlen(SW_BODY), tolerance,
                            now);
}

static void tolerance_edges_are_inclusive_in_both_directions(void **state)
{
    (void)state;
    assert_int_equal(verify_at(300, SW_TS), HOOKD_OK);
    assert_int_equal(verify_at(300, SW_TS + 300), HOOKD_OK);
    assert_int_equal(verify_at(300, SW_TS + 301), HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(verify_at(300, SW_TS - 300), HOOKD_OK);
    assert_int_equal(verify_at(300, SW_TS - 301), HOOKD_E_TIMESTAMP_TOO_NEW);
    assert_int_equal(verify_at(1, SW_TS + 1), HOOKD_OK);
    assert_int_equal(verify_at(1, SW_TS + 2), HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(verify_hex_at(300, SW_TS + 300), HOOKD_OK);
    assert_int_equal(verify_hex_at(300, SW_TS + 301), HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(verify_hex_at(300, SW_TS - 300), HOOKD_OK);
    assert_int_equal(verify_hex_at(300, SW_TS - 301), HOOKD_E_TIMESTAMP_TOO_NEW);
}

static void tolerance_zero_disables_the_timestamp_check(void **state)
{
    (void)state;
    assert_int_equal(verify_at(0, 0), HOOKD_OK);
    assert_int_equal(verify_at(0, SW_TS + 10LL * 365 * 86400), HOOKD_OK);
    assert_int_equal(verify_at(0, -1), HOOKD_OK); /* now is unused */
    assert_int_equal(verify_hex_at(0, 0), HOOKD_OK);
    /* A stale timestamp is reported before the signature is even looked at. */
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, OTHER_SIG, SW_BODY,
                                           strlen(SW_BODY), 300, SW_TS + 1000),
                     HOOKD_E_TIMESTAMP_TOO_OLD);
}

static void extreme_times_do_not_overflow(void **state)
{
    (void)state;
    assert_int_equal(verify_at(300, 9223372036854775807LL), HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(verify_at(9223372036854775807LL, 9223372036854775807LL), HOOKD_OK);
    assert_int_equal(verify_at(9223372036854775807LL, 0), HOOKD_OK);
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, "9223372036854775807", SW_SIG, SW_BODY,
                                           strlen(SW_BODY), 300, 0),
                     HOOKD_E_TIMESTAMP_TOO_NEW);
}

static void timestamps_must_be_decimal_seconds(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "abc",
        "-1614265330",
        "+1614265330",
        "1.6e9",
        "1614265330x",
        "0x60375ef2",
        "1614265330 1",
        "16142 65330",
        "99999999999999999999",
        "9223372036854775808", /* past LLONG_MAX */
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(verify_sw(SW_SECRET, SW_ID, bad[i], SW_SIG, SW_BODY),
                         HOOKD_E_MALFORMED_TIMESTAMP);
        assert_int_equal(verify_hex(bad[i], HEX_SIG, SW_BODY), HOOKD_E_MALFORMED_TIMESTAMP);
    }
    /* Surrounding whitespace is not part of the value; leading zeros are re-formatted away as
     * the Standard Webhooks libraries do. */
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, " 1614265330\t", SW_SIG, SW_BODY), HOOKD_OK);
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, "0001614265330", SW_SIG, SW_BODY), HOOKD_OK);
    assert_int_equal(verify_hex(" 1614265330 ", HEX_SIG, SW_BODY), HOOKD_OK);
}

/* --- malformed input ----------------------------------------------------------------------- */

static void malformed_standard_headers_are_errors(void **state)
{
    static const char *const bad[] = {
        "",
        "   ",
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",    /* missing v1, */
        "v1g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",  /* missing comma */
        "V1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", /* version is case-sensitive */
        "v1,",
        "v1",
        ",",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1O",    /* 42 characters: 31 bytes */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=A", /* 33 bytes */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE==", /* wrong padding */
        "v1,g0hM9SsE-OTPJTGt_tmIKtSyZlE3uFJELVlNIOLJ1OE=",  /* URL-safe alphabet */
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZl\xc3\xa9uFJELVlNIOLJ1OE=",
        "v1,!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!",
        "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964",
        "v1a,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", /* only unknown versions */
        "t=1614265330,v1=83484cf52b04f8e3cf25312dfed9882ad4b26651",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, bad[i], SW_BODY),
                         HOOKD_E_MALFORMED_HEADER);
    }
    /* The message id is a header too. */
    assert_int_equal(verify_sw(SW_SECRET, "", SW_TS_TEXT, SW_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
}

static void over_long_headers_are_refused_at_the_limit(void **state)
{
    static char header[HOOKD_HEADER_MAX + 2];
    size_t sig_len = strlen(SW_SIG);
    (void)state;
    /* Exactly HOOKD_HEADER_MAX bytes, the valid signature last: accepted. */
    memset(header, ' ', HOOKD_HEADER_MAX);
    memcpy(header + HOOKD_HEADER_MAX - sig_len, SW_SIG, sig_len);
    header[HOOKD_HEADER_MAX] = '\0';
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, header, SW_BODY), HOOKD_OK);
    /* One byte more, even with the valid signature first: refused without a match. */
    memset(header, ' ', HOOKD_HEADER_MAX + 1);
    memcpy(header, SW_SIG, sig_len);
    header[HOOKD_HEADER_MAX + 1] = '\0';
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, header, SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
    /* A long rotation list within the limit is fine. */
    header[0] = '\0';
    while (strlen(header) + sig_len + 1 < HOOKD_HEADER_MAX - sig_len)
        strcat(header, OTHER_SIG " ");
    strcat(header, SW_SIG);
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, SW_TS_TEXT, header, SW_BODY), HOOKD_OK);
    /* An over-long message id or timestamp is refused too. */
    memset(header, 'a', HOOKD_HEADER_MAX + 1);
    header[HOOKD_HEADER_MAX + 1] = '\0';
    assert_int_equal(verify_sw(SW_SECRET, header, SW_TS_TEXT, SW_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
    memset(header, '1', HOOKD_HEADER_MAX + 1);
    assert_int_equal(verify_sw(SW_SECRET, SW_ID, header, SW_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_TIMESTAMP);
    memset(header, ',', HOOKD_HEADER_MAX + 1);
    assert_int_equal(verify_hex(SW_TS_TEXT, header, SW_BODY), HOOKD_E_MALFORMED_HEADER);
}

static void null_and_out_of_range_arguments_are_refused(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX];
    size_t n = strlen(SW_BODY);
    (void)state;
    assert_int_equal(hookd_verify_standard(NULL, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_standard(SW_SECRET, NULL, SW_TS_TEXT, SW_SIG, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, NULL, SW_SIG, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, NULL, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, NULL, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(
        hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY, n, -1, SW_TS),
        HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(
        hookd_verify_standard(SW_SECRET, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY, n, 300, -1),
        HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_hex(NULL, SW_TS_TEXT, HEX_SIG, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_hex(SW_SECRET, NULL, HEX_SIG, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_hex(SW_SECRET, SW_TS_TEXT, NULL, SW_BODY, n, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_hex(SW_SECRET, SW_TS_TEXT, HEX_SIG, NULL, 1, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_verify_hex(SW_SECRET, SW_TS_TEXT, HEX_SIG, SW_BODY, n, -5, 0),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_standard(NULL, SW_ID, SW_TS, "", 0, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_standard(SW_SECRET, NULL, SW_TS, "", 0, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_standard(SW_SECRET, "", SW_TS, "", 0, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_standard(SW_SECRET, SW_ID, -1, "", 0, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, NULL, 3, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, "", 0, NULL, 80),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_hex(NULL, SW_TS, "", 0, sig, sizeof sig), HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_hex(SW_SECRET, -1, "", 0, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
    assert_int_equal(hookd_sign_hex(SW_SECRET, SW_TS, NULL, 1, sig, sizeof sig),
                     HOOKD_E_INVALID_ARGUMENT);
}

static void small_output_buffers_are_refused_and_left_empty(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX];
    size_t n = strlen(SW_BODY);
    (void)state;
    memset(sig, 'x', sizeof sig);
    assert_int_equal(hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, SW_BODY, n, sig, strlen(SW_SIG)),
                     HOOKD_E_BUFFER_TOO_SMALL);
    assert_string_equal(sig, "");
    assert_int_equal(
        hookd_sign_standard(SW_SECRET, SW_ID, SW_TS, SW_BODY, n, sig, strlen(SW_SIG) + 1),
        HOOKD_OK);
    assert_string_equal(sig, SW_SIG);
    memset(sig, 'x', sizeof sig);
    assert_int_equal(hookd_sign_hex(SW_SECRET, SW_TS, SW_BODY, n, sig, strlen(HEX_SIG)),
                     HOOKD_E_BUFFER_TOO_SMALL);
    assert_string_equal(sig, "");
    assert_int_equal(hookd_sign_hex(SW_SECRET, SW_TS, SW_BODY, n, sig, strlen(HEX_SIG) + 1),
                     HOOKD_OK);
    assert_string_equal(sig, HEX_SIG);
    assert_int_equal(hookd_sign_hex(SW_SECRET, SW_TS, SW_BODY, n, sig, 0),
                     HOOKD_E_BUFFER_TOO_SMALL);
    assert_true(strlen(SW_SIG) < HOOKD_SIGNATURE_MAX && strlen(HEX_SIG) < HOOKD_SIGNATURE_MAX);
}

/* --- hex scheme ---------------------------------------------------------------------------- */

static void hex_sign_matches_openssl_dgst(void **state)
{
    static const char nul_body[] = {'a', '\0', 'b'};
    char sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(hookd_sign_hex(SW_SECRET, SW_TS, SW_BODY, strlen(SW_BODY), sig, sizeof sig),
                     HOOKD_OK);
    assert_string_equal(sig, HEX_SIG);
    /* The key is the secret string as given: no base64, any text. */
    assert_int_equal(hookd_sign_hex("topsecret", 1700000000, "", 0, sig, sizeof sig), HOOKD_OK);
    assert_string_equal(sig, OTHER_HEX);
    /* (printf '1700000000.'; printf 'a\0b') | openssl dgst -sha256 -hmac topsecret */
    assert_int_equal(
        hookd_sign_hex("topsecret", 1700000000, nul_body, sizeof nul_body, sig, sizeof sig),
        HOOKD_OK);
    assert_string_equal(sig,
                        "sha256=8283d85ba272518891f82834d84ac6d78719e5e3f136ea2d6716cd704b5028f0");
}

/* libhookd keeps one HMAC context per thread and re-keys it for each message: threads signing
 * with different secrets at the same time must each get their own secret's signature. */
struct signer {
    const char *secret;
    const char *expected;
    int mismatches;
};

static void *sign_many_times(void *arg)
{
    struct signer *s = arg;
    char sig[HOOKD_SIGNATURE_MAX];
    for (int i = 0; i < 20000; i++) {
        if (hookd_sign_hex(s->secret, 1700000000, "", 0, sig, sizeof sig) != HOOKD_OK ||
            strcmp(sig, s->expected) != 0)
            s->mismatches++;
    }
    return NULL;
}

static void threads_signing_at_once_keep_their_keys(void **state)
{
    char ours[HOOKD_SIGNATURE_MAX];
    struct signer a = {"topsecret", OTHER_HEX, 0}, b = {"another secret", ours, 0};
    struct signer here = {"topsecret", OTHER_HEX, 0};
    pthread_t ta, tb;
    (void)state;
    assert_int_equal(hookd_sign_hex("another secret", 1700000000, "", 0, ours, sizeof ours),
                     HOOKD_OK);
    assert_string_not_equal(ours, OTHER_HEX);
    assert_int_equal(pthread_create(&ta, NULL, sign_many_times, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, sign_many_times, &b), 0);
    sign_many_times(&here); /* and this thread too, beside the others */
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    assert_int_equal(a.mismatches, 0);
    assert_int_equal(b.mismatches, 0);
    assert_int_equal(here.mismatches, 0);
}

static void hex_verify_accepts_and_refuses_one_character_changes(void **state)
{
    (void)state;
    assert_int_equal(verify_hex(SW_TS_TEXT, HEX_SIG, SW_BODY), HOOKD_OK);
    assert_int_equal(
        verify_hex(SW_TS_TEXT,
                   "sha256=2E37DF5D4A028C51A7F3133D64AE1E300D2C2C900F1B1D49D4369AD2530F"
                   "8964",
                   SW_BODY),
        HOOKD_OK);
    assert_int_equal(verify_hex(SW_TS_TEXT, HEX_SIG, "{\"test\": 2432232315}"),
                     HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(verify_hex("1614265331", HEX_SIG, SW_BODY), HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(
        verify_hex(SW_TS_TEXT,
                   "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8965",
                   SW_BODY),
        HOOKD_E_SIGNATURE_MISMATCH);
    /* The key is the whole string: without its prefix it is another key. */
    assert_int_equal(hookd_verify_hex("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SW_TS_TEXT, HEX_SIG,
                                      SW_BODY, strlen(SW_BODY), 0, 0),
                     HOOKD_E_SIGNATURE_MISMATCH);
}

static void hex_accepts_the_valid_signature_anywhere_in_the_list(void **state)
{
    static const char *const headers[] = {
        HEX_SIG "," OTHER_HEX "," OTHER_HEX,
        OTHER_HEX "," HEX_SIG "," OTHER_HEX,
        OTHER_HEX "," OTHER_HEX "," HEX_SIG,
        " " OTHER_HEX " , " HEX_SIG " ",
        "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709," HEX_SIG, /* other algorithms skipped */
        ",," HEX_SIG ",,",
    };
    (void)state;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        assert_int_equal(verify_hex(SW_TS_TEXT, headers[i], SW_BODY), HOOKD_OK);
    assert_int_equal(verify_hex(SW_TS_TEXT, OTHER_HEX "," OTHER_HEX, SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
}

static void malformed_hex_headers_are_errors(void **state)
{
    static const char *const bad[] = {
        "",
        " , ",
        "2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964", /* no sha256= */
        "sha256=",
        "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f896",   /* 63 */
        "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f89640", /* 65 */
        "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f896g",
        "sha256=2e37df5d4a028c51a7f3133d64ae1e30 d2c2c900f1b1d49d4369ad2530f8964",
        "SHA256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964",
        SW_SIG,
        "sha1=da39a3ee5e6b4b0d3255bfef95601890afd80709",
    };
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(verify_hex(SW_TS_TEXT, bad[i], SW_BODY), HOOKD_E_MALFORMED_HEADER);
    /* A space-separated pair is one malformed entry in this scheme. */
    assert_int_equal(verify_hex(SW_TS_TEXT, OTHER_HEX " " HEX_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
}

/* --- status strings ------------------------------------------------------------------------ */

static void every_status_has_its_own_message(void **state)
{
    const char *seen[HOOKD_E_MALFORMED_TIMESTAMP + 1];
    (void)state;
    for (int s = HOOKD_OK; s <= HOOKD_E_MALFORMED_TIMESTAMP; s++) {
        seen[s] = hookd_strerror((hookd_status)s);
        assert_non_null(seen[s]);
        assert_string_not_equal(seen[s], "unknown status");
        for (int t = 0; t < s; t++)
            assert_string_not_equal(seen[s], seen[t]);
    }
    assert_string_equal(hookd_strerror((hookd_status)99), "unknown status");
    /* The enum's values are an ABI: they never move. */
    assert_int_equal(HOOKD_E_BAD_SECRET, 4);
    assert_int_equal(HOOKD_E_SIGNATURE_MISMATCH, 5);
    assert_int_equal(HOOKD_E_TIMESTAMP_TOO_OLD, 6);
    assert_int_equal(HOOKD_E_TIMESTAMP_TOO_NEW, 7);
    assert_int_equal(HOOKD_E_MALFORMED_HEADER, 8);
    assert_int_equal(HOOKD_E_MALFORMED_TIMESTAMP, 9);
}

static void version_matches_the_header(void **state)
{
    char expected[32];
    (void)state;
    snprintf(expected, sizeof expected, "%d.%d.%d", HOOKD_VERSION_MAJOR, HOOKD_VERSION_MINOR,
             HOOKD_VERSION_PATCH);
    assert_string_equal(hookd_version(), expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(standard_sign_reproduces_the_published_vector),
        cmocka_unit_test(standard_verify_accepts_the_published_vector),
        cmocka_unit_test(standard_verify_refuses_any_one_character_change),
        cmocka_unit_test(standard_signs_and_verifies_bodies_with_nul_bytes),
        cmocka_unit_test(standard_accepts_an_empty_body),
        cmocka_unit_test(standard_secret_prefix_and_padding_are_optional),
        cmocka_unit_test(bad_secrets_are_refused),
        cmocka_unit_test(generated_secrets_sign_and_verify),
        cmocka_unit_test(standard_accepts_the_valid_signature_anywhere_in_the_list),
        cmocka_unit_test(tolerance_edges_are_inclusive_in_both_directions),
        cmocka_unit_test(tolerance_zero_disables_the_timestamp_check),
        cmocka_unit_test(extreme_times_do_not_overflow),
        cmocka_unit_test(timestamps_must_be_decimal_seconds),
        cmocka_unit_test(malformed_standard_headers_are_errors),
        cmocka_unit_test(over_long_headers_are_refused_at_the_limit),
        cmocka_unit_test(null_and_out_of_range_arguments_are_refused),
        cmocka_unit_test(small_output_buffers_are_refused_and_left_empty),
        cmocka_unit_test(hex_sign_matches_openssl_dgst),
        cmocka_unit_test(threads_signing_at_once_keep_their_keys),
        cmocka_unit_test(hex_verify_accepts_and_refuses_one_character_changes),
        cmocka_unit_test(hex_accepts_the_valid_signature_anywhere_in_the_list),
        cmocka_unit_test(malformed_hex_headers_are_errors),
        cmocka_unit_test(every_status_has_its_own_message),
        cmocka_unit_test(version_matches_the_header),
    };
    return cmocka_run_group_tests_name("libhookd sign and verify", tests, NULL, NULL);
}
