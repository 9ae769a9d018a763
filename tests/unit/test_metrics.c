/* core/metrics: what each update counts under, and the exposition's shape. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/metrics.h"

#include <stdlib.h>
#include <string.h>

static char *exposition(void)
{
    static const char *const routes[] = {"GET /healthz", "POST /v1/events"};
    struct metrics_gauges g = {.route_names = routes,
                               .route_count = 2,
                               .queue_depth = 7,
                               .oldest_due_seconds = 1.5,
                               .endpoints_disabled = -1,
                               .store_ready = true,
                               .version = "9.9.9"};
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    metrics_write(out, &g);
    fclose(out);
    return text;
}

static void has(const char *text, const char *line)
{
    if (strstr(text, line) == NULL)
        fail_msg("missing \"%s\" in:\n%s", line, text);
}

static void updates_land_in_their_closed_sets(void **state)
{
    char *text;
    (void)state;
    metrics_events_accepted(3);
    metrics_attempt(204, NULL, 0.003);
    metrics_attempt(503, NULL, 0.2);
    metrics_attempt(0, "timeout", 30.5);
    metrics_attempt(0, "something new", 0.01);
    metrics_delivery_state(METRICS_EXHAUSTED);
    metrics_inbound("rejected", "invalid_signature");
    metrics_inbound("rejected", "a reason nobody listed");
    metrics_http(1, 202);
    metrics_http(-1, 404);
    metrics_http(40, 202); /* a route index the names do not cover: not written */
    metrics_http(0, 418);  /* a status not listed */
    text = exposition();
    has(text, "hookd_events_accepted_total 3\n");
    has(text, "{outcome=\"success\",class=\"2xx\"} 1\n");
    has(text, "{outcome=\"failure\",class=\"5xx\"} 1\n");
    has(text, "{outcome=\"failure\",class=\"timeout\"} 1\n");
    has(text, "{outcome=\"failure\",class=\"other\"} 1\n");
    has(text, "hookd_deliveries_total{status=\"exhausted\"} 1\n");
    has(text, "{verdict=\"rejected\",reason=\"invalid_signature\"} 1\n");
    has(text, "{verdict=\"rejected\",reason=\"other\"} 1\n");
    has(text, "{route=\"POST /v1/events\",status=\"202\"} 1\n");
    has(text, "{route=\"unmatched\",status=\"404\"} 1\n");
    has(text, "{route=\"GET /healthz\",status=\"other\"} 1\n");
    has(text, "hookd_queue_depth 7\n");
    has(text, "hookd_queue_lag_seconds 1.500\n");
    has(text, "hookd_store_ready 1\n");
    has(text, "hookd_build_info{version=\"9.9.9\"} 1\n");
    assert_null(strstr(text, "hookd_endpoints_disabled")); /* unknown: left out */
    free(text);
}

static void histograms_are_cumulative_with_a_sum(void **state)
{
    char *text;
    (void)state;
    text = exposition(); /* the three attempts of the test before, and 0.01 */
    has(text, "hookd_delivery_attempt_duration_seconds_bucket{le=\"0.005\"} 1\n");
    has(text, "hookd_delivery_attempt_duration_seconds_bucket{le=\"0.01\"} 2\n");
    has(text, "hookd_delivery_attempt_duration_seconds_bucket{le=\"0.25\"} 3\n");
    has(text, "hookd_delivery_attempt_duration_seconds_bucket{le=\"30\"} 3\n");
    has(text, "hookd_delivery_attempt_duration_seconds_bucket{le=\"+Inf\"} 4\n");
    has(text, "hookd_delivery_attempt_duration_seconds_sum 30.713000\n");
    has(text, "hookd_delivery_attempt_duration_seconds_count 4\n");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(updates_land_in_their_closed_sets),
        cmocka_unit_test(histograms_are_cumulative_with_a_sum),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
