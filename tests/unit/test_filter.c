/* Payload filters (issue 17): each operator against an envelope, missing paths and type
 * mismatches, and the validator's messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/filter.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char envelope_text[] =
    "{\"id\":\"evt_1\",\"type\":\"invoice.paid\",\"timestamp\":\"2026-12-04T19:00:00.000Z\","
    "\"data\":{\"amount\":12900,\"ratio\":0.5,\"currency\":\"EUR\",\"paid\":true,\"note\":null,"
    "\"tags\":[\"a\",\"b\"],\"customer\":{\"country\":\"DE\",\"id\":\"cus_1\"}}}";

/* Does the filter text match the envelope above? It must compile. */
static bool matches(const char *spec_text)
{
    json_error_t jerr;
    json_t *spec = json_loads(spec_text, 0, &jerr), *envelope = json_loads(envelope_text, 0, NULL);
    struct err e = {0};
    struct filter *f;
    bool is_match;
    if (spec == NULL)
        fail_msg("bad test filter %s: %s", spec_text, jerr.text);
    f = filter_compile(spec, &e);
    if (f == NULL)
        fail_msg("%s did not compile: %s", spec_text, e.message);
    is_match = filter_matches(f, envelope);
    filter_free(f);
    json_decref(spec);
    json_decref(envelope);
    return is_match;
}

/* The validator's message for a filter that must not compile (and its field must be filter). */
static const char *fault(const char *spec_text)
{
    static struct err e;
    json_t *spec = json_loads(spec_text, JSON_DECODE_ANY, NULL);
    struct filter *f;
    memset(&e, 0, sizeof e);
    assert_non_null(spec);
    f = filter_compile(spec, &e);
    json_decref(spec);
    if (f != NULL) {
        filter_free(f);
        fail_msg("%s compiled", spec_text);
    }
    assert_int_equal(e.status, 400);
    assert_string_equal(e.code, "validation_error");
    assert_string_equal(e.field, "filter");
    return e.message;
}

static void equality_by_bare_value_and_eq(void **state)
{
    (void)state;
    assert_true(matches("{\"data.currency\": \"EUR\"}"));
    assert_false(matches("{\"data.currency\": \"USD\"}"));
    assert_true(matches("{\"data.currency\": {\"$eq\": \"EUR\"}}"));
    assert_false(matches("{\"data.currency\": {\"$eq\": \"eur\"}}"));
    assert_true(matches("{\"type\": \"invoice.paid\"}"));
    assert_true(matches("{\"data.customer.country\": \"DE\"}"));
    assert_true(matches("{\"data.paid\": true}"));
    assert_false(matches("{\"data.paid\": false}"));
    assert_true(matches("{\"data.note\": null}"));
    assert_true(matches("{\"data.tags\": [\"a\", \"b\"]}"));
    assert_false(matches("{\"data.tags\": \"a\"}")); /* no match inside arrays */
    assert_true(matches("{\"data.customer\": {\"id\": \"cus_1\", \"country\": \"DE\"}}"));
    assert_false(matches("{\"data.customer\": {\"id\": \"cus_1\"}}"));
}

static void integers_and_reals_are_the_same_numbers(void **state)
{
    (void)state;
    assert_true(matches("{\"data.amount\": 12900.0}"));
    assert_true(matches("{\"data.ratio\": {\"$eq\": 0.5}}"));
    assert_false(matches("{\"data.amount\": \"12900\"}"));
    assert_true(matches("{\"data.amount\": {\"$in\": [1, 12900.0]}}"));
}

static void ne_is_the_negation_and_matches_a_missing_path(void **state)
{
    (void)state;
    assert_true(matches("{\"data.currency\": {\"$ne\": \"USD\"}}"));
    assert_false(matches("{\"data.currency\": {\"$ne\": \"EUR\"}}"));
    assert_true(matches("{\"data.nothing\": {\"$ne\": \"EUR\"}}"));
}

