/* A min-heap of timers on due time: a job whose retry falls due, or an endpoint whose rate
 * limit lets it send again. Not thread-safe; each delivery loop has its own. */
#ifndef HOOKD_ENGINE_TIMERS_H
#define HOOKD_ENGINE_TIMERS_H

#include <stdint.h>

struct engine_job;
struct sched_endpoint;

struct timer {
    int64_t due;               /* ms */
    struct engine_job *job;    /* a job to queue, or */
    struct sched_endpoint *ep; /* an endpoint to make ready */
};

struct timer_heap {
    struct timer *items;
    int count, cap;
};

void timer_push(struct timer_heap *h, int64_t due, struct engine_job *job,
                struct sched_endpoint *ep);
/* The earliest timer; the heap must not be empty. */
struct timer timer_pop(struct timer_heap *h);
/* The earliest due time, or INT64_MAX when empty. */
int64_t timer_next_due(const struct timer_heap *h);
/* Frees the heap's array (not the jobs it points to). */
void timer_heap_free(struct timer_heap *h);

#endif
