/* Counters and histograms as relaxed atomics, and their Prometheus text exposition. */
#include "core/metrics.h"

#include <stdatomic.h>
#include <string.h>

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_BUCKETS 16

/* A histogram of fixed bounds; the sum is kept in millionths, an integer to add atomically. */
struct histogram {
    const double *bounds;
    int bound_count;
    atomic_ulong buckets[MAX_BUCKETS]; /* observations <= bounds[i] (not yet cumulative) */
    atomic_ulong over;                 /* above the last bound */
    atomic_ulong sum_millionths;
};

static const double seconds_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                        0.5,   1,    2.5,   5,    10,  30};
static const double jobs_bounds[] = {1, 2, 5, 10, 20, 50, 100, 200, 500, 1000};

/* attempts: the class of the result, and whether it counts as a success */
static const char *const attempt_classes[] = {
    "2xx", "3xx",        "4xx",      "5xx",     "timeout",         "dns",  "connect",
    "tls", "connection", "protocol", "network", "blocked_address", "other"};
static const char *const settled_names[] = {"pending", "delivered", "failed", "exhausted"};
static const char *const verdicts[] = {"accepted", "duplicate", "rejected"};
/* refusal codes of inbound messages (api/inbound.c); anything else is "other" */
static const char *const inbound_reasons[] = {"",
                                              "missing_signature",
                                              "invalid_signature",
                                              "stale_timestamp",
                                              "rate_limited",
                                              "payload_too_large",
                                              "unsupported_media_type",
                                              "invalid_json",
                                              "other"};
/* status codes hookd answers with (README's error list); anything else is "other" */
static const int http_codes[] = {200, 201, 202, 204, 400, 401, 403, 404, 405,
                                 409, 413, 415, 429, 431, 500, 503, 0};

static atomic_ulong events_accepted;
static atomic_ulong attempts[COUNT_OF(attempt_classes)];
static atomic_ulong settled[COUNT_OF(settled_names)];
static atomic_ulong inbound[COUNT_OF(verdicts)][COUNT_OF(inbound_reasons)];
static atomic_ulong http[METRICS_ROUTES + 1][COUNT_OF(http_codes)];
static struct histogram attempt_seconds = {.bounds = seconds_bounds,
                                           .bound_count = COUNT_OF(seconds_bounds)};
static struct histogram batch_jobs = {.bounds = jobs_bounds, .bound_count = COUNT_OF(jobs_bounds)};
static struct histogram commit_seconds = {.bounds = seconds_bounds,
                                          .bound_count = COUNT_OF(seconds_bounds)};

