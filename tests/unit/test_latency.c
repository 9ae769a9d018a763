/* Latency buckets and quantiles (endpoint stats, §2.4). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/latency.h"

#include <math.h>

static void a_duration_falls_in_the_bucket_that_bounds_it(void **state)
{
    (void)state;
    assert_int_equal(latency_bucket(-5), 0);
    assert_int_equal(latency_bucket(0), 0);
    assert_int_equal(latency_bucket(1), 0);
    for (int64_t ms = 2; ms < 100000; ms = ms * 3 / 2 + 1) {
        int i = latency_bucket(ms);
        assert_true(i > 0);
        if (i < LATENCY_BUCKETS - 1) {
            assert_true((double)ms <= latency_bucket_upper_ms(i));
            assert_true((double)ms > latency_bucket_upper_ms(i - 1));
        }
    }
    /* past the last bound, the last bucket */
    assert_int_equal(latency_bucket(INT64_MAX), LATENCY_BUCKETS - 1);
    assert_true(latency_bucket_upper_ms(LATENCY_BUCKETS - 1) > 60000);
}

static void nothing_counted_has_no_quantile(void **state)
{
    int64_t counts[LATENCY_BUCKETS] = {0};
    (void)state;
    assert_true(latency_quantile_ms(counts, 0.5) < 0);
}

/* within the bucket's width of the exact quantile of 1, 2, ..., n ms */
static void assert_near(double got, double exact)
{
    assert_true(got <= exact * LATENCY_GROWTH + 1);
    assert_true(got >= exact / LATENCY_GROWTH - 1);
}

static void quantiles_of_a_spread_are_within_a_bucket(void **state)
{
    int64_t counts[LATENCY_BUCKETS] = {0};
    (void)state;
    for (int ms = 1; ms <= 2000; ms++)
        counts[latency_bucket(ms)]++;
    assert_near(latency_quantile_ms(counts, 0.50), 1000);
    assert_near(latency_quantile_ms(counts, 0.95), 1900);
    assert_near(latency_quantile_ms(counts, 0.99), 1980);
    assert_near(latency_quantile_ms(counts, 1.0), 2000);
}

static void a_slow_tail_shows_in_p99_only(void **state)
{
    int64_t counts[LATENCY_BUCKETS] = {0};
    (void)state;
    counts[latency_bucket(20)] = 980;
    counts[latency_bucket(5000)] = 20;
    assert_near(latency_quantile_ms(counts, 0.50), 20);
    assert_near(latency_quantile_ms(counts, 0.95), 20);
    assert_near(latency_quantile_ms(counts, 0.99), 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_duration_falls_in_the_bucket_that_bounds_it),
        cmocka_unit_test(nothing_counted_has_no_quantile),
        cmocka_unit_test(quantiles_of_a_spread_are_within_a_bucket),
        cmocka_unit_test(a_slow_tail_shows_in_p99_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
