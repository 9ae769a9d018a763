/* Retention's pacing thread: one purge batch on the writer at a time, each followed by a rest
 * several times as long as the batch took, so that a backlog of a million rows goes without
 * holding up the requests committed with it. Each batch then gives back some of the space it
 * freed (store_reclaim), paced with it. */
#include "store/retention.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

/* Rows a batch deletes (about): a few milliseconds of the writer. */
#define BATCH_ROWS 250
/* The rest after a batch, in multiples of what it took: the purge uses at most 1/(1+REST) of
 * the writer's time. */
#define REST_FACTOR 4
#define REST_MIN_MS 5
/* After a pass found nothing more to do; a retention shorter than 80 s (a test's, through
 * HOOKD_TEST_RETENTION) rests an eighth of it, so that nothing outlives it by much more. */
#define IDLE_MS 10000

struct retention {
    struct write_job job;
    struct writer *writer;
    int64_t keep_ms, idle_ms;
    char after_org[ID_MAX];
    long purged;
    bool reclaim_more; /* the last batch's reclaim stopped at its bound */
    int64_t took_ns;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool job_done, stopping;
};

static int purge_apply(struct store_conn *tx, struct write_job *job)
{
    struct retention *r = (struct retention *)job;
    int64_t start = time_mono_ns();
    int rc =
        store_history_purge(tx, time_now_ms(), r->keep_ms, BATCH_ROWS, r->after_org, &r->purged);
    if (rc == 0)
        rc = store_reclaim(tx, &r->reclaim_more);
    r->took_ns = time_mono_ns() - start;
    return rc;
}

static void purge_done(struct write_job *job, bool committed)
{
    struct retention *r = (struct retention *)job;
    if (!committed || job->result != 0)
        r->purged = -1; /* the store failed: rest as if idle */
    else if (r->purged > 0)
        log_kv(LOG_DEBUG, "retention purged", "rows", json_integer(r->purged), NULL);
    pthread_mutex_lock(&r->lock);
    r->job_done = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* Waits ms, or less if stopped; the lock held. */
static void rest(struct retention *r, int64_t ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    while (!r->stopping && pthread_cond_timedwait(&r->cond, &r->lock, &until) == 0)
        ;
}

static void *retention_main(void *arg)
{
    struct retention *r = arg;
    pthread_setname_np(pthread_self(), "hookd-retain");
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        bool more;
        int64_t rest_ms;
        r->job_done = false;
        r->job.apply = purge_apply;
        r->job.done = purge_done;
        pthread_mutex_unlock(&r->lock);
        writer_submit(r->writer, &r->job);
        pthread_mutex_lock(&r->lock);
        while (!r->job_done)
            pthread_cond_wait(&r->cond, &r->lock);
        more = r->purged >= BATCH_ROWS ||
               (r->purged >= 0 && (r->after_org[0] != '\0' || r->reclaim_more));
        rest_ms = REST_FACTOR * r->took_ns / 1000000;
        rest(r, more ? (rest_ms > REST_MIN_MS ? rest_ms : REST_MIN_MS) : r->idle_ms);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

struct retention *retention_start(struct writer *w, int64_t keep_ms)
{
    struct retention *r = xcalloc(1, sizeof *r);
    pthread_condattr_t attr;
    r->writer = w;
    r->keep_ms = keep_ms;
    r->idle_ms = keep_ms / 8 < IDLE_MS ? keep_ms / 8 : IDLE_MS;
    if (r->idle_ms < REST_MIN_MS)
        r->idle_ms = REST_MIN_MS;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&r->thread, NULL, retention_main, r) != 0) {
        pthread_cond_destroy(&r->cond);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return NULL;
    }
    return r;
}

void retention_stop(struct retention *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL); /* after the batch under way: the writer still runs */
    pthread_cond_destroy(&r->cond);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
