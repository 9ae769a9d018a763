/* The scheduling rules of a delivery loop (see scheduler.h). */
#include "engine/scheduler.h"

#include "core/mem.h"
#include "core/text.h"

#include <stdlib.h>
#include <string.h>

#define RELOAD_RETRY_MS 1000 /* a job whose endpoint could not be read is tried again after */
void sched_init(struct scheduler *s, const struct sched_limits *limits,
                const struct sched_source *src, int64_t now)
{
    memset(s, 0, sizeof *s);
    s->limits = *limits;
    s->src = *src;
    s->scan_rows = xcalloc((size_t)limits->scan_page, sizeof *s->scan_rows);
    s->store_due = INT64_MAX;
    s->scan_needed = s->scan_held = true; /* take up what the store holds for this node */
    s->shared_due = limits->shared_scan_ms > 0 ? now + limits->shared_scan_ms : INT64_MAX;
}

static void target_clear(struct endpoint_target *t)
{
    free(t->url);
    free(t->header_lines);
    t->url = t->header_lines = NULL;
}

/* A job leaves memory: done, dropped, or left to the store. */
static void forget(struct scheduler *s, struct engine_job *job)
{
    job_index_remove(&s->known, job);
    engine_job_free(job);
}

static void forget_list(struct scheduler *s, struct engine_job *jobs)
{
    while (jobs) {
        struct engine_job *next = jobs->next;
        forget(s, jobs);
        jobs = next;
    }
}

void sched_free(struct scheduler *s)
{
    /* every job the scheduler has taken is in its index (queued, on a timer, in flight or
     * settled): freeing them through it frees each once */
    for (int i = 0; i < JOB_INDEX_SLOTS; i++) {
        while (s->known.slots[i]) {
            struct engine_job *job = s->known.slots[i];
            s->known.slots[i] = job->hash_next;
            engine_job_free(job);
        }
    }
    s->known.count = 0;
    s->settled = NULL;
    timer_heap_free(&s->timers);
    for (int i = 0; i < SCHED_ENDPOINT_SLOTS; i++) {
        while (s->endpoints[i]) {
            struct sched_endpoint *ep = s->endpoints[i];
            s->endpoints[i] = ep->hash_next;
            target_clear(&ep->target);
            free(ep);
        }
    }
    free(s->scan_rows);
    s->scan_rows = NULL;
}

/* --- endpoints and the ready queue --- */

static unsigned endpoint_slot(const char *key)
{
    return text_hash(key) & (SCHED_ENDPOINT_SLOTS - 1);
}

static struct sched_endpoint *endpoint_find(const struct scheduler *s, const char *key)
{
    for (struct sched_endpoint *ep = s->endpoints[endpoint_slot(key)]; ep; ep = ep->hash_next)
        if (strcmp(ep->key, key) == 0)
            return ep;
    return NULL;
}

static void endpoint_unload(struct sched_endpoint *ep)
{
    target_clear(&ep->target);
    ep->loaded = ep->usable = false;
}

/* The endpoint a job goes to, created and loaded on first use. */
static struct sched_endpoint *endpoint_of(struct scheduler *s, const struct engine_job *job)
{
    char key[JOB_QUEUE_KEY_MAX];
    struct sched_endpoint *ep;

    engine_job_queue_key(job, key);
    ep = endpoint_find(s, key);
    if (ep == NULL) {
        unsigned slot = endpoint_slot(key);
        ep = xcalloc(1, sizeof *ep);
        text_copy(ep->key, sizeof ep->key, key);
        text_copy(ep->org_id, sizeof ep->org_id, job->org_id);
        ep->one_shot = job->endpoint_id[0] == '\0';
        ep->hash_next = s->endpoints[slot];
        s->endpoints[slot] = ep;
    }
    if (!ep->loaded && s->src.load(s->src.ctx, ep)) {
        ep->loaded = true;
        if (ep->max_in_flight < 1)
            ep->max_in_flight = 1;
    }
    return ep;
}

static void ready_push(struct scheduler *s, struct sched_endpoint *ep)
{
    if (ep->in_ready || ep->head == NULL || ep->in_flight >= ep->max_in_flight || ep->wake_set)
        return;
    ep->in_ready = true;
    ep->ready_next = NULL;
    if (s->ready_tail)
        s->ready_tail->ready_next = ep;
    else
        s->ready_head = ep;
    s->ready_tail = ep;
}

