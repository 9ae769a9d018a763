/* A loop's requests: a job (or a ping) signed and started on a transfer, its end turned into an
 * outcome for the writer and a decision for the scheduler; and the scheduler's view of the
 * store (endpoint settings, due rows). */
#include "engine/loop.h"

#include "core/metrics.h"
#include "core/id.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"
#include "engine/retry.h"

#include <stdlib.h>
#include <string.h>

#define ONE_SHOT_TIMEOUT_S 15
#define ONE_SHOT_MAX_IN_FLIGHT 10

void deliver_start(struct loop *loop, struct sched_endpoint *ep, struct engine_job *job)
{
    struct transfer *t = transfer_get(&loop->pool);
    const struct endpoint_target *target = &ep->target;
    int64_t now = t->started_ms;
    bool rotating = target->previous_secret[0] && target->previous_expires_at > now;
    struct sign_input in = {
        .event_id = job->event_id,
        .event_type = job->payload->event_type,
        .delivery_id = job->id,
        .attempt = job->attempt_count + 1,
        .timestamp = now / 1000,
        .body = job->payload->data,
        .body_len = job->payload->len,
        .hex_scheme = target->hex_scheme,
        .ed25519_scheme = target->ed25519_scheme,
        .secret = target->secret,
        .previous_secret = rotating ? target->previous_secret : NULL,
        .custom_lines = target->header_lines,
    };
    t->job = job;
    t->ep = ep;
    t->attempt = in.attempt;
    t->headers = request_headers(&in, &t->header_block);
    transfer_start(&loop->pool, t, ep->one_shot ? job->url : target->url, job->payload,
                   target->timeout_ms);
}

void deliver_ping(struct loop *loop, struct engine_ping *ping)
{
    struct transfer *t = transfer_get(&loop->pool);
    char *custom = header_lines_from_json(ping->headers_json);
    struct sign_input in = {
        .event_id = ping->event_id,
        .event_type = ping->payload->event_type,
        .delivery_id = NULL, /* not a delivery: no id the delivery log would not know */
        .attempt = 1,
        .timestamp = t->started_ms / 1000,
        .body = ping->payload->data,
        .body_len = ping->payload->len,
        .hex_scheme = ping->hex_scheme,
        .ed25519_scheme = ping->ed25519_scheme,
        .secret = ping->secret,
        .custom_lines = custom,
    };
    t->ping = ping;
    t->headers = request_headers(&in, &t->header_block);
    free(custom);
    transfer_start(&loop->pool, t, ping->url, ping->payload, ping->timeout_seconds * 1000);
}

static double jitter(void)
{
    return 2.0 * id_random_unit() - 1.0;
}

/* The attempt as the delivery log keeps it. */
static void fill_attempt(struct attempt *a, struct transfer *t, const struct engine_job *job,
                         int http_status, CURLcode code)
{
    id_make("att_", t->started_ms, a->id);
    text_copy(a->delivery_id, sizeof a->delivery_id, job->id);
    a->n = t->attempt;
    a->started_at = t->started_ms;
    a->duration_ms = (int)((time_mono_ns() - t->start_ns) / 1000000);
    a->response_status = http_status;
    if (http_status != 0) {
        utf8_scrub(t->body, t->body_len);
        a->response_body = xstrndup(t->body, t->body_len);
        utf8_scrub(t->response_headers, t->response_headers_len);
        a->response_headers = xstrndup(t->response_headers, t->response_headers_len);
    } else {
        text_copy(a->error, sizeof a->error, transfer_error_class(code, t->blocked));
        if (log_enabled(LOG_DEBUG))
            log_kv(LOG_DEBUG, "attempt failed", "delivery", json_string(job->id), "attempt",
                   json_integer(t->attempt), "error", json_string(a->error), "curl_code",
                   json_integer(code), "detail", json_string(t->error_text), NULL);
    }
    a->request_headers = header_lines_of(t->headers);
}

_Static_assert(METRICS_PENDING == DLV_PENDING_N && METRICS_DELIVERED == DLV_DELIVERED_N &&
                   METRICS_FAILED == DLV_FAILED_N && METRICS_EXHAUSTED == DLV_EXHAUSTED_N,
               "metrics count delivery states by their store numbers");

void deliver_finished(struct loop *loop, struct transfer *t, CURLcode code, long status)
{
    const struct config *cfg = loop->eng->opts.cfg;
    struct engine_job *job = t->job;
    int64_t now = time_now_ms(), retry_after = -1;
    struct retry_decision decision;
    struct retry_input in = {
        .http_status = code == CURLE_OK ? (int)status : 0,
        .blocked = t->blocked,
        .attempts_in_schedule = t->attempt - job->schedule_start,
        .schedule = t->ep->retry_count ? t->ep->retry_schedule_ms : cfg->retry_schedule_ms,
        .schedule_len = t->ep->retry_count ? t->ep->retry_count : cfg->retry_count,
        .jitter = jitter(),
    };
    if (t->retry_after[0] && retry_after_parse(t->retry_after, now, &retry_after))
        in.retry_after_ms = retry_after;
    else
        in.retry_after_ms = -1;
    retry_decide(&in, &decision);

    struct attempt_outcome *o = outcome_add(&loop->outcomes);
    fill_attempt(&o->attempt, t, job, in.http_status, code);
    text_copy(o->org_id, sizeof o->org_id, job->org_id);
    text_copy(o->endpoint_id, sizeof o->endpoint_id, job->endpoint_id);
    text_copy(o->event_id, sizeof o->event_id, job->event_id);
    o->status = decision.status;
    o->next_attempt_at = now + decision.delay_ms;
    o->disable_gone = decision.disable_gone;
    o->fifo = t->ep->is_fifo;
    o->disable_after = t->ep->disable_after ? t->ep->disable_after : (int)cfg->disable_after;

    metrics_attempt(in.http_status, in.http_status ? NULL : o->attempt.error,
                    (double)(time_mono_ns() - t->start_ns) / 1e9);
    metrics_delivery_state((enum metrics_settled)decision.status);
    job->attempt_count = t->attempt;
    sched_finished(&loop->sched, t->ep, job, decision.status, o->next_attempt_at, now);
}

