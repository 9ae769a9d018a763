/* Request body validation (§2.1): every failure is a 400 that names the field. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/jsonv.h"

#include <stdlib.h>
#include <string.h>

static const struct jsonv_field fields[] = {
    {"name", JSONV_STRING, true, false, 5, 0},   {"enabled", JSONV_BOOL, false, false, 0, 0},
    {"count", JSONV_INTEGER, false, true, 0, 0}, {"tags", JSONV_STRING_ARRAY, false, false, 3, 2},
    {"meta", JSONV_OBJECT, false, false, 0, 0},  {NULL, 0, false, false, 0, 0},
};

/* Parses text and checks it; returns the error's field ("" when valid). */
static const char *check(const char *text, struct err *e)
{
    json_t *obj = jsonv_parse_object(text, strlen(text), false, e);
    static char field[sizeof e->field];
    assert_non_null(obj);
    int rc = jsonv_check(obj, fields, e);
    json_decref(obj);
    snprintf(field, sizeof field, "%s", rc == 0 ? "" : e->field);
    return field;
}

static void a_valid_body_passes(void **state)
{
    struct err e;
    (void)state;
    assert_string_equal(check("{\"name\":\"abc\",\"enabled\":true,\"count\":null,\"tags\":[\"a\"],"
                              "\"meta\":{}}",
                              &e),
                        "");
}

static void each_failure_names_its_field(void **state)
{
    struct err e;
    (void)state;
    assert_string_equal(check("{}", &e), "name");
    assert_string_equal(e.code, "validation_error");
    assert_string_equal(check("{\"name\":\"abcdef\"}", &e), "name");
    assert_string_equal(check("{\"name\":1}", &e), "name");
    assert_string_equal(check("{\"name\":null}", &e), "name");
    assert_string_equal(check("{\"name\":\"a\",\"enabled\":\"yes\"}", &e), "enabled");
    assert_string_equal(check("{\"name\":\"a\",\"count\":1.5}", &e), "count");
    assert_string_equal(check("{\"name\":\"a\",\"tags\":\"x\"}", &e), "tags");
    assert_string_equal(check("{\"name\":\"a\",\"tags\":[1]}", &e), "tags");
    assert_string_equal(check("{\"name\":\"a\",\"tags\":[\"abcd\"]}", &e), "tags");
    assert_string_equal(check("{\"name\":\"a\",\"tags\":[\"a\",\"b\",\"c\"]}", &e), "tags");
    assert_string_equal(check("{\"name\":\"a\",\"meta\":[]}", &e), "meta");
    assert_string_equal(check("{\"name\":\"a\",\"nick\":\"b\"}", &e), "nick");
    assert_string_equal(e.code, "unknown_field");
    assert_string_equal(check("{\"name\":\"a\\u0000b\"}", &e), "name");
}

static void lengths_count_code_points_not_bytes(void **state)
{
    struct err e;
    (void)state;
    assert_string_equal(check("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &e), "");
    assert_string_equal(
        check("{\"name\":\"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\"}", &e), "name");
    assert_int_equal(utf8_chars("\xf0\x9f\x98\x80x"), 2);
}

static void malformed_bodies_are_invalid_json(void **state)
{
    struct err e;
    const char *bad[] = {"{",           "[]",
                         "\"text\"",    "{\"a\":1,\"a\":2}",
                         "{\"a\":1} x", "{\"n\":123456789012345678901234567890}"};
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_null(jsonv_parse_object(bad[i], strlen(bad[i]), false, &e));
        assert_int_equal(e.status, 400);
        assert_string_equal(e.code, "invalid_json");
    }
    assert_null(jsonv_parse_object("", 0, false, &e));
    json_t *empty = jsonv_parse_object("", 0, true, &e);
    assert_true(json_is_object(empty));
    json_decref(empty);
}

static void nesting_deeper_than_the_limit_is_refused(void **state)
{
    struct err e;
    char deep[2 * (JSONV_MAX_DEPTH + 2) + 8], *p = deep;
    (void)state;
    *p++ = '{';
    memcpy(p, "\"a\":", 4);
    p += 4;
    for (int i = 0; i < JSONV_MAX_DEPTH; i++)
        *p++ = '[';
    for (int i = 0; i < JSONV_MAX_DEPTH; i++)
        *p++ = ']';
    *p++ = '}';
    assert_null(jsonv_parse_object(deep, (size_t)(p - deep), false, &e));
    assert_string_equal(e.code, "invalid_json");
    /* one level less is fine */
    json_t *ok = jsonv_parse_object("{\"a\":[[1]]}", 11, false, &e);
    assert_non_null(ok);
    assert_int_equal(jsonv_depth(ok), 3);
    json_decref(ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_valid_body_passes),
        cmocka_unit_test(each_failure_names_its_field),
        cmocka_unit_test(lengths_count_code_points_not_bytes),
        cmocka_unit_test(malformed_bodies_are_invalid_json),
        cmocka_unit_test(nesting_deeper_than_the_limit_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