static struct sched_endpoint *ready_pop(struct scheduler *s)
{
    struct sched_endpoint *ep = s->ready_head;
    if (ep) {
        s->ready_head = ep->ready_next;
        if (s->ready_head == NULL)
            s->ready_tail = NULL;
        ep->in_ready = false;
    }
    return ep;
}

bool sched_has_ready(const struct scheduler *s)
{
    return s->ready_head != NULL;
}

/* --- queueing and admission --- */

static void queue_job(struct scheduler *s, struct engine_job *job, int64_t now)
{
    struct sched_endpoint *ep;
    if (job->due > now) {
        timer_push(&s->timers, job->due, job, NULL);
        return;
    }
    ep = endpoint_of(s, job);
    if (!ep->loaded) { /* the store did not answer: try again shortly */
        job->due = now + RELOAD_RETRY_MS;
        timer_push(&s->timers, job->due, job, NULL);
        return;
    }
    if (!ep->usable) {
        s->src.end_without_attempt(s->src.ctx, job, "endpoint inactive");
        return;
    }
    job->next = NULL;
    if (ep->tail)
        ep->tail->next = job;
    else
        ep->head = job;
    ep->tail = job;
    ready_push(s, ep);
}

void sched_admit(struct scheduler *s, struct engine_job *job, int64_t now)
{
    if (job_index_has(&s->known, job->id)) {
        engine_job_free(job);
        return;
    }
    if (s->known.count >= s->limits.memory_jobs) {
        if (job->due < s->store_due)
            s->store_due = job->due;
        engine_job_free(job);
        return;
    }
    job_index_add(&s->known, job);
    queue_job(s, job, now);
}

static void cursor_reset(struct scheduler *s)
{
    s->scan_after_ms = 0;
    s->scan_after_id[0] = '\0';
    s->pass_started = 0;
}

void sched_rescan(struct scheduler *s)
{
    cursor_reset(s);
    s->scan_needed = s->scan_held = true;
}

void sched_scan_on(struct scheduler *s, int64_t from)
{
    s->scan_needed = true;
    if (from <= s->scan_after_ms) { /* behind the scan: go back there */
        s->scan_after_ms = from;
        s->scan_after_id[0] = '\0';
    }
}

static struct engine_job *job_of_row(const struct due_delivery *r, int64_t now)
{
    struct payload *p = payload_new(r->payload, strlen(r->payload), r->event_type);
    struct engine_job *job =
        engine_job_new(r->id, r->org_id, r->event_id, r->endpoint_id, r->url, p, now);
    payload_release(p);
    job->attempt_count = r->attempt_count;
    job->schedule_start = r->schedule_start;
    return job;
}

/* Reads due work of this loop from the store that memory does not hold, a page at a time. */
static void scan_store(struct scheduler *s, int64_t now)
{
    struct due_delivery *rows = s->scan_rows;
    int room = s->limits.memory_jobs - s->known.count, count = 0;
    char key[JOB_QUEUE_KEY_MAX];
    if (room <= 0)
        return;
    if (room > s->limits.scan_page)
        room = s->limits.scan_page;
    if (s->pass_started == 0)
        s->pass_started = now;
    if (s->src.read_due(s->src.ctx, now, s->scan_after_ms, s->scan_after_id, s->scan_held, rows,
                        room, &count) != 0)
        return; /* scan_needed stays set: try again on the next turn */
    for (int i = 0; i < count; i++) {
        struct due_delivery *r = &rows[i];
        s->scan_after_ms = r->next_attempt_at;
        memcpy(s->scan_after_id, r->id, sizeof s->scan_after_id);
        queue_key_of(r->endpoint_id, r->org_id, key);
        if (s->src.owns(s->src.ctx, key) && !job_index_has(&s->known, r->id))
            sched_admit(s, job_of_row(r, now), now);
        due_delivery_clear(r);
    }
    if (count < room) { /* reached the end: the next look is for new rows only */
        /* what commits later, due earlier, says from when in its wake-up (sched_scan_on) */
        int64_t from = s->pass_started;
        cursor_reset(s);
        s->scan_after_ms = from;
        s->scan_needed = s->scan_held = false;
    }
}

static void fire_timers(struct scheduler *s, int64_t now)
{
    while (timer_next_due(&s->timers) <= now) {
        struct timer t = timer_pop(&s->timers);
        if (t.job) {
            queue_job(s, t.job, now);
        } else {
            t.ep->wake_set = false;
            ready_push(s, t.ep);
        }
    }
}