/* --- the scheduler's source --- */

static bool load_endpoint(struct loop *loop, struct sched_endpoint *ep)
{
    struct endpoint row = {0};
    int rc = store_endpoint_get(loop->conn, ep->org_id, ep->key, &row);
    if (rc == ERR_FAIL)
        return false; /* try again on the next job */
    ep->usable = rc == 0 && row.is_active;
    if (ep->usable) {
        struct endpoint_target *t = &ep->target;
        t->url = row.url;
        row.url = NULL;
        t->header_lines = header_lines_from_json(row.headers);
        memcpy(t->secret, row.secret, sizeof t->secret);
        memcpy(t->previous_secret, row.previous_secret, sizeof t->previous_secret);
        t->previous_expires_at = row.previous_secret_expires_at;
        t->hex_scheme = strcmp(row.signature_scheme, "hex") == 0;
        t->ed25519_scheme = strcmp(row.signature_scheme, "ed25519") == 0;
        t->timeout_ms = row.timeout_seconds * 1000;
        /* validated when set; a schedule that does not read is the server's */
        if (!row.retry_schedule ||
            !config_parse_schedule(row.retry_schedule, ep->retry_schedule_ms, &ep->retry_count))
            ep->retry_count = 0;
        ep->disable_after = row.disable_after;
        ep->is_fifo = row.is_fifo;
        ep->max_in_flight = row.max_in_flight;
        ep->has_rate = row.rate_limit > 0;
        if (ep->has_rate)
            token_bucket_init(&ep->bucket, row.rate_limit, row.rate_limit < 1 ? 1 : row.rate_limit,
                              time_mono_ns());
    }
    if (rc == 0)
        endpoint_clear(&row);
    return true;
}

/* One-shot deliveries of an org share one queue, signed with the org's primary secret. */
static bool load_one_shot(struct loop *loop, struct sched_endpoint *ep)
{
    struct org org;
    int rc = store_org_get(loop->conn, ep->org_id, &org);
    if (rc == ERR_FAIL)
        return false;
    ep->usable = rc == 0;
    if (ep->usable) {
        struct endpoint_target *t = &ep->target;
        memcpy(t->secret, org.primary_secret, sizeof t->secret);
        t->previous_secret[0] = '\0';
        t->hex_scheme = strcmp(org.signature_scheme, "hex") == 0;
        t->ed25519_scheme = false; /* an org's secret is HMAC only */
        t->timeout_ms = ONE_SHOT_TIMEOUT_S * 1000;
        ep->retry_count = ep->disable_after = 0;
        ep->is_fifo = false;
        ep->max_in_flight = ONE_SHOT_MAX_IN_FLIGHT;
        ep->has_rate = false;
    }
    return true;
}

static bool source_load(void *ctx, struct sched_endpoint *ep)
{
    return ep->one_shot ? load_one_shot(ctx, ep) : load_endpoint(ctx, ep);
}

static int source_read_due(void *ctx, int64_t now, int64_t after_ms, const char *after_id,
                           bool held, struct due_delivery *rows, int max, int *count)
{
    struct loop *loop = ctx;
    struct due_scan scan = {
        .node_id = loop->eng->node_id,
        .due = now,
        .after_ms = after_ms,
        .after_id = after_id,
        .held = held,
        .part = loop->index,
        .parts = loop->eng->loop_count,
    };
    return store_delivery_due(loop->conn, &scan, rows, max, count);
}

static bool source_owns(void *ctx, const char *queue_key)
{
    struct loop *loop = ctx;
    return engine_loop_of(loop->eng, queue_key) == loop;
}

static void source_end_without_attempt(void *ctx, struct engine_job *job, const char *why)
{
    struct loop *loop = ctx;
    struct attempt_outcome *o = outcome_add(&loop->outcomes);
    text_copy(o->attempt.delivery_id, sizeof o->attempt.delivery_id, job->id);
    o->attempt.n = job->attempt_count;
    text_copy(o->attempt.error, sizeof o->attempt.error, why);
    text_copy(o->org_id, sizeof o->org_id, job->org_id);
    o->status = DLV_FAILED;
    o->no_attempt = true;
    sched_settle(&loop->sched, job);
}

struct sched_source deliver_source(struct loop *loop)
{
    return (struct sched_source){
        .ctx = loop,
        .load = source_load,
        .read_due = source_read_due,
        .owns = source_owns,
        .end_without_attempt = source_end_without_attempt,
    };
}
