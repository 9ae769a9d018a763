/* RFC 3339 timestamps with milliseconds, and durations. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/timeutil.h"

static void formats_utc_with_milliseconds(void **state)
{
    char text[TIME_RFC3339_LEN];
    (void)state;
    time_format_rfc3339(1777055400000LL, text);
    assert_string_equal(text, "2026-04-24T18:30:00.000Z");
    time_format_rfc3339(1777055400007LL, text);
    assert_string_equal(text, "2026-04-24T18:30:00.007Z");
    time_format_rfc3339(0, text);
    assert_string_equal(text, "1970-01-01T00:00:00.000Z");
}

static void parses_what_it_formats(void **state)
{
    char text[TIME_RFC3339_LEN];
    int64_t ms;
    (void)state;
    for (int64_t t = 1600000000123LL; t < 1900000000000LL; t += 7777777777LL) {
        time_format_rfc3339(t, text);
        assert_true(time_parse_rfc3339(text, &ms));
        assert_int_equal(ms, t);
    }
}

static void parses_offsets_and_fractions(void **state)
{
    int64_t ms;
    (void)state;
    assert_true(time_parse_rfc3339("2026-04-24T20:30:00+02:00", &ms));
    assert_int_equal(ms, 1777055400000LL);
    assert_true(time_parse_rfc3339("2026-04-24T18:30:00.5Z", &ms));
    assert_int_equal(ms, 1777055400500LL);
    assert_true(time_parse_rfc3339("2026-04-24T18:30:00.123456Z", &ms));
    assert_int_equal(ms, 1777055400123LL);
    assert_true(time_parse_rfc3339("2024-02-29T00:00:00Z", &ms));
}

static void refuses_malformed_timestamps(void **state)
{
    int64_t ms;
    const char *bad[] = {"",
                         "2026-04-24",
                         "2026-04-24 18:30:00Z",
                         "2026-13-01T00:00:00Z",
                         "2026-02-30T00:00:00Z",
                         "2025-02-29T00:00:00Z",
                         "2026-04-24T24:00:00Z",
                         "2026-04-24T18:30:00",
                         "2026-04-24T18:30:00.Z",
                         "2026-04-24T18:30:00Zjunk",
                         "2026-04-24T18:30:00+0200"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(time_parse_rfc3339(bad[i], &ms));
    assert_false(time_parse_rfc3339(NULL, &ms));
}

static void parses_durations_in_every_unit(void **state)
{
    int64_t ms;
    (void)state;
    assert_true(time_parse_duration("250ms", &ms));
    assert_int_equal(ms, 250);
    assert_true(time_parse_duration("15s", &ms));
    assert_int_equal(ms, 15000);
    assert_true(time_parse_duration("15", &ms));
    assert_int_equal(ms, 15000);
    assert_true(time_parse_duration("5m", &ms));
    assert_int_equal(ms, 300000);
    assert_true(time_parse_duration("2h", &ms));
    assert_int_equal(ms, 7200000);
    assert_true(time_parse_duration("30d", &ms));
    assert_int_equal(ms, 2592000000LL);
}

static void refuses_bad_durations(void **state)
{
    int64_t ms;
    const char *bad[] = {
        "", "s", "-1s", "1.5s", "10x", "1 s", "99999999999999999999s", "9999999999999999d"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(time_parse_duration(bad[i], &ms));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(formats_utc_with_milliseconds),
        cmocka_unit_test(parses_what_it_formats),
        cmocka_unit_test(parses_offsets_and_fractions),
        cmocka_unit_test(refuses_malformed_timestamps),
        cmocka_unit_test(parses_durations_in_every_unit),
        cmocka_unit_test(refuses_bad_durations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
