/* Ids (§1): prefix + time-sortable random part. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/id.h"

#include <string.h>

static void ids_carry_prefix_and_length(void **state)
{
    char id[ID_MAX];
    (void)state;
    id_new("org_", id);
    assert_int_equal(strlen(id), 4 + ID_BODY_LEN);
    assert_memory_equal(id, "org_", 4);
    assert_true(id_is_valid(id, "org_"));
    assert_false(id_is_valid(id, "key_"));
}

static void ids_sort_by_creation_time(void **state)
{
    char earlier[ID_MAX], later[ID_MAX];
    (void)state;
    for (int i = 0; i < 1000; i++) {
        id_make("evt_", 1700000000000LL + i, earlier);
        id_make("evt_", 1700000000000LL + i + 1, later);
        assert_true(strcmp(earlier, later) < 0);
    }
}

static void ids_encode_their_time(void **state)
{
    char id[ID_MAX];
    (void)state;
    id_make("dlv_", 1777000123456LL, id);
    assert_int_equal(id_time_ms(id, "dlv_"), 1777000123456LL);
    assert_int_equal(id_time_ms("dlv_short", "dlv_"), -1);
}

static void ids_are_unique(void **state)
{
    char a[ID_MAX], b[ID_MAX];
    (void)state;
    id_make("x_", 1, a);
    id_make("x_", 1, b);
    assert_string_not_equal(a, b);
}

static void malformed_ids_are_refused(void **state)
{
    (void)state;
    assert_false(id_is_valid("org_01M869ARDYYK56P62WZCMBXF8", "org_"));   /* short */
    assert_false(id_is_valid("org_01M869ARDYYK56P62WZCMBXF8MM", "org_")); /* long */
    assert_false(id_is_valid("org_01M869ARDYYK56P62WZCMBXF8U", "org_"));  /* U not Crockford */
    assert_false(id_is_valid("org_81M869ARDYYK56P62WZCMBXF8M", "org_"));  /* overflows 48 bits */
    assert_true(id_is_valid("org_01M869ARDYYK56P62WZCMBXF8M", "org_"));
}

static void hex_round_trips_and_refuses_garbage(void **state)
{
    unsigned char bytes[4] = {0x00, 0xab, 0x7f, 0xff}, back[4];
    char text[9];
    (void)state;
    hex_encode(bytes, 4, text);
    assert_string_equal(text, "00ab7fff");
    assert_int_equal(hex_decode(text, back, sizeof back), 4);
    assert_memory_equal(bytes, back, 4);
    assert_int_equal(hex_decode("abc", back, sizeof back), -1);
    assert_int_equal(hex_decode("zz", back, sizeof back), -1);
    assert_int_equal(hex_decode("0011223344", back, sizeof back), -1);
}

static void b64url_has_no_padding_or_unsafe_characters(void **state)
{
    unsigned char bytes[] = {0xfb, 0xff, 0xfe};
    char text[8];
    (void)state;
    b64url_encode(bytes, sizeof bytes, text);
    assert_string_equal(text, "-__-");
    b64url_encode(bytes, 1, text);
    assert_string_equal(text, "-w");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(ids_carry_prefix_and_length),
        cmocka_unit_test(ids_sort_by_creation_time),
        cmocka_unit_test(ids_encode_their_time),
        cmocka_unit_test(ids_are_unique),
        cmocka_unit_test(malformed_ids_are_refused),
        cmocka_unit_test(hex_round_trips_and_refuses_garbage),
        cmocka_unit_test(b64url_has_no_padding_or_unsafe_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
