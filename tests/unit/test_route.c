/* Route patterns of the API's routing table. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "http/route.h"

#include <string.h>

static void literal_paths_match_exactly(void **state)
{
    struct route_params p;
    (void)state;
    assert_true(route_match("/v1/orgs", "/v1/orgs", &p));
    assert_int_equal(p.count, 0);
    assert_false(route_match("/v1/orgs", "/v1/orgs/", &p));
    assert_false(route_match("/v1/orgs", "/v1/org", &p));
    assert_false(route_match("/v1/org", "/v1/orgs", &p));
    assert_false(route_match("/v1/orgs", "/v1", &p));
}

static void params_capture_one_segment_each(void **state)
{
    struct route_params p;
    (void)state;
    assert_true(route_match("/v1/orgs/{id}/api-keys", "/v1/orgs/org_1/api-keys", &p));
    assert_int_equal(p.count, 1);
    assert_string_equal(p.value[0], "org_1");
    assert_true(route_match("/a/{x}/b/{y}", "/a/1/b/2", &p));
    assert_int_equal(p.count, 2);
    assert_string_equal(p.value[1], "2");
    assert_false(route_match("/v1/orgs/{id}", "/v1/orgs/", &p));
    assert_false(route_match("/v1/orgs/{id}", "/v1/orgs//x", &p));
    assert_false(route_match("/v1/orgs/{id}", "/v1/orgs/a/b", &p));
}

static void over_long_params_do_not_match(void **state)
{
    struct route_params p;
    char path[ROUTE_PARAM_BYTES + 16] = "/x/";
    (void)state;
    memset(path + 3, 'a', ROUTE_PARAM_BYTES);
    path[3 + ROUTE_PARAM_BYTES] = '\0';
    assert_false(route_match("/x/{id}", path, &p));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_paths_match_exactly),
        cmocka_unit_test(params_capture_one_segment_each),
        cmocka_unit_test(over_long_params_do_not_match),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
