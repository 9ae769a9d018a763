/* libhookd (§3, §5): Ed25519 keys and Standard Webhooks v1a signatures. The keys are those of
 * RFC 8032's test vector 1; the v1a vector was made with Node's crypto.sign(null, ...). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hookd/hookd.h>

#include "lib/internal.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

/* RFC 8032 §7.1, TEST 1: the secret key (seed), its public key, the empty message's signature. */
#define RFC_SECRET "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
#define RFC_PUBLIC "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
#define RFC_EMPTY_SIG_HEX                                                                          \
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9" \
    "b46bd25bf5f0595bbe24655141438e7a100b"

/* The Standard Webhooks example message, signed with the RFC key. */
#define SW_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SW_TS 1614265330LL
#define SW_TS_TEXT "1614265330"
#define SW_BODY "{\"test\": 2432232314}"
#define SW_SIG                                                                                     \
    "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw=="
#define HMAC_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

static hookd_status verify(const char *key, const char *id, const char *ts, const char *sigs,
                           const char *body)
{
    return hookd_verify_ed25519(key, id, ts, sigs, body, strlen(body), HOOKD_TOLERANCE_DEFAULT,
                                SW_TS);
}

static void sign_reproduces_rfc8032_test_1(void **state)
{
    unsigned char seed[HOOKD__ED25519_KEY_BYTES], sig[HOOKD__ED25519_SIG_BYTES];
    char hex[2 * HOOKD__ED25519_SIG_BYTES + 1];
    (void)state;
    assert_int_equal(hookd__ed25519_seed(RFC_SECRET, seed), HOOKD_OK);
    assert_int_equal(hookd__ed25519_sign(seed, NULL, 0, sig), HOOKD_OK);
    for (size_t i = 0; i < sizeof sig; i++)
        snprintf(hex + 2 * i, 3, "%02x", sig[i]);
    assert_string_equal(hex, RFC_EMPTY_SIG_HEX);
}

static void verify_accepts_rfc8032_test_1_and_refuses_a_flipped_bit(void **state)
{
    unsigned char key[HOOKD__ED25519_KEY_BYTES], sig[HOOKD__ED25519_SIG_BYTES];
    (void)state;
    for (size_t i = 0; i < sizeof sig; i++)
        sscanf(RFC_EMPTY_SIG_HEX + 2 * i, "%2hhx", &sig[i]);
    assert_int_equal(hookd__ed25519_public(RFC_PUBLIC, key), HOOKD_OK);
    assert_int_equal(hookd__ed25519_verify(key, NULL, 0, sig), HOOKD_OK);
    sig[10] ^= 0x01;
    assert_int_equal(hookd__ed25519_verify(key, NULL, 0, sig), HOOKD_E_SIGNATURE_MISMATCH);
}

static void public_key_of_the_rfc_secret_is_the_rfc_public_key(void **state)
{
    char pub[HOOKD_ED25519_KEY_LEN + 1];
    (void)state;
    assert_int_equal(hookd_ed25519_public_key(RFC_SECRET, pub, sizeof pub), HOOKD_OK);
    assert_string_equal(pub, RFC_PUBLIC);
    /* without the prefix, and in libsodium's 64-byte form (seed || public key) */
    assert_int_equal(hookd_ed25519_public_key(RFC_SECRET + 5, pub, sizeof pub), HOOKD_OK);
    assert_string_equal(pub, RFC_PUBLIC);
    assert_int_equal(hookd_ed25519_public_key("whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpg"
                                              "BgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==",
                                              pub, sizeof pub),
                     HOOKD_OK);
    assert_string_equal(pub, RFC_PUBLIC);
}

static void a_64_byte_secret_whose_halves_disagree_is_refused(void **state)
{
    char pub[HOOKD_ED25519_KEY_LEN + 1];
    (void)state;
    assert_int_equal(hookd_ed25519_public_key("whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpg"
                                              "BgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGw==",
                                              pub, sizeof pub),
                     HOOKD_E_BAD_SECRET);
    assert_string_equal(pub, "");
}

static void malformed_keys_are_bad_secrets(void **state)
{
    char pub[HOOKD_ED25519_KEY_LEN + 1], sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(hookd_ed25519_public_key("", pub, sizeof pub), HOOKD_E_BAD_SECRET);
    assert_int_equal(hookd_ed25519_public_key("whsk_c2hvcnQ=", pub, sizeof pub),
                     HOOKD_E_BAD_SECRET);
    assert_int_equal(hookd_ed25519_public_key("whsk_not base64!", pub, sizeof pub),
                     HOOKD_E_BAD_SECRET);
    assert_int_equal(hookd_sign_ed25519("whsk_", SW_ID, SW_TS, "", 0, sig, sizeof sig),
                     HOOKD_E_BAD_SECRET);
    assert_int_equal(verify("whpk_c2hvcnQ=", SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY),
                     HOOKD_E_BAD_SECRET);
}

static void sign_reproduces_the_node_vector(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(
        hookd_sign_ed25519(RFC_SECRET, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig, sizeof sig),
        HOOKD_OK);
    assert_string_equal(sig, SW_SIG);
    assert_true(strlen(sig) < HOOKD_SIGNATURE_MAX);
}

static void verify_accepts_the_node_vector(void **state)
{
    (void)state;
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY), HOOKD_OK);
    assert_int_equal(verify(RFC_PUBLIC + 5, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY), HOOKD_OK);
}

static void tampered_body_id_or_timestamp_do_not_verify(void **state)
{
    (void)state;
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, SW_TS_TEXT, SW_SIG, "{\"test\": 2432232315}"),
                     HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(verify(RFC_PUBLIC, "msg_other", SW_TS_TEXT, SW_SIG, SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, "1614265331", SW_SIG, SW_BODY),
                     HOOKD_E_SIGNATURE_MISMATCH);
}

