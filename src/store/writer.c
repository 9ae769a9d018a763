/* Group commit on a dedicated thread. */
#include "store/writer.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <pthread.h>
#include <stdlib.h>

struct writer {
    struct store *store;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct write_job *head, *tail;
    bool stopping;
    bool stopped; /* the thread has exited: jobs are refused */
    bool joined;
};

int writer_run_batch(struct store *st, struct write_job *jobs)
{
    const struct store_ops *ops = st->ops;
    int64_t start_ns = time_mono_ns();
    struct store_conn *tx = ops->tx_begin(st);
    bool committed = false;
    struct write_job *job, *next;
    int count = 0;

    if (tx != NULL) {
        for (job = jobs; job; job = job->next) {
            count++;
            if (ops->savepoint(tx) != 0) {
                job->result = ERR_FAIL;
                continue;
            }
            job->result = job->apply(tx, job);
            if (job->result == 0)
                ops->savepoint_release(tx);
            else
                ops->savepoint_rollback(tx);
        }
        committed = ops->tx_commit(tx) == 0;
        if (!committed)
            ops->tx_rollback(tx);
    }
    if (!committed)
        log_error("write transaction failed", "jobs", json_integer(count), NULL);
    else if (log_enabled(LOG_DEBUG))
        log_kv(LOG_DEBUG, "write batch", "jobs", json_integer(count), "ms",
               json_real((double)(time_mono_ns() - start_ns) / 1e6), NULL);
    for (job = jobs; job; job = next) {
        next = job->next; /* done() may free the job */
        job->done(job, committed);
    }
    return committed ? 0 : ERR_FAIL;
}

static void *writer_main(void *arg)
{
    struct writer *w = arg;
    pthread_setname_np(pthread_self(), "hookd-writer");
    pthread_mutex_lock(&w->lock);
    for (;;) {
        struct write_job *batch;
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->wake, &w->lock);
        if (w->head == NULL)
            break; /* stopping, and nothing is left */
        batch = w->head;
        w->head = w->tail = NULL;
        pthread_mutex_unlock(&w->lock);
        writer_run_batch(w->store, batch);
        pthread_mutex_lock(&w->lock);
    }
    w->stopped = true; /* under the lock: no job slips in after the last batch */
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

struct writer *writer_start(struct store *st)
{
    struct writer *w = xcalloc(1, sizeof *w);
    w->store = st;
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->wake, NULL);
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
    pthread_cond_signal(&w->wake);
    pthread_mutex_unlock(&w->lock);
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
