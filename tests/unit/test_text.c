/* text_copy (snprintf("%s")'s contract on fixed-size buffers) and text_hash. */
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

static void text_hash_is_fnv_1a(void **state)
{
    (void)state;
    assert_int_equal(text_hash(""), 2166136261u);
    assert_int_equal(text_hash("a"), 0xe40c292cu);
    assert_int_equal(text_hash("foobar"), 0xbf9cf968u);
}

static void a_word_matches_whole_words_only(void **state)
{
    (void)state;
    assert_true(text_word_in("limit", "limit cursor"));
    assert_true(text_word_in("cursor", "limit cursor"));
    assert_true(text_word_in("org_id", "org_id"));
    assert_false(text_word_in("lim", "limit cursor"));
    assert_false(text_word_in("org", "org_id"));
    assert_false(text_word_in("id", "org_id"));
    assert_false(text_word_in("t c", "limit cursor"));
    assert_false(text_word_in("", "limit cursor"));
    assert_false(text_word_in("limit", ""));
    assert_true(text_word_in("cursor", "cursors cursor"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(copies_what_fits_and_terminates), cmocka_unit_test(null_reads_as_empty),
        cmocka_unit_test(a_buffer_may_copy_its_own_tail),  cmocka_unit_test(text_hash_is_fnv_1a),
        cmocka_unit_test(a_word_matches_whole_words_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