static void comparisons_on_numbers(void **state)
{
    (void)state;
    assert_true(matches("{\"data.amount\": {\"$gt\": 100}}"));
    assert_false(matches("{\"data.amount\": {\"$gt\": 12900}}"));
    assert_true(matches("{\"data.amount\": {\"$gte\": 12900}}"));
    assert_false(matches("{\"data.amount\": {\"$gte\": 12900.5}}"));
    assert_true(matches("{\"data.amount\": {\"$lt\": 12901}}"));
    assert_false(matches("{\"data.amount\": {\"$lt\": 12900}}"));
    assert_true(matches("{\"data.amount\": {\"$lte\": 12900}}"));
    assert_false(matches("{\"data.amount\": {\"$lte\": -1}}"));
    assert_true(matches("{\"data.ratio\": {\"$gt\": 0.25, \"$lt\": 0.75}}"));
    assert_false(matches("{\"data.ratio\": {\"$gt\": 0.25, \"$lt\": 0.4}}"));
}

static void comparisons_on_strings_are_bytewise(void **state)
{
    (void)state;
    assert_true(matches("{\"data.currency\": {\"$gt\": \"EU\"}}"));
    assert_true(matches("{\"data.currency\": {\"$lt\": \"EUS\"}}"));
    assert_false(matches("{\"data.currency\": {\"$gt\": \"EUR\"}}"));
    assert_true(matches("{\"data.currency\": {\"$gte\": \"EUR\", \"$lte\": \"EUR\"}}"));
    assert_false(matches("{\"data.currency\": {\"$gt\": \"e\"}}")); /* 'E' < 'e' */
    assert_true(matches("{\"timestamp\": {\"$gte\": \"2026-12-01T00:00:00Z\"}}"));
}

static void comparisons_across_types_do_not_match(void **state)
{
    (void)state;
    assert_false(matches("{\"data.amount\": {\"$gt\": \"100\"}}"));
    assert_false(matches("{\"data.amount\": {\"$lt\": \"100\"}}"));
    assert_false(matches("{\"data.currency\": {\"$gt\": 1}}"));
    assert_false(matches("{\"data.paid\": {\"$gte\": 0}}"));
    assert_false(matches("{\"data.customer\": {\"$lte\": \"z\"}}"));
}

static void in_and_nin(void **state)
{
    (void)state;
    assert_true(matches("{\"data.currency\": {\"$in\": [\"EUR\", \"USD\"]}}"));
    assert_false(matches("{\"data.currency\": {\"$in\": [\"GBP\", \"USD\"]}}"));
    assert_false(matches("{\"data.currency\": {\"$in\": []}}"));
    assert_false(matches("{\"data.nothing\": {\"$in\": [\"EUR\", null]}}"));
    assert_true(matches("{\"data.currency\": {\"$nin\": [\"GBP\", \"USD\"]}}"));
    assert_false(matches("{\"data.currency\": {\"$nin\": [\"EUR\"]}}"));
    assert_true(matches("{\"data.nothing\": {\"$nin\": [\"EUR\"]}}"));
}

static void exists_tests_presence_not_value(void **state)
{
    (void)state;
    assert_true(matches("{\"data.note\": {\"$exists\": true}}")); /* null is present */
    assert_true(matches("{\"data.customer.id\": {\"$exists\": true}}"));
    assert_false(matches("{\"data.customer.email\": {\"$exists\": true}}"));
    assert_true(matches("{\"data.customer.email\": {\"$exists\": false}}"));
    assert_false(matches("{\"data.amount\": {\"$exists\": false}}"));
}

static void missing_paths_match_only_negations(void **state)
{
    (void)state;
    assert_false(matches("{\"data.nothing\": null}"));
    assert_false(matches("{\"data.nothing\": {\"$gt\": 0}}"));
    assert_false(matches("{\"data.nothing\": {\"$lte\": 0}}"));
    /* through a value that is not an object */
    assert_false(matches("{\"data.amount.cents\": {\"$exists\": true}}"));
    assert_false(matches("{\"data.tags.0\": \"a\"}"));
    assert_true(matches("{\"data.currency.code\": {\"$exists\": false}}"));
}

