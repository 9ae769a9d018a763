/* libhookd (§5): verification allocates nothing of its own. This binary counts every
 * malloc/calloc/realloc while a flag is up and compares one hookd_verify_* call with one bare
 * OpenSSL HMAC() of the same message: the only allocations allowed are OpenSSL's. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hookd/hookd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile bool is_counting;
static volatile size_t allocations;

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer the allocator is the sanitizer's: count through its hook instead of
 * replacing malloc, which would bypass it. The declaration is that of
 * <sanitizer/allocator_interface.h>, which gcc does not install. */
int __sanitizer_install_malloc_and_free_hooks(void (*malloc_hook)(const volatile void *, size_t),
                                              void (*free_hook)(const volatile void *));

static void count_malloc(const volatile void *ptr, size_t size)
{
    (void)ptr;
    (void)size;
    if (is_counting)
        allocations++;
}

static void ignore_free(const volatile void *ptr)
{
    (void)ptr;
}

static void start_counting_hooks(void)
{
    assert_int_not_equal(__sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free), 0);
}
#else
/* glibc's own entry points, so that these definitions can replace malloc for the whole process
 * (libcrypto included) and still hand memory to the same allocator free() returns it to. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *ptr, size_t size);

void *malloc(size_t size)
{
    if (is_counting)
        allocations++;
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size)
{
    if (is_counting)
        allocations++;
    return __libc_calloc(count, size);
}

void *realloc(void *ptr, size_t size)
{
    if (is_counting)
        allocations++;
    return __libc_realloc(ptr, size);
}

static void start_counting_hooks(void) {}
#endif

#define SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define MSG_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TS 1614265330LL
#define TS_TEXT "1614265330"
#define BODY_LEN 1024
#define ROTATION_ENTRIES 20

static char body[BODY_LEN];

static void begin(void)
{
    allocations = 0;
    is_counting = true;
}

static size_t end(void)
{
    is_counting = false;
    return allocations;
}

/* Allocations of one HMAC() over "{id}.{ts}.{body}" under the decoded key: the baseline. */
static size_t baseline_allocations(const unsigned char *key, size_t key_len, bool with_id)
{
    static unsigned char message[256 + BODY_LEN];
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    int n = with_id ? snprintf((char *)message, sizeof message, "%s.%s.", MSG_ID, TS_TEXT)
                    : snprintf((char *)message, sizeof message, "%s.", TS_TEXT);
    size_t len = (size_t)n + BODY_LEN;
    size_t count;

    memcpy(message + n, body, BODY_LEN);
    /* Once untimed, so OpenSSL's one-time initialisation and fetch caches are in place. */
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, message, len, mac, &mac_len));
    begin();
    assert_non_null(HMAC(EVP_sha256(), key, (int)key_len, message, len, mac, &mac_len));
    count = end();
    assert_int_equal(mac_len, 32);
    return count;
}

static void sw_key(unsigned char key[32], size_t *len)
{
    /* The base64 after whsec_, decoded by OpenSSL: 32 characters, 24 bytes. */
    const char *b64 = SECRET + strlen("whsec_");
    assert_int_equal(EVP_DecodeBlock(key, (const unsigned char *)b64, (int)strlen(b64)), 24);
    *len = 24;
}

static void counting_sees_allocations(void **state)
{
    /* Called through a volatile pointer so the compiler cannot elide the allocation. */
    void *(*volatile allocate)(size_t) = malloc;
    void *p;
    (void)state;
    /* The counter must be able to fail: a plain malloc is seen. */
    begin();
    p = allocate(64);
    assert_true(end() >= 1);
    free(p);
}

