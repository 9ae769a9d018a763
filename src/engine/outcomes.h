/* Outcomes of attempts, gathered by a delivery loop and handed to the writer in one batch per
 * turn (one transaction for many attempts). Not thread-safe: one batcher per loop. */
#ifndef HOOKD_ENGINE_OUTCOMES_H
#define HOOKD_ENGINE_OUTCOMES_H

#include "engine/engine.h"
#include "engine/job.h"
#include "store/store.h"
#include "store/writer.h"

/* Told on the writer's thread once a batch is committed (or not). */
struct outcome_sink {
    void *ctx;
    /* An outcome of the batch disabled its endpoint (committed batches only). */
    void (*disabled)(void *ctx, const char *endpoint_id);
    /* The jobs settled with the batch may leave memory (committed or not, as stored says: when
     * not, their rows stay pending in the store). */
    void (*recorded)(void *ctx, struct engine_job *jobs, bool stored);
};

struct outcome_batcher {
    struct writer *writer;
    struct outcome_sink sink;
    struct engine *eng;  /* takes the batches' operational notices */
    const char *node_id; /* that claims them */
    struct attempt_outcome *items;
    int count, cap;
};

void outcome_batcher_init(struct outcome_batcher *b, struct writer *writer,
                          const struct outcome_sink *sink, struct engine *eng, const char *node_id);
/* Frees what was not flushed. */
void outcome_batcher_free(struct outcome_batcher *b);

/* A zeroed outcome to fill, in the batch being gathered. */
struct attempt_outcome *outcome_add(struct outcome_batcher *b);
/* Hands the gathered outcomes to the writer with the jobs settled meanwhile (a list, may be
 * NULL); without outcomes, the jobs are handed straight to sink.recorded. */
void outcome_flush(struct outcome_batcher *b, struct engine_job *settled);

#endif