static void another_public_key_does_not_verify(void **state)
{
    char secret[HOOKD_ED25519_KEY_LEN + 1], pub[HOOKD_ED25519_KEY_LEN + 1];
    (void)state;
    assert_int_equal(hookd_ed25519_generate(secret, sizeof secret, pub, sizeof pub), HOOKD_OK);
    assert_int_equal(verify(pub, SW_ID, SW_TS_TEXT, SW_SIG, SW_BODY), HOOKD_E_SIGNATURE_MISMATCH);
}

static void generated_keys_sign_and_verify(void **state)
{
    char secret[HOOKD_ED25519_KEY_LEN + 1], pub[HOOKD_ED25519_KEY_LEN + 1];
    char again[HOOKD_ED25519_KEY_LEN + 1], sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(hookd_ed25519_generate(secret, sizeof secret, pub, sizeof pub), HOOKD_OK);
    assert_int_equal(strlen(secret), HOOKD_ED25519_KEY_LEN);
    assert_int_equal(strlen(pub), HOOKD_ED25519_KEY_LEN);
    assert_memory_equal(secret, "whsk_", 5);
    assert_memory_equal(pub, "whpk_", 5);
    assert_int_equal(hookd_ed25519_public_key(secret, again, sizeof again), HOOKD_OK);
    assert_string_equal(again, pub);
    assert_int_equal(
        hookd_sign_ed25519(secret, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig, sizeof sig),
        HOOKD_OK);
    assert_int_equal(verify(pub, SW_ID, SW_TS_TEXT, sig, SW_BODY), HOOKD_OK);
}

static void any_v1a_entry_of_a_rotation_verifies_and_v1_entries_are_ignored(void **state)
{
    char secret[HOOKD_ED25519_KEY_LEN + 1], pub[HOOKD_ED25519_KEY_LEN + 1];
    char other[HOOKD_SIGNATURE_MAX], header[4 * HOOKD_SIGNATURE_MAX];
    (void)state;
    assert_int_equal(hookd_ed25519_generate(secret, sizeof secret, pub, sizeof pub), HOOKD_OK);
    assert_int_equal(
        hookd_sign_ed25519(secret, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), other, sizeof other),
        HOOKD_OK);
    snprintf(header, sizeof header, "%s %s %s", HMAC_SIG, other, SW_SIG);
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, SW_TS_TEXT, header, SW_BODY), HOOKD_OK);
    assert_int_equal(verify(pub, SW_ID, SW_TS_TEXT, header, SW_BODY), HOOKD_OK);
    /* only v1 entries: nothing this scheme can check */
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, SW_TS_TEXT, HMAC_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
}

static void malformed_entries_and_timestamps_are_refused_before_verifying(void **state)
{
    (void)state;
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, SW_TS_TEXT, "v1a,c2hvcnQ=", SW_BODY),
                     HOOKD_E_MALFORMED_HEADER);
    assert_int_equal(verify(RFC_PUBLIC, "", SW_TS_TEXT, SW_SIG, SW_BODY), HOOKD_E_MALFORMED_HEADER);
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, "16142x", SW_SIG, SW_BODY),
                     HOOKD_E_MALFORMED_TIMESTAMP);
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, "1614264000", SW_SIG, SW_BODY),
                     HOOKD_E_TIMESTAMP_TOO_OLD);
    assert_int_equal(verify(RFC_PUBLIC, SW_ID, "1614266000", SW_SIG, SW_BODY),
                     HOOKD_E_TIMESTAMP_TOO_NEW);
    assert_int_equal(hookd_verify_ed25519(RFC_PUBLIC, SW_ID, SW_TS_TEXT, SW_SIG, NULL, 3, 0, 0),
                     HOOKD_E_INVALID_ARGUMENT);
}

static void small_buffers_are_refused_and_left_empty(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX], secret[HOOKD_ED25519_KEY_LEN], pub[HOOKD_ED25519_KEY_LEN + 1];
    (void)state;
    assert_int_equal(
        hookd_sign_ed25519(RFC_SECRET, SW_ID, SW_TS, SW_BODY, strlen(SW_BODY), sig, strlen(SW_SIG)),
        HOOKD_E_BUFFER_TOO_SMALL);
    assert_string_equal(sig, "");
    assert_int_equal(hookd_ed25519_generate(secret, sizeof secret, pub, sizeof pub),
                     HOOKD_E_BUFFER_TOO_SMALL);
    assert_int_equal(hookd_ed25519_generate(NULL, 0, pub, sizeof pub), HOOKD_E_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sign_reproduces_rfc8032_test_1),
        cmocka_unit_test(verify_accepts_rfc8032_test_1_and_refuses_a_flipped_bit),
        cmocka_unit_test(public_key_of_the_rfc_secret_is_the_rfc_public_key),
        cmocka_unit_test(a_64_byte_secret_whose_halves_disagree_is_refused),
        cmocka_unit_test(malformed_keys_are_bad_secrets),
        cmocka_unit_test(sign_reproduces_the_node_vector),
        cmocka_unit_test(verify_accepts_the_node_vector),
        cmocka_unit_test(tampered_body_id_or_timestamp_do_not_verify),
        cmocka_unit_test(another_public_key_does_not_verify),
        cmocka_unit_test(generated_keys_sign_and_verify),
        cmocka_unit_test(any_v1a_entry_of_a_rotation_verifies_and_v1_entries_are_ignored),
        cmocka_unit_test(malformed_entries_and_timestamps_are_refused_before_verifying),
        cmocka_unit_test(small_buffers_are_refused_and_left_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
