/* The process's counters and histograms, and their Prometheus text exposition (GET /metrics,
 * §2.8). Every label takes its values from a closed set (route patterns, status codes, error
 * classes, verdicts), never from ids, so the number of series is bounded. Updates are relaxed
 * atomics, safe and cheap from any thread. */
#ifndef HOOKD_CORE_METRICS_H
#define HOOKD_CORE_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* How many routes metrics_http can tell apart (the routing table's indexes). */
#define METRICS_ROUTES 64

/* A delivery's state after an attempt, as store.h's delivery_status numbers it. */
enum metrics_settled { METRICS_PENDING, METRICS_DELIVERED, METRICS_FAILED, METRICS_EXHAUSTED };

void metrics_events_accepted(unsigned count);
/* An attempt's end: error_class NULL for an HTTP answer (its status), else the transfer's
 * error class (transfer_error_class). */
void metrics_attempt(int http_status, const char *error_class, double seconds);
void metrics_delivery_state(enum metrics_settled state);
/* An inbound message recorded: verdict "accepted", "duplicate" or "rejected", with the
 * refusal's error code ("" when accepted). */
void metrics_inbound(const char *verdict, const char *reason);
/* An answered request: route is its index in the routing table, -1 when none matched. */
void metrics_http(int route, int status);
void metrics_write_batch(int jobs, double seconds);

/* What the exposition reads from elsewhere when it is asked for. A negative count or age is
 * left out (the store could not say). */
struct metrics_gauges {
    const char *const *route_names; /* route index -> "GET /v1/events" */
    int route_count;
    long queue_depth;          /* deliveries pending */
    double oldest_due_seconds; /* how long the oldest due pending delivery has waited */
    long endpoints_disabled;
    bool store_ready;
    const char *version;
};

/* Writes every family in the Prometheus text format (version 0.0.4). */
void metrics_write(FILE *out, const struct metrics_gauges *g);

#endif