static void several_keys_are_and(void **state)
{
    (void)state;
    assert_true(matches("{\"data.amount\": {\"$gte\": 100}, \"data.currency\": {\"$in\": [\"EUR\", "
                        "\"USD\"]}}"));
    assert_false(matches("{\"data.amount\": {\"$gte\": 100}, \"data.currency\": \"USD\"}"));
    assert_false(matches("{\"data.amount\": {\"$gte\": 100000}, \"data.currency\": \"EUR\"}"));
}

static void and_or_combine_filters(void **state)
{
    (void)state;
    assert_true(matches("{\"$or\": [{\"data.currency\": \"USD\"}, {\"data.amount\": 12900}]}"));
    assert_false(matches("{\"$or\": [{\"data.currency\": \"USD\"}, {\"data.amount\": 1}]}"));
    assert_true(matches("{\"$and\": [{\"data.currency\": \"EUR\"}, {\"data.amount\": 12900}]}"));
    assert_false(matches("{\"$and\": [{\"data.currency\": \"EUR\"}, {\"data.amount\": 1}]}"));
    assert_true(matches("{\"$or\": [{\"$and\": [{\"data.paid\": true}, {\"data.customer.country\": "
                        "{\"$in\": [\"DE\", \"FR\"]}}]}, {\"data.amount\": {\"$gt\": 1000000}}]}"));
    assert_false(matches("{\"type\": \"invoice.paid\", \"$or\": [{\"data.currency\": \"USD\"}, "
                         "{\"data.currency\": \"GBP\"}]}"));
}

static void faults_name_the_path_and_operator(void **state)
{
    (void)state;
    assert_string_equal(fault("{\"data.amount\": {\"$gte\": true}}"),
                        "data.amount: $gte takes a number or a string");
    assert_string_equal(fault("{\"data.amount\": {\"$lt\": [1]}}"),
                        "data.amount: $lt takes a number or a string");
    assert_string_equal(fault("{\"data.currency\": {\"$in\": \"EUR\"}}"),
                        "data.currency: $in takes an array");
    assert_string_equal(fault("{\"data.currency\": {\"$nin\": {}}}"),
                        "data.currency: $nin takes an array");
    assert_string_equal(fault("{\"data.x\": {\"$exists\": 1}}"),
                        "data.x: $exists takes true or false");
    assert_string_equal(fault("{\"data.x\": {\"$regex\": \"a.*\"}}"),
                        "data.x: unknown operator $regex");
    assert_string_equal(fault("{\"data.x\": {\"$eq\": 1, \"y\": 2}}"),
                        "data.x: an object of operators holds operators only");
    assert_string_equal(fault("{\"$not\": {\"data.x\": 1}}"),
                        "unknown operator $not where a path or $and / $or is expected");
}

static void faults_in_paths(void **state)
{
    (void)state;
    assert_string_equal(fault("{\"amount\": 1}"),
                        "amount: a path starts with id, type, timestamp or data");
    assert_string_equal(fault("{\"datax.y\": 1}"),
                        "datax.y: a path starts with id, type, timestamp or data");
    assert_string_equal(fault("{\"data..amount\": 1}"),
                        "data..amount: a path has no empty segment");
    assert_string_equal(fault("{\"data.\": 1}"), "data.: a path has no empty segment");
    assert_string_equal(fault("{\"\": 1}"), "a path is empty");
}

