/* Pagination parameters and cursors (§2.1). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/page.h"

#include <string.h>

static void defaults_to_fifty_from_the_newest(void **state)
{
    struct page page;
    struct err e;
    (void)state;
    assert_int_equal(page_parse(NULL, NULL, &page, &e), 0);
    assert_int_equal(page.limit, 50);
    assert_false(page.has_cursor);
}

static void limit_must_be_one_to_250(void **state)
{
    struct page page;
    struct err e;
    const char *bad[] = {"0", "251", "-1", "abc", "10x", "", "99999999999999999999"};
    (void)state;
    assert_int_equal(page_parse("1", NULL, &page, &e), 0);
    assert_int_equal(page.limit, 1);
    assert_int_equal(page_parse("250", NULL, &page, &e), 0);
    assert_int_equal(page.limit, 250);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(page_parse(bad[i], NULL, &page, &e), 0);
        assert_string_equal(e.field, "limit");
        assert_int_equal(e.status, 400);
    }
}

static void cursors_round_trip(void **state)
{
    char cursor[PAGE_CURSOR_MAX];
    struct page page;
    struct err e;
    (void)state;
    page_cursor(1777055400123LL, "evt_producer-id_1", cursor);
    assert_int_equal(page_parse("10", cursor, &page, &e), 0);
    assert_true(page.has_cursor);
    assert_int_equal(page.before_ms, 1777055400123LL);
    assert_string_equal(page.before_id, "evt_producer-id_1");
}

static void foreign_cursors_are_refused(void **state)
{
    struct page page;
    struct err e;
    const char *bad[] = {"zz",
                         "abc",
                         "3132",
                         /* "12": no id */ "3a6964", /* ":id" */
                         "2d313a6964" /* "-1:id" */,
                         "31323a" /* "12:" */};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_not_equal(page_parse(NULL, bad[i], &page, &e), 0);
        assert_string_equal(e.field, "cursor");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_to_fifty_from_the_newest),
        cmocka_unit_test(limit_must_be_one_to_250),
        cmocka_unit_test(cursors_round_trip),
        cmocka_unit_test(foreign_cursors_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
