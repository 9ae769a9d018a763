/* The retry policy (§4.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "engine/retry.h"

static const int64_t schedule[] = {1000, 4000, 16000, 64000, 256000, 1024000, 4096000};

static struct retry_decision decide(int status, int attempts, int64_t retry_after, double jitter)
{
    struct retry_input in = {.http_status = status,
                             .attempts_in_schedule = attempts,
                             .schedule = schedule,
                             .schedule_len = 7,
                             .retry_after_ms = retry_after,
                             .jitter = jitter};
    struct retry_decision out;
    retry_decide(&in, &out);
    return out;
}

static void success_is_delivered(void **state)
{
    (void)state;
    assert_int_equal(decide(200, 1, -1, 0).status, DLV_DELIVERED);
    assert_int_equal(decide(204, 8, -1, 0).status, DLV_DELIVERED);
    assert_int_equal(decide(299, 3, -1, 0).status, DLV_DELIVERED);
}

static void retryable_outcomes_follow_the_schedule(void **state)
{
    const int statuses[] = {0, 500, 502, 503, 504, 408, 425, 429, 301, 302, 307};
    (void)state;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        struct retry_decision d = decide(statuses[i], 1, -1, 0);
        assert_int_equal(d.status, DLV_PENDING);
        assert_int_equal(d.delay_ms, 1000);
    }
    assert_int_equal(decide(500, 2, -1, 0).delay_ms, 4000);
    assert_int_equal(decide(500, 7, -1, 0).delay_ms, 4096000);
    /* eight attempts: the eighth failure ends it */
    assert_int_equal(decide(500, 8, -1, 0).status, DLV_EXHAUSTED);
}

static void other_client_errors_fail_at_once(void **state)
{
    const int statuses[] = {400, 401, 403, 404, 405, 409, 413, 422, 100};
    (void)state;
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++)
        assert_int_equal(decide(statuses[i], 1, -1, 0).status, DLV_FAILED);
    assert_false(decide(404, 1, -1, 0).disable_gone);
}

static void gone_fails_and_disables(void **state)
{
    struct retry_decision d = decide(410, 1, -1, 0);
    (void)state;
    assert_int_equal(d.status, DLV_FAILED);
    assert_true(d.disable_gone);
}

static void blocked_addresses_are_not_retried(void **state)
{
    struct retry_input in = {.blocked = true,
                             .attempts_in_schedule = 1,
                             .schedule = schedule,
                             .schedule_len = 7,
                             .retry_after_ms = -1};
    struct retry_decision d;
    (void)state;
    retry_decide(&in, &d);
    assert_int_equal(d.status, DLV_FAILED);
}

static void jitter_stays_within_ten_percent(void **state)
{
    (void)state;
    assert_int_equal(decide(500, 3, -1, 1.0).delay_ms, 17600);
    assert_int_equal(decide(500, 3, -1, -1.0).delay_ms, 14400);
    assert_int_equal(decide(500, 3, -1, 0.5).delay_ms, 16800);
}

static void retry_after_lengthens_but_is_capped(void **state)
{
    (void)state;
    /* after attempt 1 the delay is 1 s; Retry-After 10 s lengthens it, capped at 4 s */
    assert_int_equal(decide(429, 1, 10000, 0).delay_ms, 4000);
    assert_int_equal(decide(503, 1, 3000, 0).delay_ms, 3000);
    /* never shortens */
    assert_int_equal(decide(503, 2, 1000, 0).delay_ms, 4000);
    /* only on 429 and 503 */
    assert_int_equal(decide(500, 1, 3000, 0).delay_ms, 1000);
    /* the last step caps at the last delay */
    assert_int_equal(decide(429, 7, 99999999, 0).delay_ms, 4096000);
}

static void retry_after_reads_seconds_and_dates(void **state)
{
    int64_t delay;
    const int64_t now = 1445412480000LL; /* Wed, 21 Oct 2015 07:28:00 GMT */
    (void)state;
    assert_true(retry_after_parse("120", now, &delay));
    assert_int_equal(delay, 120000);
    assert_true(retry_after_parse(" 5 ", now, &delay));
    assert_int_equal(delay, 5000);
    assert_true(retry_after_parse("Wed, 21 Oct 2015 07:28:30 GMT", now, &delay));
    assert_int_equal(delay, 30000);
    assert_true(retry_after_parse("Wed, 21 Oct 2015 07:00:00 GMT", now, &delay));
    assert_int_equal(delay, 0);
    assert_false(retry_after_parse("soon", now, &delay));
    assert_false(retry_after_parse("12abc", now, &delay));
    assert_false(retry_after_parse(NULL, now, &delay));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(success_is_delivered),
        cmocka_unit_test(retryable_outcomes_follow_the_schedule),
        cmocka_unit_test(other_client_errors_fail_at_once),
        cmocka_unit_test(gone_fails_and_disables),
        cmocka_unit_test(blocked_addresses_are_not_retried),
        cmocka_unit_test(jitter_stays_within_ten_percent),
        cmocka_unit_test(retry_after_lengthens_but_is_capped),
        cmocka_unit_test(retry_after_reads_seconds_and_dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