static void faults_in_shape_and_limits(void **state)
{
    char big[FILTER_MAX_BYTES + 100], *p = big;
    (void)state;
    assert_string_equal(fault("[1]"), "filter must be an object or null");
    assert_string_equal(fault("{}"), "an empty filter matches everything; use null for no filter");
    assert_string_equal(fault("{\"$and\": []}"), "$and takes a non-empty array of filters");
    assert_string_equal(fault("{\"$or\": {\"data.x\": 1}}"),
                        "$or takes a non-empty array of filters");
    assert_string_equal(fault("{\"$or\": [1]}"), "$or takes an array of filters (objects)");
    assert_string_equal(fault("{\"$or\": [{}]}"),
                        "an empty filter matches everything; use null for no filter");
    /* nested faults are found */
    assert_string_equal(fault("{\"$or\": [{\"data.x\": 1}, {\"$and\": [{\"data.y\": {\"$gt\": "
                              "null}}]}]}"),
                        "data.y: $gt takes a number or a string");

    /* 4 KiB serialized */
    p += snprintf(p, sizeof big, "{\"data.x\": \"");
    memset(p, 'a', FILTER_MAX_BYTES);
    snprintf(p + FILTER_MAX_BYTES, 10, "\"}");
    assert_string_equal(fault(big), "filter is larger than 4096 bytes serialized");

    /* 100 items in $in */
    p = big;
    p += snprintf(p, sizeof big, "{\"data.x\": {\"$in\": [0");
    for (int i = 1; i <= FILTER_MAX_ITEMS; i++)
        p += snprintf(p, sizeof big - (size_t)(p - big), ",%d", i);
    snprintf(p, sizeof big - (size_t)(p - big), "]}}");
    assert_string_equal(fault(big), "data.x: $in takes at most 100 items");
}

/* Builds $or nested n filters deep: {"$or":[{"$or":[ ... {"data.x":1} ... ]}]}. */
static char *nested(int n)
{
    size_t size = (size_t)n * 20 + 32, used = 0;
    char *text = malloc(size);
    assert_non_null(text);
    for (int i = 1; i < n; i++)
        used += (size_t)snprintf(text + used, size - used, "{\"$or\":[");
    used += (size_t)snprintf(text + used, size - used, "{\"data.x\":1}");
    for (int i = 1; i < n; i++)
        used += (size_t)snprintf(text + used, size - used, "]}");
    return text;
}

static void depth_is_limited_to_eight_filters(void **state)
{
    char *ok = nested(FILTER_MAX_DEPTH), *deep = nested(FILTER_MAX_DEPTH + 1);
    (void)state;
    assert_false(matches(ok)); /* data.x is not in the envelope, but it compiles */
    assert_string_equal(fault(deep), "filters nest deeper than 8 levels");
    free(ok);
    free(deep);
}

static void stored_text_compiles(void **state)
{
    json_t *envelope = json_loads(envelope_text, 0, NULL);
    struct filter *f = filter_compile_text("{\"data.amount\":{\"$gte\":100}}");
    (void)state;
    assert_non_null(f);
    assert_true(filter_matches(f, envelope));
    filter_free(f);
    assert_null(filter_compile_text("{\"data.amount\":{\"$gte\":true}}"));
    assert_null(filter_compile_text("not json"));
    filter_free(NULL);
    json_decref(envelope);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(equality_by_bare_value_and_eq),
        cmocka_unit_test(integers_and_reals_are_the_same_numbers),
        cmocka_unit_test(ne_is_the_negation_and_matches_a_missing_path),
        cmocka_unit_test(comparisons_on_numbers),
        cmocka_unit_test(comparisons_on_strings_are_bytewise),
        cmocka_unit_test(comparisons_across_types_do_not_match),
        cmocka_unit_test(in_and_nin),
        cmocka_unit_test(exists_tests_presence_not_value),
        cmocka_unit_test(missing_paths_match_only_negations),
        cmocka_unit_test(several_keys_are_and),
        cmocka_unit_test(and_or_combine_filters),
        cmocka_unit_test(faults_name_the_path_and_operator),
        cmocka_unit_test(faults_in_paths),
        cmocka_unit_test(faults_in_shape_and_limits),
        cmocka_unit_test(depth_is_limited_to_eight_filters),
        cmocka_unit_test(stored_text_compiles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
