/* Outcome batches to the writer (see outcomes.h). */
#include "engine/outcomes.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"

#include <stdlib.h>
#include <string.h>

struct outcome_batch {
    struct write_job job;
    struct outcome_sink sink;
    struct attempt_outcome *outcomes;
    int count;
    struct engine_job *settled; /* jobs that leave memory once these outcomes are stored */
};

void outcome_batcher_init(struct outcome_batcher *b, struct writer *writer,
                          const struct outcome_sink *sink)
{
    memset(b, 0, sizeof *b);
    b->writer = writer;
    b->sink = *sink;
}

void outcome_batcher_free(struct outcome_batcher *b)
{
    for (int i = 0; i < b->count; i++)
        attempt_clear(&b->items[i].attempt);
    free(b->items);
    b->items = NULL;
    b->count = b->cap = 0;
}

struct attempt_outcome *outcome_add(struct outcome_batcher *b)
{
    if (b->count == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->items = xrealloc(b->items, (size_t)b->cap * sizeof *b->items);
    }
    struct attempt_outcome *o = &b->items[b->count++];
    memset(o, 0, sizeof *o);
    return o;
}

static int batch_apply(struct store_conn *tx, struct write_job *job)
{
    struct outcome_batch *batch = (struct outcome_batch *)job;
    return store_delivery_record(tx, batch->outcomes, batch->count, time_now_ms());
}

static void batch_done(struct write_job *job, bool committed)
{
    struct outcome_batch *batch = (struct outcome_batch *)job;
    bool stored = committed && job->result == 0;
    if (!stored)
        log_error("delivery outcomes not recorded; the deliveries stay pending", "count",
                  json_integer(batch->count), NULL);
    for (int i = 0; i < batch->count; i++) {
        struct attempt_outcome *o = &batch->outcomes[i];
        if (stored && o->disabled)
            batch->sink.disabled(batch->sink.ctx, o->endpoint_id);
        attempt_clear(&o->attempt);
    }
    if (batch->settled)
        batch->sink.recorded(batch->sink.ctx, batch->settled, stored);
    free(batch->outcomes);
    free(batch);
}

void outcome_flush(struct outcome_batcher *b, struct engine_job *settled)
{
    struct outcome_batch *batch;
    if (b->count == 0) {
        if (settled) /* nothing to store for them (cannot happen today: each has an outcome) */
            b->sink.recorded(b->sink.ctx, settled, true);
        return;
    }
    batch = xcalloc(1, sizeof *batch);
    batch->job.apply = batch_apply;
    batch->job.done = batch_done;
    batch->sink = b->sink;
    batch->outcomes = b->items;
    batch->count = b->count;
    batch->settled = settled;
    b->items = NULL;
    b->count = b->cap = 0;
    writer_submit(b->writer, &batch->job);
}
