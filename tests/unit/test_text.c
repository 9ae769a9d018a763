/* text_copy: snprintf("%s")'s contract on fixed-size buffers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/text.h"

static void copies_what_fits_and_terminates(void **state)
{
    char buf[6];
    (void)state;
    assert_string_equal(text_copy(buf, sizeof buf, "hello"), "hello");
    assert_string_equal(text_copy(buf, sizeof buf, "hello world"), "hello");
    assert_string_equal(text_copy(buf, sizeof buf, ""), "");
    assert_string_equal(text_copy(buf, 1, "abc"), "");
}

static void null_reads_as_empty(void **state)
{
    char buf[4] = "xyz";
    (void)state;
    assert_string_equal(text_copy(buf, sizeof buf, NULL), "");
}

static void a_buffer_may_copy_its_own_tail(void **state)
{
    char buf[8] = "abcdefg";
    (void)state;
    assert_string_equal(text_copy(buf, sizeof buf, buf + 2), "cdefg");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_what_fits_and_terminates),
        cmocka_unit_test(null_reads_as_empty),
        cmocka_unit_test(a_buffer_may_copy_its_own_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