static void standard_verify_allocates_no_more_than_bare_hmac(void **state)
{
    unsigned char key[32];
    size_t key_len = 0, baseline, during;
    char sig[HOOKD_SIGNATURE_MAX];
    (void)state;
    sw_key(key, &key_len);
    baseline = baseline_allocations(key, key_len, true);
    assert_int_equal(hookd_sign_standard(SECRET, MSG_ID, TS, body, BODY_LEN, sig, sizeof sig),
                     HOOKD_OK);
    assert_int_equal(hookd_verify_standard(SECRET, MSG_ID, TS_TEXT, sig, body, BODY_LEN, 300, TS),
                     HOOKD_OK);
    begin();
    hookd_status status =
        hookd_verify_standard(SECRET, MSG_ID, TS_TEXT, sig, body, BODY_LEN, 300, TS);
    during = end();
    assert_int_equal(status, HOOKD_OK);
    print_message("standard verify: %zu allocations, bare HMAC(): %zu\n", during, baseline);
    assert_true(during <= baseline);
}

static void rotation_header_verify_allocates_no_more_than_bare_hmac(void **state)
{
    /* Many signatures in one header still cost one HMAC and no buffer of libhookd's own. */
    static char header[ROTATION_ENTRIES * (HOOKD_SIGNATURE_MAX + 1)];
    char sig[HOOKD_SIGNATURE_MAX], other[HOOKD_SIGNATURE_MAX];
    unsigned char key[32];
    size_t key_len = 0, baseline, during;
    (void)state;
    sw_key(key, &key_len);
    baseline = baseline_allocations(key, key_len, true);
    assert_int_equal(hookd_sign_standard(SECRET, MSG_ID, TS, body, BODY_LEN, sig, sizeof sig),
                     HOOKD_OK);
    assert_int_equal(
        hookd_sign_standard(SECRET, "msg_other", TS, body, BODY_LEN, other, sizeof other),
        HOOKD_OK);
    header[0] = '\0';
    for (int i = 0; i < ROTATION_ENTRIES - 1; i++) {
        strcat(header, other);
        strcat(header, " ");
    }
    strcat(header, sig);
    begin();
    hookd_status status =
        hookd_verify_standard(SECRET, MSG_ID, TS_TEXT, header, body, BODY_LEN, 300, TS);
    during = end();
    assert_int_equal(status, HOOKD_OK);
    assert_true(during <= baseline);
    /* A mismatch and a malformed header take the same path or a shorter one. */
    begin();
    status = hookd_verify_standard(SECRET, MSG_ID, TS_TEXT, other, body, BODY_LEN, 300, TS);
    during = end();
    assert_int_equal(status, HOOKD_E_SIGNATURE_MISMATCH);
    assert_true(during <= baseline);
    begin();
    status = hookd_verify_standard(SECRET, MSG_ID, TS_TEXT, "v1,???", body, BODY_LEN, 300, TS);
    during = end();
    assert_int_equal(status, HOOKD_E_MALFORMED_HEADER);
    assert_int_equal(during, 0);
}

static void hex_verify_allocates_no_more_than_bare_hmac(void **state)
{
    char sig[HOOKD_SIGNATURE_MAX], header[3 * HOOKD_SIGNATURE_MAX];
    size_t baseline, during;
    (void)state;
    baseline = baseline_allocations((const unsigned char *)SECRET, strlen(SECRET), false);
    assert_int_equal(hookd_sign_hex(SECRET, TS, body, BODY_LEN, sig, sizeof sig), HOOKD_OK);
    snprintf(header, sizeof header, "sha256=%064d,%s", 0, sig);
    begin();
    hookd_status status = hookd_verify_hex(SECRET, TS_TEXT, header, body, BODY_LEN, 300, TS);
    during = end();
    assert_int_equal(status, HOOKD_OK);
    print_message("hex verify: %zu allocations, bare HMAC(): %zu\n", during, baseline);
    assert_true(during <= baseline);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counting_sees_allocations),
        cmocka_unit_test(standard_verify_allocates_no_more_than_bare_hmac),
        cmocka_unit_test(rotation_header_verify_allocates_no_more_than_bare_hmac),
        cmocka_unit_test(hex_verify_allocates_no_more_than_bare_hmac),
    };
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (char)('a' + i % 26);
    start_counting_hooks();
    return cmocka_run_group_tests_name("libhookd verify allocations", tests, NULL, NULL);
}