static void add(atomic_ulong *counter, unsigned long n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

static unsigned long get(atomic_ulong *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static void observe(struct histogram *h, double value)
{
    int i = 0;
    while (i < h->bound_count && value > h->bounds[i])
        i++;
    add(i < h->bound_count ? &h->buckets[i] : &h->over, 1);
    add(&h->sum_millionths, value > 0 ? (unsigned long)(value * 1e6 + 0.5) : 0);
}

/* Index of name in names, or of the last entry ("other"). */
static size_t index_of(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i + 1 < count; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return count - 1;
}

void metrics_events_accepted(unsigned count)
{
    add(&events_accepted, count);
}

void metrics_attempt(int http_status, const char *error_class, double seconds)
{
    size_t i;
    if (error_class != NULL)
        i = index_of(attempt_classes, COUNT_OF(attempt_classes), error_class);
    else if (http_status >= 200 && http_status < 600)
        i = (size_t)(http_status / 100 - 2);
    else
        i = COUNT_OF(attempt_classes) - 1;
    add(&attempts[i], 1);
    observe(&attempt_seconds, seconds);
}

void metrics_delivery_state(enum metrics_settled state)
{
    if ((size_t)state < COUNT_OF(settled))
        add(&settled[state], 1);
}

void metrics_inbound(const char *verdict, const char *reason)
{
    size_t v = 0;
    while (v + 1 < COUNT_OF(verdicts) && strcmp(verdicts[v], verdict) != 0)
        v++;
    add(&inbound[v][index_of(inbound_reasons, COUNT_OF(inbound_reasons), reason)], 1);
}

void metrics_http(int route, int status)
{
    size_t code = 0;
    while (http_codes[code] != 0 && http_codes[code] != status)
        code++;
    add(&http[route >= 0 && route < METRICS_ROUTES ? route : METRICS_ROUTES][code], 1);
}

void metrics_write_batch(int jobs, double seconds)
{
    observe(&batch_jobs, jobs);
    observe(&commit_seconds, seconds);
}

/* --- exposition --- */

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void write_histogram(FILE *out, const char *name, const char *help, struct histogram *h)
{
    unsigned long cumulative = 0;
    family(out, name, "histogram", help);
    for (int i = 0; i < h->bound_count; i++) {
        cumulative += get(&h->buckets[i]);
        fprintf(out, "%s_bucket{le=\"%g\"} %lu\n", name, h->bounds[i], cumulative);
    }
    cumulative += get(&h->over);
    fprintf(out, "%s_bucket{le=\"+Inf\"} %lu\n", name, cumulative);
    fprintf(out, "%s_sum %.6f\n%s_count %lu\n", name, (double)get(&h->sum_millionths) / 1e6, name,
            cumulative);
}

static void write_http(FILE *out, const struct metrics_gauges *g)
{
    family(out, "hookd_http_requests_total", "counter",
           "API, ingest and operations requests answered, by route and status");
    for (int r = 0; r <= METRICS_ROUTES; r++) {
        const char *route = r < g->route_count ? g->route_names[r] : "unmatched";
        if (r < METRICS_ROUTES && r >= g->route_count)
            continue;
        for (size_t c = 0; c < COUNT_OF(http_codes); c++) {
            unsigned long n = get(&http[r][c]);
            if (n == 0)
                continue;
            if (http_codes[c] != 0)
                fprintf(out, "hookd_http_requests_total{route=\"%s\",status=\"%d\"} %lu\n", route,
                        http_codes[c], n);
            else
                fprintf(out, "hookd_http_requests_total{route=\"%s\",status=\"other\"} %lu\n",
                        route, n);
        }
    }
}

static void write_inbound(FILE *out)
{
    family(out, "hookd_inbound_messages_total", "counter",
           "messages received on sources, by verdict and the refusal's code");
    for (size_t v = 0; v < COUNT_OF(verdicts); v++)
        for (size_t r = 0; r < COUNT_OF(inbound_reasons); r++) {
            unsigned long n = get(&inbound[v][r]);
            if (n > 0 || (r == 0 && v != 2))
                fprintf(out, "hookd_inbound_messages_total{verdict=\"%s\",reason=\"%s\"} %lu\n",
                        verdicts[v], inbound_reasons[r], n);
        }
}

void metrics_write(FILE *out, const struct metrics_gauges *g)
{
    family(out, "hookd_build_info", "gauge", "the running version");
    fprintf(out, "hookd_build_info{version=\"%s\"} 1\n", g->version);
    family(out, "hookd_events_accepted_total", "counter", "events stored for fan-out");
    fprintf(out, "hookd_events_accepted_total %lu\n", get(&events_accepted));
    family(out, "hookd_delivery_attempts_total", "counter",
           "delivery attempts by result: an HTTP status class or a transport error class");
    for (size_t i = 0; i < COUNT_OF(attempt_classes); i++)
        fprintf(out, "hookd_delivery_attempts_total{outcome=\"%s\",class=\"%s\"} %lu\n",
                i == 0 ? "success" : "failure", attempt_classes[i], get(&attempts[i]));
    family(out, "hookd_deliveries_total", "counter",
           "deliveries by the state an attempt left them in (pending: a retry is scheduled)");
    for (size_t i = 0; i < COUNT_OF(settled_names); i++)
        fprintf(out, "hookd_deliveries_total{status=\"%s\"} %lu\n", settled_names[i],
                get(&settled[i]));
    write_histogram(out, "hookd_delivery_attempt_duration_seconds",
                    "time from sending an attempt to its end", &attempt_seconds);
    write_inbound(out);
    write_http(out, g);
    write_histogram(out, "hookd_write_batch_jobs", "requests and outcomes committed together",
                    &batch_jobs);
    write_histogram(out, "hookd_write_commit_seconds", "time to run and commit a write batch",
                    &commit_seconds);
    if (g->queue_depth >= 0) {
        family(out, "hookd_queue_depth", "gauge", "deliveries pending, due now or later");
        fprintf(out, "hookd_queue_depth %ld\n", g->queue_depth);
    }
    if (g->oldest_due_seconds >= 0) {
        family(out, "hookd_queue_lag_seconds", "gauge",
               "how long the oldest due pending delivery has waited (0: none waits)");
        fprintf(out, "hookd_queue_lag_seconds %.3f\n", g->oldest_due_seconds);
    }
    if (g->endpoints_disabled >= 0) {
        family(out, "hookd_endpoints_disabled", "gauge", "endpoints not active");
        fprintf(out, "hookd_endpoints_disabled %ld\n", g->endpoints_disabled);
    }
    family(out, "hookd_store_ready", "gauge", "1 when the store answers and commits");
    fprintf(out, "hookd_store_ready %d\n", g->store_ready ? 1 : 0);
}
