/* GET /v1/endpoints/{id}/stats?window= (§2.4): how an endpoint's deliveries went over a window
 * (1 h to 30 d, 24 h unless given), in total and as a series of steps for charts. The window
 * ends with the step now is in, so it covers the window and at most one step more. */
#include "api/api.h"

#include "core/mem.h"
#include "core/timeutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MINUTE_MS (60 * 1000LL)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

/* The steps of a window: some tens of points for a chart, whatever its length. */
static int64_t step_of(int64_t window_ms)
{
    if (window_ms <= 6 * HOUR_MS)
        return STATS_BUCKET_MS;
    if (window_ms <= 2 * DAY_MS)
        return HOUR_MS;
    if (window_ms <= 14 * DAY_MS)
        return 6 * HOUR_MS;
    return DAY_MS;
}

static json_t *rate(int64_t part, int64_t whole)
{
    return whole > 0 ? json_real((double)part / (double)whole) : json_null();
}

static json_t *quantile(const int64_t latency[LATENCY_BUCKETS], double q)
{
    double ms = latency_quantile_ms(latency, q);
    return ms < 0 ? json_null() : json_real(round(ms * 10) / 10);
}

/* The fields of one span: its deliveries, their success rate, its attempts and their latency. */
static json_t *counts_json(const struct stats_counts *c)
{
    int64_t ended = c->delivered + c->failed + c->exhausted;
    return json_pack("{s:{s:I,s:I,s:I},s:o,s:{s:I,s:I},s:{s:o,s:o,s:o}}", "deliveries", "delivered",
                     (json_int_t)c->delivered, "failed", (json_int_t)c->failed, "exhausted",
                     (json_int_t)c->exhausted, "success_rate", rate(c->delivered, ended),
                     "attempts", "total", (json_int_t)c->attempts, "failed",
                     (json_int_t)c->attempts_failed, "latency_ms", "p50",
                     quantile(c->latency, 0.50), "p95", quantile(c->latency, 0.95), "p99",
                     quantile(c->latency, 0.99));
}

static void add_counts(struct stats_counts *total, const struct stats_counts *c)
{
    total->delivered += c->delivered;
    total->failed += c->failed;
    total->exhausted += c->exhausted;
    total->attempts += c->attempts;
    total->attempts_failed += c->attempts_failed;
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        total->latency[i] += c->latency[i];
}

static json_t *stats_json(const struct endpoint *ep, const char *window, int64_t since,
                          int64_t step_ms, const struct stats_counts *steps, int step_count)
{
    struct stats_counts total = {0};
    json_t *series = json_array();
    for (int i = 0; i < step_count; i++) {
        json_t *point = counts_json(&steps[i]);
        json_object_set_new(point, "start", api_time(since + i * step_ms));
        json_array_append_new(series, point);
        add_counts(&total, &steps[i]);
    }
    json_t *body = counts_json(&total);
    json_object_set_new(body, "endpoint_id", json_string(ep->id));
    json_object_set_new(body, "window", json_string(window));
    json_object_set_new(body, "since", api_time(since));
    json_object_set_new(body, "until", api_time(since + step_count * step_ms));
    json_object_set_new(body, "step_seconds", json_integer(step_ms / 1000));
    json_object_set_new(body, "series", series);
    return body;
}

void endpoints_stats(struct api_call *call)
{
    const char *window = http_query(call->http, "window");
    int64_t window_ms = 0;
    struct endpoint *ep;
    struct err e;

    if (window == NULL)
        window = "24h";
    if (!time_parse_duration(window, &window_ms) || window_ms < HOUR_MS ||
        window_ms > 30 * DAY_MS) {
        err_invalid(&e, "window", "window must be a duration from 1h to 30d (e.g. 24h or 7d)");
        api_fail(call, &e);
        return;
    }
    if ((ep = endpoints_load(call)) == NULL)
        return;
    int64_t step_ms = step_of(window_ms);
    int step_count = (int)((window_ms + step_ms - 1) / step_ms);
    int64_t until = time_now_ms() / step_ms * step_ms + step_ms;
    int64_t since = until - step_count * step_ms;
    struct stats_counts *steps = xcalloc((size_t)step_count, sizeof *steps);
    int rc = store_endpoint_stats(call->conn, ep->id, since, step_ms, steps, step_count);
    if (rc != 0)
        api_fail_store(call, rc, "endpoint stats");
    else
        api_reply(call, 200, stats_json(ep, window, since, step_ms, steps, step_count));
    free(steps);
}
