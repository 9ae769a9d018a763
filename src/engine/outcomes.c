/* Outcome batches to the writer (see outcomes.h). */
#include "engine/outcomes.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "engine/notices.h"

#include <stdlib.h>
#include <string.h>

struct outcome_batch {
    struct write_job job;
    struct outcome_sink sink;
    struct attempt_outcome *outcomes;
    int count;
    struct engine_job *settled; /* jobs that leave memory once these outcomes are stored */
    struct engine *eng;
    const char *node_id;
    struct notices notices; /* the operational notices of the batch, until it commits */
};

void outcome_batcher_init(struct outcome_batcher *b, struct writer *writer,
                          const struct outcome_sink *sink, struct engine *eng, const char *node_id)
{
    memset(b, 0, sizeof *b);
    b->writer = writer;
    b->sink = *sink;
    b->eng = eng;
    b->node_id = node_id;
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

/* The operational notices of a recorded outcome: its endpoint disabled, its delivery out of
 * attempts. */
static int notice_outcome(struct store_conn *tx, struct outcome_batch *batch,
                          const struct attempt_outcome *o, int64_t now)
{
    const struct attempt *a = &o->attempt;
    const char *endpoint = o->endpoint_id[0] ? o->endpoint_id : NULL;
    char at[TIME_RFC3339_LEN];
    int rc = 0;

    if (o->disabled) {
        time_format_rfc3339(now, at);
        rc = notice_store(tx, &batch->notices, o->org_id, endpoint, NOTICE_ENDPOINT_DISABLED,
                          json_pack("{s:s, s:s, s:s}", "endpoint_id", o->endpoint_id, "reason",
                                    outcome_disable_reason(o), "disabled_at", at),
                          batch->node_id);
    }
    if (rc == 0 && o->status == DLV_EXHAUSTED && !o->stale)
        rc = notice_store(
            tx, &batch->notices, o->org_id, endpoint, NOTICE_DELIVERY_EXHAUSTED,
            json_pack("{s:s, s:o, s:s, s:i, s:o, s:o}", "delivery_id", a->delivery_id,
                      "endpoint_id", endpoint ? json_string(endpoint) : json_null(), "event_id",
                      o->event_id, "attempts", a->n, "last_response_status",
                      a->response_status ? json_integer(a->response_status) : json_null(),
                      "last_error", a->error[0] ? json_string(a->error) : json_null()),
            batch->node_id);
    return rc;
}

static int batch_apply(struct store_conn *tx, struct write_job *job)
{
    struct outcome_batch *batch = (struct outcome_batch *)job;
    int64_t now = time_now_ms();
    int rc = store_delivery_record(tx, batch->outcomes, batch->count, now);
    if (rc == 0)
        rc = store_fifo_promote_ended(tx, batch->outcomes, batch->count, batch->node_id, now);
    for (int i = 0; rc == 0 && i < batch->count; i++)
        rc = notice_outcome(tx, batch, &batch->outcomes[i], now);
    return rc;
}

/* What an operator wants to hear of (warn: an endpoint disabled, a delivery out of attempts)
 * and, at debug, every attempt that did not deliver. */
static void log_outcome(const struct attempt_outcome *o)
{
    const struct attempt *a = &o->attempt;
    json_t *endpoint = o->endpoint_id[0] ? json_string(o->endpoint_id) : NULL;
    if (o->disabled)
        log_warn("endpoint disabled", "endpoint", json_string(o->endpoint_id), "org",
                 json_string(o->org_id), "reason", json_string(outcome_disable_reason(o)),
                 "delivery", json_string(a->delivery_id), NULL);
    if (o->status == DLV_EXHAUSTED)
        log_warn("delivery exhausted", "delivery", json_string(a->delivery_id), "endpoint",
                 json_incref(endpoint), "org", json_string(o->org_id), "attempts",
                 json_integer(a->n), "status",
                 a->response_status ? json_integer(a->response_status) : NULL, "error",
                 a->error[0] ? json_string(a->error) : NULL, NULL);
    if (o->status != DLV_DELIVERED && !o->no_attempt && log_enabled(LOG_DEBUG))
        log_kv(LOG_DEBUG, "attempt failed", "delivery", json_string(a->delivery_id), "endpoint",
               json_incref(endpoint), "attempt", json_integer(a->n), "status",
               a->response_status ? json_integer(a->response_status) : NULL, "error",
               a->error[0] ? json_string(a->error) : NULL, "next_attempt_at",
               o->status == DLV_PENDING ? json_integer(o->next_attempt_at) : NULL, NULL);
    json_decref(endpoint);
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
        if (stored)
            log_outcome(o);
        if (stored && o->disabled)
            batch->sink.disabled(batch->sink.ctx, o->endpoint_id);
        attempt_clear(&o->attempt);
    }
    if (stored)
        notices_hand_off(&batch->notices, batch->eng);
    for (int i = 0; stored && batch->eng && i < batch->count; i++)
        if (batch->outcomes[i].promoted) { /* a key's next delivery is due in the store */
            engine_kick(batch->eng);
            break;
        } else
            notices_free(&batch->notices);
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
    batch->eng = b->eng;
    batch->node_id = b->node_id;
    b->items = NULL;
    b->count = b->cap = 0;
    writer_submit(b->writer, &batch->job);
}
