/* The writer: one thread that owns the write connection and commits every queued job in one
 * transaction (group commit: whatever is waiting when it becomes free; under load a small batch
 * may wait up to 100 us for more). Each job runs in its own savepoint, so one job's failure
 * never fails the rest of its batch. */
#ifndef HOOKD_STORE_WRITER_H
#define HOOKD_STORE_WRITER_H

#include "store/store.h"

#include <stdbool.h>

struct write_job {
    /* Runs on the writer inside the batch's transaction. A non-zero return rolls back this
     * job's writes only (the savepoint); the value is kept in `result`. */
    int (*apply)(struct store_conn *tx, struct write_job *job);
    /* Called once on the writer after the batch: committed tells whether the transaction
     * (and so this job's writes, if result was 0) is durable. Must not block. May free job. */
    void (*done)(struct write_job *job, bool committed);
    int result;
    struct write_job *next; /* the writer's queue link */
};

struct writer;

/* Starts the writer thread for st. */
struct writer *writer_start(struct store *st);

/* Queues a job; thread-safe. Once the writer has stopped, the job is done() at once,
 * uncommitted, on the caller's thread. */
void writer_submit(struct writer *w, struct write_job *job);

/* Did the last batch fail to commit? Until one commits again, readiness says no (§2.8). */
bool writer_failing(struct writer *w);

/* Commits what is queued and stops the thread; later jobs are refused. NULL is a no-op. */
void writer_stop(struct writer *w);
/* Frees a stopped writer; NULL is a no-op. */
void writer_free(struct writer *w);

/* Runs one batch (a NULL-terminated list through ->next) synchronously on the calling thread:
 * what the writer does for each batch, also used by the CLI. Returns 0 if it committed. */
int writer_run_batch(struct store *st, struct write_job *jobs);

#endif
