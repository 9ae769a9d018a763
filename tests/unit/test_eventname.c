/* Event type names and subscription filters (§2.3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/eventname.h"

#include <string.h>

static void names_follow_the_grammar(void **state)
{
    char long_name[EVENT_NAME_MAX + 2];
    (void)state;
    assert_true(event_name_is_valid("upload.completed"));
    assert_true(event_name_is_valid("a"));
    assert_true(event_name_is_valid("a_b.c_9.d"));
    assert_false(event_name_is_valid(""));
    assert_false(event_name_is_valid("Upload.completed"));
    assert_false(event_name_is_valid("upload..completed"));
    assert_false(event_name_is_valid(".upload"));
    assert_false(event_name_is_valid("upload."));
    assert_false(event_name_is_valid("upload-completed"));
    assert_false(event_name_is_valid("upload.*"));
    memset(long_name, 'a', EVENT_NAME_MAX);
    long_name[EVENT_NAME_MAX] = '\0';
    assert_true(event_name_is_valid(long_name));
    long_name[EVENT_NAME_MAX] = 'a';
    long_name[EVENT_NAME_MAX + 1] = '\0';
    assert_false(event_name_is_valid(long_name));
}

static void patterns_are_names_or_prefix_wildcards(void **state)
{
    char prefix[EVENT_NAME_MAX + 1];
    (void)state;
    assert_true(event_pattern_is_valid("upload.*"));
    assert_true(event_pattern_is_valid("upload.completed"));
    assert_false(event_pattern_is_valid("*"));
    assert_false(event_pattern_is_valid(".*"));
    assert_false(event_pattern_is_valid("upload*"));
    assert_false(event_pattern_is_valid("upload.*.done"));
    assert_true(event_pattern_prefix("a.b.*", prefix, sizeof prefix));
    assert_string_equal(prefix, "a.b");
    assert_false(event_pattern_prefix("a.b", prefix, sizeof prefix));
}

static void wildcards_match_any_depth_below_their_prefix(void **state)
{
    (void)state;
    assert_true(event_pattern_matches("upload.*", "upload.completed"));
    assert_true(event_pattern_matches("upload.*", "upload.part.done"));
    assert_false(event_pattern_matches("upload.*", "upload"));
    assert_false(event_pattern_matches("upload.*", "uploads.completed"));
    assert_true(event_pattern_matches("upload.completed", "upload.completed"));
    assert_false(event_pattern_matches("upload.completed", "upload.completed.x"));
    assert_false(event_pattern_matches("upload.c", "upload.completed"));
}

static void filters_match_any_entry_and_empty_means_all(void **state)
{
    (void)state;
    assert_true(event_filter_matches("[]", "anything.at_all"));
    assert_true(event_filter_matches("[\"a.b\",\"upload.*\"]", "upload.x"));
    assert_true(event_filter_matches("[\"a.b\",\"upload.*\"]", "a.b"));
    assert_false(event_filter_matches("[\"a.b\",\"upload.*\"]", "a.c"));
    assert_false(event_filter_matches("[\"a.b\"]", "a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_follow_the_grammar),
        cmocka_unit_test(patterns_are_names_or_prefix_wildcards),
        cmocka_unit_test(wildcards_match_any_depth_below_their_prefix),
        cmocka_unit_test(filters_match_any_entry_and_empty_means_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
