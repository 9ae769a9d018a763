/* Token buckets: the per-key API limit (§2.1) and, later, per-endpoint delivery rates. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/ratelimit.h"

#define SECOND 1000000000LL

static void a_full_bucket_allows_its_burst_then_refuses(void **state)
{
    struct token_bucket b;
    int retry = 0;
    (void)state;
    token_bucket_init(&b, 10, 20, 0);
    for (int i = 0; i < 20; i++)
        assert_true(token_bucket_take(&b, 0, &retry));
    assert_false(token_bucket_take(&b, 0, &retry));
    assert_int_equal(retry, 1);
}

static void tokens_come_back_at_the_rate(void **state)
{
    struct token_bucket b;
    int retry = 0;
    (void)state;
    token_bucket_init(&b, 10, 20, 0);
    for (int i = 0; i < 20; i++)
        token_bucket_take(&b, 0, &retry);
    assert_false(token_bucket_take(&b, SECOND / 20, &retry)); /* half a token */
    assert_true(token_bucket_take(&b, SECOND / 10, &retry));  /* one token */
    assert_false(token_bucket_take(&b, SECOND / 10, &retry));
    /* ten seconds refill to the burst, never beyond */
    for (int i = 0; i < 20; i++)
        assert_true(token_bucket_take(&b, 11 * SECOND, &retry));
    assert_false(token_bucket_take(&b, 11 * SECOND, &retry));
}

static void retry_after_covers_a_slow_rate(void **state)
{
    struct token_bucket b;
    int retry = 0;
    (void)state;
    token_bucket_init(&b, 0.25, 1, 0); /* one token every four seconds */
    assert_true(token_bucket_take(&b, 0, &retry));
    assert_false(token_bucket_take(&b, 0, &retry));
    assert_int_equal(retry, 4);
}

static void time_going_backwards_adds_nothing(void **state)
{
    struct token_bucket b;
    int retry = 0;
    (void)state;
    token_bucket_init(&b, 1, 1, 10 * SECOND);
    assert_true(token_bucket_take(&b, 10 * SECOND, &retry));
    assert_false(token_bucket_take(&b, 5 * SECOND, &retry));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_full_bucket_allows_its_burst_then_refuses),
        cmocka_unit_test(tokens_come_back_at_the_rate),
        cmocka_unit_test(retry_after_covers_a_slow_rate),
        cmocka_unit_test(time_going_backwards_adds_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