void sched_turn(struct scheduler *s, int64_t now)
{
    if (s->store_due <= now) {
        s->store_due = INT64_MAX;
        sched_rescan(s);
    }
    if (s->shared_due <= now) { /* all that no live node holds, from the start */
        s->shared_due = now + s->limits.shared_scan_ms;
        if (!s->scan_held)
            cursor_reset(s);
        s->scan_needed = true;
    }
    if (s->scan_needed)
        scan_store(s, now);
    fire_timers(s, now);
}

/* --- starting and finishing --- */

struct engine_job *sched_next(struct scheduler *s, int64_t now_ns, int64_t now_ms,
                              struct sched_endpoint **out)
{
    struct sched_endpoint *ep;
    while ((ep = ready_pop(s)) != NULL) {
        int retry_after;
        if (ep->head == NULL || ep->in_flight >= ep->max_in_flight)
            continue;
        if (ep->has_rate && !token_bucket_take(&ep->bucket, now_ns, &retry_after)) {
            /* come back when a token is there: a fraction of a second at most rates >= 1 */
            double wait_ms = 1000.0 * (1.0 - ep->bucket.tokens) / ep->bucket.rate;
            ep->wake_set = true;
            timer_push(&s->timers, now_ms + (int64_t)wait_ms + 1, NULL, ep);
            continue;
        }
        struct engine_job *job = ep->head;
        ep->head = job->next;
        if (ep->head == NULL)
            ep->tail = NULL;
        job->next = NULL;
        ep->in_flight++;
        s->in_flight++;
        ready_push(s, ep); /* behind the others: endpoints take turns */
        *out = ep;
        return job;
    }
    return NULL;
}

void sched_finished(struct scheduler *s, struct sched_endpoint *ep, struct engine_job *job,
                    enum delivery_status status, int64_t next_attempt_at, int64_t now)
{
    ep->in_flight--;
    s->in_flight--;
    if (status == DLV_PENDING && next_attempt_at - now <= s->limits.horizon_ms) {
        job->due = next_attempt_at;
        timer_push(&s->timers, job->due, job, NULL);
    } else {
        if (status == DLV_PENDING && next_attempt_at < s->store_due)
            s->store_due = next_attempt_at;
        sched_settle(s, job);
    }
    ready_push(s, ep);
}

void sched_settle(struct scheduler *s, struct engine_job *job)
{
    job->next = s->settled;
    s->settled = job;
}

struct engine_job *sched_take_settled(struct scheduler *s)
{
    struct engine_job *list = s->settled;
    s->settled = NULL;
    return list;
}

void sched_recorded(struct scheduler *s, struct engine_job *jobs, bool stored)
{
    forget_list(s, jobs);
    if (!stored) /* their rows stay pending, held by this node: read them again */
        s->store_due = 0;
}

/* --- changes --- */

static void reload(struct scheduler *s, struct sched_endpoint *ep, int64_t now)
{
    struct engine_job *queued = ep->head;
    endpoint_unload(ep);
    ep->head = ep->tail = NULL;
    /* queued jobs go back through the endpoint's fresh settings (it may be inactive now) */
    while (queued) {
        struct engine_job *next = queued->next;
        queue_job(s, queued, now);
        queued = next;
    }
}

void sched_endpoint_changed(struct scheduler *s, const char *key, int64_t now)
{
    struct sched_endpoint *ep = endpoint_find(s, key);
    if (ep)
        reload(s, ep, now);
}

void sched_org_changed(struct scheduler *s, const char *org_id, int64_t now)
{
    for (int i = 0; i < SCHED_ENDPOINT_SLOTS; i++)
        for (struct sched_endpoint *ep = s->endpoints[i]; ep; ep = ep->hash_next)
            if (strcmp(ep->org_id, org_id) == 0)
                reload(s, ep, now);
}

int sched_wait_ms(const struct scheduler *s, int64_t now, bool can_start)
{
    int64_t wait = 1000, timer_due = timer_next_due(&s->timers);
    if (s->scan_needed && s->known.count < s->limits.memory_jobs)
        return 0;
    if (can_start && s->ready_head)
        return 0;
    if (timer_due - now < wait)
        wait = timer_due - now;
    if (s->store_due != INT64_MAX && s->store_due - now < wait)
        wait = s->store_due - now;
    if (s->shared_due != INT64_MAX && s->shared_due - now < wait)
        wait = s->shared_due - now;
    return wait < 0 ? 0 : (int)wait;
}
