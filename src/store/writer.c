/* Group commit on a dedicated thread. */
#include "store/writer.h"

#include "core/metrics.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* Under load, a small batch waits up to GATHER_NS for more jobs before it commits: a commit
 * writes the same B-tree pages whether it holds 1 job or 30, so committing whatever was waiting
 * (a median of 4 jobs at 20k events/s) wrote ~12 KB per event; gathering (a median of 19) writes
 * ~9 KB and saves ~5 us of CPU per event. "Under load" means the previous batch held
 * GATHER_AFTER_JOBS or more, so a lone client never waits. */
#define GATHER_NS 100000
#define GATHER_AFTER_JOBS 4
#define GATHER_ENOUGH_JOBS 32
/* A PostgreSQL transaction costs the server far more than a SQLite one costs hookd: each
 * statement's start and end, one per table written, ~50 us of its CPU whatever the rows. Nodes
 * sharing a load each commit a part of it, in smaller batches, unless each waits longer. With
 * 3 nodes (make bench-nodes) 0.1 ms gave 0.16 transactions per event and a total below one
 * node's; 2 ms gave 0.08, and above one node's in two runs of three (docs/performance.md). */
#define SHARED_GATHER_NS 2000000

struct writer {
    struct store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct write_job *head, *tail;
    int queued;     /* jobs in the queue */
    bool gathering; /* in gather(): only a full batch wakes it */
    long gather_ns; /* how long a batch under load waits for more */
    bool stopping;
    bool stopped; /* the thread has exited: jobs are refused */
    bool joined;
    atomic_bool failing; /* the last batch did not commit (a full disk, the database away) */
};

int writer_run_batch(struct store *st, struct write_job *jobs)
{
    int64_t start_ns = time_mono_ns();
    struct store_conn *tx = store_tx_begin(st);
    bool committed = false;
    struct write_job *job, *next;
    int count = 0;

    if (tx != NULL) {
        for (job = jobs; job; job = job->next) {
            count++;
            if (store_savepoint(tx) != 0) {
                job->result = ERR_FAIL;
                continue;
            }
            job->result = job->apply(tx, job);
            if (job->result == 0)
                store_savepoint_release(tx);
            else
                store_savepoint_rollback(tx);
        }
        committed = store_tx_commit(tx) == 0;
        if (!committed)
            store_tx_rollback(tx);
    }
    metrics_write_batch(count, (double)(time_mono_ns() - start_ns) / 1e9);
    if (!committed)
        log_error("write transaction failed", "jobs", json_integer(count), NULL);
    else if (log_enabled(LOG_DEBUG))
        log_kv(LOG_DEBUG, "write batch", "jobs", json_integer(count), "ms",
               log_ms((double)(time_mono_ns() - start_ns) / 1e6), NULL);
    for (job = jobs; job; job = next) {
        next = job->next; /* done() may free the job */
        job->done(job, committed);
    }
    return committed ? 0 : ERR_FAIL;
}

/* With the lock held and a job queued: lets the batch grow when the last one was not small. */
static void gather(struct writer *w, int last_batch)
{
    struct timespec until;
    if (last_batch < GATHER_AFTER_JOBS || w->queued >= GATHER_ENOUGH_JOBS || w->stopping)
        return;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += w->gather_ns;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    w->gathering = true;
    while (w->queued < GATHER_ENOUGH_JOBS && !w->stopping &&
           pthread_cond_timedwait(&w->wake, &w->lock, &until) == 0)
        ;
    w->gathering = false;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    int last_batch = 0;
    pthread_setname_np(pthread_self(), "hookd-writer");
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct write_job *batch;
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->head == NULL)
            break; /* stopping, and nothing is left */
        gather(w, last_batch);
        batch = w->head;
        last_batch = w->queued;
        w->head = w->tail = NULL;
        w->queued = 0;
        pthread_mutex_unlock(&w->lock);
        atomic_store(&w->failing, writer_run_batch(w->store, batch) != 0);
        pthread_mutex_lock(&w->lock);
    }
    w->stopped = true; /* under the lock: no job slips in after the last batch */
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct writer *writer_start(struct store *st)
{
    struct writer *w = xcalloc(1, sizeof *w);
    pthread_condattr_t attr;
    w->store = st;
    w->gather_ns = store_is_shared(st) ? SHARED_GATHER_NS : GATHER_NS;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* gather()'s deadline */
    pthread_cond_init(&w->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
        log_error("cannot start the writer thread", "error", NULL, NULL);
        abort();
    }
    return w;
}

void writer_submit(struct writer *w, struct write_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&w->lock);
    if (w->stopped) {
        pthread_mutex_unlock(&w->lock);
        job->result = ERR_FAIL;
        job->done(job, false);
        return;
    }
    if (w->tail)
        w->tail->next = job;
    else
        w->head = job;
    w->tail = job;
    w->queued++;
    if (!w->gathering || w->queued >= GATHER_ENOUGH_JOBS)
        pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
}

bool writer_failing(struct writer *w)
{
    return atomic_load(&w->failing);
}

void writer_stop(struct writer *w)
{
    if (w == NULL || w->joined)
        return;
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
    pthread_join(w->thread, NULL);
    w->joined = true;
}

void writer_free(struct writer *w)
{
    if (w == NULL)
        return;
    pthread_cond_destroy(&w->wake);
    pthread_mutex_destroy(&w->lock);
    free(w);
}
