/* The dispatcher: per-endpoint queues bounded by max_in_flight and rate_limit, a global cap,
 * a timer heap for retries, libcurl's multi interface for the requests, and outcomes batched
 * back to the writer. Everything below engine_* runs on the dispatcher thread. */
#include "engine/engine.h"

#include "core/jsonv.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/ratelimit.h"
#include "core/timeutil.h"
#include "engine/retry.h"
#include "engine/urlcheck.h"
#include "hookd/hookd.h"
#include "core/text.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMORY_JOBS 50000        /* jobs held in memory; the rest wait in the store */
#define MEMORY_HORIZON_MS 300000 /* retries due later than this wait in the store */
#define SCAN_PAGE 512            /* rows read from the store per scan step */
#define KNOWN_SLOTS 65536        /* buckets of the index of known jobs (power of two) */
#define ENDPOINT_SLOTS 1024      /* buckets of the endpoint table (power of two) */
#define RESPONSE_BODY_MAX 1024   /* bytes of a response kept for the log (§4.1) */
#define RESPONSE_HEADERS_MAX 8   /* response headers kept for the log */
#define STOP_GRACE_MS 10000      /* attempts in flight at SIGTERM get this long (§4.5) */
#define ONE_SHOT_TIMEOUT_S 15
#define ONE_SHOT_MAX_IN_FLIGHT 10
#define WATCHED_FDS 65536 /* sockets the engine tracks in its table */

/* --- payloads and jobs --- */

struct payload *payload_new(const char *data, size_t len, const char *event_type)
{
    struct payload *p = xmalloc(sizeof *p + len + 1);
    atomic_init(&p->refs, 1);
    p->event_type = xstrdup(event_type);
    p->len = len;
    memcpy(p->data, data, len);
    p->data[len] = '\0';
    return p;
}

struct payload *payload_retain(struct payload *p)
{
    atomic_fetch_add(&p->refs, 1);
    return p;
}

void payload_release(struct payload *p)
{
    if (p && atomic_fetch_sub(&p->refs, 1) == 1) {
        free(p->event_type);
        free(p);
    }
}

struct engine_job *engine_job_new(const char *id, const char *org_id, const char *event_id,
                                  const char *endpoint_id, const char *url, struct payload *payload,
                                  int64_t due)
{
    struct engine_job *job = xcalloc(1, sizeof *job);
    text_copy(job->id, sizeof job->id, id);
    text_copy(job->org_id, sizeof job->org_id, org_id);
    text_copy(job->event_id, sizeof job->event_id, event_id);
    text_copy(job->endpoint_id, sizeof job->endpoint_id, endpoint_id ? endpoint_id : "");
    job->url = url ? xstrdup(url) : NULL;
    job->payload = payload_retain(payload);
    job->due = due;
    return job;
}

void engine_job_free(struct engine_job *job)
{
    if (job == NULL)
        return;
    payload_release(job->payload);
    free(job->url);
    free(job);
}

/* --- state --- */

/* An endpoint as the dispatcher sees it: its settings and its queue. One-shot deliveries of an
 * org share one pseudo-endpoint keyed "org:<org id>", signed with the org's primary secret. */
struct ep_state {
    char key[ID_MAX + 8];
    char org_id[ID_MAX];
    bool loaded, usable, one_shot, hex_scheme;
    char *url;
    char secret[SECRET_BYTES], previous_secret[SECRET_BYTES];
    int64_t previous_expires_at;
    char *header_lines; /* custom headers, pre-formatted */
    int timeout_ms, max_in_flight;
    bool has_rate;
    struct token_bucket bucket;
    int in_flight;
    struct engine_job *head, *tail;
    bool in_ready, wake_set;
    struct ep_state *ready_next;
    struct ep_state *hash_next;
};

struct timer {
    int64_t due;
    struct engine_job *job; /* a job to queue, or */
    struct ep_state *ep;    /* an endpoint whose rate limit lets it go again */
};

struct transfer {
    struct engine *eng;
    CURL *easy;
    struct engine_job *job;   /* a delivery, or */
    struct engine_ping *ping; /* a ping */
    struct ep_state *ep;
    struct curl_slist *headers; /* into header_block */
    struct header_block header_block;
    struct curl_slist *resolve;                        /* HOOKD_TEST_HOSTS pins, or NULL */
    char response_headers[RESPONSE_HEADERS_MAX * 128]; /* "name: value\n" lines */
    size_t response_headers_len;
    int response_header_count;
    char body[RESPONSE_BODY_MAX + 1];
    size_t body_len;
    char retry_after[64];
    char error_text[CURL_ERROR_SIZE]; /* libcurl's words on a failure, for the debug log */
    bool blocked;
    int attempt;
    int64_t started_ms, start_ns;
    struct transfer *next_free;
    struct transfer *prev_active, *next_active; /* while in the multi handle */
};

enum message_kind { MSG_JOBS, MSG_KICK, MSG_ENDPOINT, MSG_ORG, MSG_PING, MSG_RECORDED };

struct message {
    enum message_kind kind;
    struct engine_job *jobs;
    struct engine_ping *ping;
    char endpoint_id[ID_MAX];
    struct message *next;
};

struct engine {
    struct engine_options opts;
    char node_id[ID_MAX];
    struct url_policy policy;
    bool test_hosts;   /* HOOKD_TEST_HOSTS is set */
    bool shared_store; /* other nodes use the database too: rescan it now and then */
    pthread_t thread;
    CURLM *multi;
    int epoll_fd, wake_fd;     /* the loop's sockets, and an eventfd that wakes it */
    bool watched[WATCHED_FDS]; /* sockets libcurl wants events for now */
    int store_wake_fd;         /* the store's wake-ups from other nodes, or -1 */
    int64_t curl_due;          /* when libcurl wants its timeout action, or INT64_MAX */
    struct store_conn *conn;   /* the dispatcher's read connection */
    struct curl_blob ca_blob;
    char *ca_data;

    pthread_mutex_t inbox_lock;
    struct message *inbox_head, *inbox_tail;
    bool stop_requested;
    bool joined;

    struct engine_job *known[KNOWN_SLOTS];
    int known_count;
    struct ep_state *endpoints[ENDPOINT_SLOTS];
    struct ep_state *ready_head, *ready_tail;
    struct timer *timers;
    int timer_count, timer_cap;
    int in_flight;
    struct transfer *active; /* transfers in the multi handle */
    struct transfer *free_transfers;

    /* store scanning */
    bool scan_needed;
    int64_t scan_after_ms;
    char scan_after_id[ID_MAX];
    struct due_delivery *scan_rows; /* SCAN_PAGE rows */
    int64_t store_due;              /* earliest due time of work left in the store, or INT64_MAX */

    struct attempt_outcome *outcomes;
    int outcome_count, outcome_cap;
    struct engine_job *settled; /* with the outcomes not yet handed to the writer */
};

/* --- the index of jobs in memory --- */

static bool known_has(struct engine *eng, const char *id)
{
    for (struct engine_job *j = eng->known[text_hash(id) & (KNOWN_SLOTS - 1)]; j; j = j->hash_next)
        if (strcmp(j->id, id) == 0)
            return true;
    return false;
}

static void known_add(struct engine *eng, struct engine_job *job)
{
    unsigned slot = text_hash(job->id) & (KNOWN_SLOTS - 1);
    job->hash_next = eng->known[slot];
    eng->known[slot] = job;
    eng->known_count++;
}

static void known_remove(struct engine *eng, struct engine_job *job)
{
    struct engine_job **p = &eng->known[text_hash(job->id) & (KNOWN_SLOTS - 1)];
    for (; *p; p = &(*p)->hash_next) {
        if (*p == job) {
            *p = job->hash_next;
            eng->known_count--;
            return;
        }
    }
}

/* A job leaves memory: done, dropped, or left to the store. */
static void forget(struct engine *eng, struct engine_job *job)
{
    known_remove(eng, job);
    engine_job_free(job);
}

/* --- timers (a binary min-heap on due) --- */

static void timer_swap(struct engine *eng, int a, int b)
{
    struct timer t = eng->timers[a];
    eng->timers[a] = eng->timers[b];
    eng->timers[b] = t;
}

static void timer_push(struct engine *eng, int64_t due, struct engine_job *job, struct ep_state *ep)
{
    int i;
    if (eng->timer_count == eng->timer_cap) {
        eng->timer_cap = eng->timer_cap ? eng->timer_cap * 2 : 256;
        eng->timers = xrealloc(eng->timers, (size_t)eng->timer_cap * sizeof *eng->timers);
    }
    i = eng->timer_count++;
    eng->timers[i] = (struct timer){due, job, ep};
    while (i > 0 && eng->timers[(i - 1) / 2].due > eng->timers[i].due) {
        timer_swap(eng, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static struct timer timer_pop(struct engine *eng)
{
    struct timer top = eng->timers[0];
    int i = 0;
    eng->timers[0] = eng->timers[--eng->timer_count];
    for (;;) {
        int left = 2 * i + 1, right = left + 1, least = i;
        if (left < eng->timer_count && eng->timers[left].due < eng->timers[least].due)
            least = left;
        if (right < eng->timer_count && eng->timers[right].due < eng->timers[least].due)
            least = right;
        if (least == i)
            break;
        timer_swap(eng, i, least);
        i = least;
    }
    return top;
}

/* --- endpoints --- */

static void ep_reset_config(struct ep_state *ep)
{
    free(ep->url);
    free(ep->header_lines);
    ep->url = ep->header_lines = NULL;
    ep->loaded = ep->usable = false;
}

static bool ep_load_endpoint(struct engine *eng, struct ep_state *ep)
{
    struct endpoint row = {0};
    int rc = store_ops_of(eng->conn)->endpoint_get(eng->conn, ep->org_id, ep->key, &row);
    if (rc == ERR_FAIL)
        return false; /* try again on the next job */
    ep->loaded = true;
    ep->usable = rc == 0 && row.is_active;
    if (ep->usable) {
        ep->url = row.url;
        row.url = NULL;
        ep->header_lines = header_lines_from_json(row.headers);
        memcpy(ep->secret, row.secret, sizeof ep->secret);
        memcpy(ep->previous_secret, row.previous_secret, sizeof ep->previous_secret);
        ep->previous_expires_at = row.previous_secret_expires_at;
        ep->hex_scheme = strcmp(row.signature_scheme, "hex") == 0;
        ep->timeout_ms = row.timeout_seconds * 1000;
        ep->max_in_flight = row.max_in_flight > 0 ? row.max_in_flight : 1;
        ep->has_rate = row.rate_limit > 0;
        if (ep->has_rate)
            token_bucket_init(&ep->bucket, row.rate_limit, row.rate_limit < 1 ? 1 : row.rate_limit,
                              time_mono_ns());
    }
    if (rc == 0)
        endpoint_clear(&row);
    return true;
}

static bool ep_load_one_shot(struct engine *eng, struct ep_state *ep)
{
    struct org org;
    int rc = store_ops_of(eng->conn)->org_get(eng->conn, ep->org_id, &org);
    if (rc == ERR_FAIL)
        return false;
    ep->loaded = true;
    ep->usable = rc == 0;
    if (ep->usable) {
        memcpy(ep->secret, org.primary_secret, sizeof ep->secret);
        ep->previous_secret[0] = '\0';
        ep->hex_scheme = strcmp(org.signature_scheme, "hex") == 0;
        ep->timeout_ms = ONE_SHOT_TIMEOUT_S * 1000;
        ep->max_in_flight = ONE_SHOT_MAX_IN_FLIGHT;
        ep->has_rate = false;
    }
    return true;
}

static struct ep_state *ep_find(struct engine *eng, const char *key)
{
    for (struct ep_state *ep = eng->endpoints[text_hash(key) & (ENDPOINT_SLOTS - 1)]; ep;
         ep = ep->hash_next)
        if (strcmp(ep->key, key) == 0)
            return ep;
    return NULL;
}

/* The endpoint a job goes to, created and loaded on first use. */
static struct ep_state *ep_of(struct engine *eng, const struct engine_job *job)
{
    char key[ID_MAX + 8];
    struct ep_state *ep;
    bool one_shot = job->endpoint_id[0] == '\0';

    snprintf(key, sizeof key, one_shot ? "org:%s" : "%s",
             one_shot ? job->org_id : job->endpoint_id);
    ep = ep_find(eng, key);
    if (ep == NULL) {
        unsigned slot = text_hash(key) & (ENDPOINT_SLOTS - 1);
        ep = xcalloc(1, sizeof *ep);
        text_copy(ep->key, sizeof ep->key, key);
        text_copy(ep->org_id, sizeof ep->org_id, job->org_id);
        ep->one_shot = one_shot;
        ep->hash_next = eng->endpoints[slot];
        eng->endpoints[slot] = ep;
    }
    if (!ep->loaded)
        one_shot ? ep_load_one_shot(eng, ep) : ep_load_endpoint(eng, ep);
    return ep;
}

static void ready_push(struct engine *eng, struct ep_state *ep)
{
    if (ep->in_ready || ep->head == NULL || ep->in_flight >= ep->max_in_flight || ep->wake_set)
        return;
    ep->in_ready = true;
    ep->ready_next = NULL;
    if (eng->ready_tail)
        eng->ready_tail->ready_next = ep;
    else
        eng->ready_head = ep;
    eng->ready_tail = ep;
}

static struct ep_state *ready_pop(struct engine *eng)
{
    struct ep_state *ep = eng->ready_head;
    if (ep) {
        eng->ready_head = ep->ready_next;
        if (eng->ready_head == NULL)
            eng->ready_tail = NULL;
        ep->in_ready = false;
    }
    return ep;
}

/* --- outcomes to the writer --- */

static struct attempt_outcome *outcome_new(struct engine *eng)
{
    if (eng->outcome_count == eng->outcome_cap) {
        eng->outcome_cap = eng->outcome_cap ? eng->outcome_cap * 2 : 64;
        eng->outcomes = xrealloc(eng->outcomes, (size_t)eng->outcome_cap * sizeof *eng->outcomes);
    }
    struct attempt_outcome *o = &eng->outcomes[eng->outcome_count++];
    memset(o, 0, sizeof *o);
    return o;
}

struct outcome_batch {
    struct write_job job;
    struct engine *eng;
    struct attempt_outcome *outcomes;
    int count;
    struct engine_job *settled; /* jobs that leave memory once these outcomes are stored */
};

static void post(struct engine *eng, struct message *m);

static int outcomes_apply(struct store_conn *tx, struct write_job *job)
{
    struct outcome_batch *batch = (struct outcome_batch *)job;
    int64_t now = time_now_ms();
    for (int i = 0; i < batch->count; i++) {
        int rc = store_ops_of(tx)->delivery_record(tx, &batch->outcomes[i], now);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void outcomes_done(struct write_job *job, bool committed)
{
    struct outcome_batch *batch = (struct outcome_batch *)job;
    if (!committed || job->result != 0)
        log_error("delivery outcomes not recorded; the deliveries stay pending", "count",
                  json_integer(batch->count), NULL);
    for (int i = 0; i < batch->count; i++) {
        struct attempt_outcome *o = &batch->outcomes[i];
        if (committed && job->result == 0 && o->disabled)
            engine_endpoint_changed(batch->eng, o->endpoint_id);
        attempt_clear(&o->attempt);
    }
    if (batch->settled) { /* back to the engine thread, which owns its index of jobs */
        struct message *m = xcalloc(1, sizeof *m);
        m->kind = MSG_RECORDED;
        m->jobs = batch->settled;
        post(batch->eng, m);
    }
    free(batch->outcomes);
    free(batch);
}

static void flush_outcomes(struct engine *eng)
{
    struct outcome_batch *batch;
    if (eng->outcome_count == 0)
        return;
    batch = xcalloc(1, sizeof *batch);
    batch->job.apply = outcomes_apply;
    batch->job.done = outcomes_done;
    batch->eng = eng;
    batch->outcomes = eng->outcomes;
    batch->count = eng->outcome_count;
    batch->settled = eng->settled;
    eng->settled = NULL;
    eng->outcomes = NULL;
    eng->outcome_count = eng->outcome_cap = 0;
    writer_submit(eng->opts.writer, &batch->job);
}

/* A job whose outcome is on its way to the store: it stays in the index of known jobs until
 * that outcome is committed, or a scan of the store in between would find the row still
 * pending and send it again. */
static void settle(struct engine *eng, struct engine_job *job)
{
    job->next = eng->settled;
    eng->settled = job;
}

/* Ends a job without an attempt (its endpoint is gone or inactive), so that it does not come
 * back from the store. */
static void end_without_attempt(struct engine *eng, struct engine_job *job, const char *why)
{
    struct attempt_outcome *o = outcome_new(eng);
    text_copy(o->attempt.delivery_id, sizeof o->attempt.delivery_id, job->id);
    o->attempt.n = job->attempt_count;
    text_copy(o->attempt.error, sizeof o->attempt.error, why);
    text_copy(o->org_id, sizeof o->org_id, job->org_id);
    o->status = DLV_FAILED;
    o->no_attempt = true;
    settle(eng, job);
}

/* --- queueing --- */

static void queue_job(struct engine *eng, struct engine_job *job, int64_t now)
{
    struct ep_state *ep;
    if (job->due > now) {
        timer_push(eng, job->due, job, NULL);
        return;
    }
    ep = ep_of(eng, job);
    if (!ep->loaded) { /* the store did not answer: try again shortly */
        job->due = now + 1000;
        timer_push(eng, job->due, job, NULL);
        return;
    }
    if (!ep->usable) {
        end_without_attempt(eng, job, "endpoint inactive");
        return;
    }
    job->next = NULL;
    if (ep->tail)
        ep->tail->next = job;
    else
        ep->head = job;
    ep->tail = job;
    ready_push(eng, ep);
}

/* Takes a new job into memory, or leaves it to the store when memory is full. */
static void admit(struct engine *eng, struct engine_job *job, int64_t now)
{
    if (known_has(eng, job->id)) {
        engine_job_free(job);
        return;
    }
    if (eng->known_count >= MEMORY_JOBS) {
        if (job->due < eng->store_due)
            eng->store_due = job->due;
        engine_job_free(job);
        return;
    }
    known_add(eng, job);
    queue_job(eng, job, now);
}

/* Reads due work of this node from the store that memory does not hold, a page at a time. */
static void scan_store(struct engine *eng, int64_t now)
{
    struct due_delivery *rows = eng->scan_rows;
    int room = MEMORY_JOBS - eng->known_count, count = 0;
    if (room <= 0)
        return;
    if (room > SCAN_PAGE)
        room = SCAN_PAGE;
    if (store_ops_of(eng->conn)->delivery_due(eng->conn, eng->node_id, now, eng->scan_after_ms,
                                              eng->scan_after_id, rows, room, &count) != 0)
        return; /* scan_needed stays set: try again on the next turn */
    for (int i = 0; i < count; i++) {
        struct due_delivery *r = &rows[i];
        eng->scan_after_ms = r->next_attempt_at;
        memcpy(eng->scan_after_id, r->id, sizeof eng->scan_after_id);
        if (!known_has(eng, r->id)) {
            struct payload *p = payload_new(r->payload, strlen(r->payload), r->event_type);
            struct engine_job *job =
                engine_job_new(r->id, r->org_id, r->event_id, r->endpoint_id, r->url, p, now);
            payload_release(p);
            job->attempt_count = r->attempt_count;
            job->schedule_start = r->schedule_start;
            admit(eng, job, now);
        }
        due_delivery_clear(r);
    }
    if (count < room) { /* reached the end: the next scan starts over */
        eng->scan_needed = false;
        eng->scan_after_ms = 0;
        eng->scan_after_id[0] = '\0';
    }
}

/* --- requests --- */

/* Appends "name: value" (or a preformatted line when value is NULL) to the block; built with
 * memcpy, as a dozen snprintf calls per request showed in the delivery thread's profile. */
static void add_header(struct header_block *b, const char *name, const char *value)
{
    size_t room = sizeof b->text - b->used, name_len = strlen(name);
    size_t value_len = value ? strlen(value) : 0, n = name_len + (value ? 2 + value_len : 0);
    char *at = b->text + b->used;
    if (n >= room || b->count == HEADER_BLOCK_NODES)
        return; /* cannot happen within the limits on custom headers */
    memcpy(at, name, name_len);
    if (value) {
        memcpy(at + name_len, ": ", 2);
        memcpy(at + name_len + 2, value, value_len);
    }
    at[n] = '\0';
    b->nodes[b->count].data = at;
    b->nodes[b->count].next = NULL;
    if (b->count > 0)
        b->nodes[b->count - 1].next = &b->nodes[b->count];
    b->count++;
    b->used += n + 1;
}

char *header_lines_from_json(const char *json)
{
    json_t *headers = json ? json_loads(json, 0, NULL) : NULL;
    const char *name;
    json_t *value;
    char *lines = NULL;
    size_t used = 0;
    json_object_foreach(headers, name, value)
    {
        const char *text = json_string_value(value);
        size_t add;
        if (text == NULL)
            continue;
        add = strlen(name) + strlen(text) + 3;
        lines = xrealloc(lines, used + add + 1);
        used += (size_t)snprintf(lines + used, add + 1, "%s: %s\n", name, text);
    }
    json_decref(headers);
    return lines;
}

char *header_lines_of(const struct curl_slist *list)
{
    size_t size = 1, used = 0;
    char *text;
    for (const struct curl_slist *l = list; l; l = l->next)
        size += strlen(l->data) + 1;
    text = xmalloc(size);
    for (const struct curl_slist *l = list; l; l = l->next) {
        size_t len = strlen(l->data);
        if (l->data[len - 1] == ':')
            continue; /* "Expect:" removes a header; nothing was sent */
        memcpy(text + used, l->data, len);
        text[used + len] = '\n';
        used += len + 1;
    }
    text[used] = '\0';
    return text;
}

struct curl_slist *engine_request_headers(const struct sign_input *in, struct header_block *b)
{
    char sig[HOOKD_SIGNATURE_MAX], old[HOOKD_SIGNATURE_MAX], both[2 * HOOKD_SIGNATURE_MAX + 2];
    char number[32], line[2048];
    bool rotating = in->previous_secret && in->previous_secret[0];

    b->used = 0;
    b->count = 0;
    for (const char *p = in->custom_lines; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            add_header(b, line, NULL);
        }
        p += len + (end != NULL);
    }
    add_header(b, "Content-Type", "application/json");
    add_header(b, "User-Agent", "hookd/" HOOKD_VERSION_STRING);
    add_header(b, "X-Webhook-Event", in->event_type);
    add_header(b, "X-Webhook-Delivery", in->delivery_id);
    snprintf(number, sizeof number, "%d", in->attempt);
    add_header(b, "X-Webhook-Attempt", number);
    snprintf(number, sizeof number, "%lld", in->timestamp);
    if (in->hex_scheme) {
        hookd_sign_hex(in->secret, in->timestamp, in->body, in->body_len, sig, sizeof sig);
        if (rotating)
            hookd_sign_hex(in->previous_secret, in->timestamp, in->body, in->body_len, old,
                           sizeof old);
        snprintf(both, sizeof both, "%s%s%s", sig, rotating ? "," : "", rotating ? old : "");
        add_header(b, "X-Webhook-Signature", both);
        add_header(b, "X-Webhook-Timestamp", number);
    } else {
        hookd_sign_standard(in->secret, in->event_id, in->timestamp, in->body, in->body_len, sig,
                            sizeof sig);
        if (rotating)
            hookd_sign_standard(in->previous_secret, in->event_id, in->timestamp, in->body,
                                in->body_len, old, sizeof old);
        snprintf(both, sizeof both, "%s%s%s", sig, rotating ? " " : "", rotating ? old : "");
        add_header(b, "webhook-id", in->event_id);
        add_header(b, "webhook-timestamp", number);
        add_header(b, "webhook-signature", both);
    }
    /* no 100-continue round trip before the body, and no Accept nobody asked for */
    add_header(b, "Expect:", NULL);
    add_header(b, "Accept:", NULL);
    return b->count ? &b->nodes[0] : NULL;
}

static size_t on_body(char *data, size_t size, size_t count, void *arg)
{
    struct transfer *t = arg;
    size_t len = size * count, room = RESPONSE_BODY_MAX - t->body_len;
    if (room > 0) {
        size_t take = len < room ? len : room;
        memcpy(t->body + t->body_len, data, take);
        t->body_len += take;
    }
    return len; /* read and discard the rest */
}

static size_t on_header(char *data, size_t size, size_t count, void *arg)
{
    static const char *const kept[] = {"content-type", "retry-after", "location", "server",
                                       "content-length"};
    struct transfer *t = arg;
    size_t len = size * count, name_len;
    char line[512];
    const char *colon;

    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) { /* a new response (after a 1xx) */
        t->response_headers_len = 0;
        t->response_header_count = 0;
        t->retry_after[0] = '\0';
        return len;
    }
    colon = memchr(data, ':', len);
    if (colon == NULL || len >= sizeof line)
        return len;
    name_len = (size_t)(colon - data);
    memcpy(line, data, len);
    line[len] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    line[name_len] = '\0';
    for (size_t i = 0; i < name_len; i++)
        if (line[i] >= 'A' && line[i] <= 'Z')
            line[i] = (char)(line[i] - 'A' + 'a');
    const char *value = line + name_len + 1;
    while (*value == ' ' || *value == '\t')
        value++;
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        size_t room = sizeof t->response_headers - t->response_headers_len;
        if (strcmp(line, kept[i]) != 0 || t->response_header_count == RESPONSE_HEADERS_MAX)
            continue;
        int n = snprintf(t->response_headers + t->response_headers_len, room, "%s: %.200s\n", line,
                         value);
        if (n > 0 && (size_t)n < room) {
            t->response_headers_len += (size_t)n;
            t->response_header_count++;
        }
        if (i == 1)
            text_copy(t->retry_after, sizeof t->retry_after, value);
    }
    return len;
}

/* Refuses a connection to an address that is not allowed, whatever DNS said earlier. */
static curl_socket_t on_open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    struct transfer *t = arg;
    (void)purpose;
    if (!address_is_allowed(&addr->addr, t->eng->policy.allow_private)) {
        t->blocked = true;
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

/* A transfer with its easy handle and the options that are the same for every request; the
 * handle is reused as it is (transfer_start sets the rest): resetting it and setting everything
 * again cost a tenth of the delivery thread. */
static struct transfer *transfer_new(struct engine *eng)
{
    struct transfer *t = xcalloc(1, sizeof *t);
    CURL *h = curl_easy_init();
    if (h == NULL)
        abort();
    t->eng = eng;
    t->easy = h;
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, eng->policy.allow_http ? "http,https" : "https");
    curl_easy_setopt(h, CURLOPT_PROXY, eng->opts.cfg->proxy); /* "" ignores proxy variables */
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t);
    curl_easy_setopt(h, CURLOPT_PRIVATE, t);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->error_text);
    if (eng->ca_data)
        curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &eng->ca_blob);
    return t;
}

static struct transfer *transfer_get(struct engine *eng)
{
    struct transfer *t = eng->free_transfers;
    if (t)
        eng->free_transfers = t->next_free;
    else
        t = transfer_new(eng);
    t->job = NULL;
    t->ping = NULL;
    t->ep = NULL;
    t->body_len = 0;
    t->retry_after[0] = '\0';
    t->error_text[0] = '\0';
    t->blocked = false;
    t->response_headers_len = 0;
    t->response_header_count = 0;
    t->start_ns = time_mono_ns();
    t->started_ms = time_now_ms();
    return t;
}

static void transfer_put(struct engine *eng, struct transfer *t)
{
    if (t->resolve) /* the handle must not keep the list it is about to lose */
        curl_easy_setopt(t->easy, CURLOPT_RESOLVE, NULL);
    curl_slist_free_all(t->resolve);
    t->headers = t->resolve = NULL;

    t->next_free = eng->free_transfers;
    eng->free_transfers = t;
}

/* HOOKD_TEST_HOSTS (tests only): the host resolves to what the file says now, replacing what
 * libcurl's DNS cache holds from earlier attempts. */
static void pin_test_host(struct transfer *t, const char *url)
{
    char host[512], address[256], entry[800];
    int port;
    if (!url_host_port(url, host, sizeof host, &port) ||
        !test_hosts_lookup(host, address, sizeof address))
        return;
    snprintf(entry, sizeof entry, "-%s:%d", host, port);
    t->resolve = curl_slist_append(t->resolve, entry);
    snprintf(entry, sizeof entry, strchr(address, ':') ? "%s:%d:[%s]" : "%s:%d:%s", host, port,
             address);
    t->resolve = curl_slist_append(t->resolve, entry);
    curl_easy_setopt(t->easy, CURLOPT_RESOLVE, t->resolve);
}

static void transfer_start(struct engine *eng, struct transfer *t, const char *url,
                           const struct payload *p, int timeout_ms)
{
    CURL *h = t->easy;
    curl_easy_setopt(h, CURLOPT_URL, url);
    /* Waiting to learn whether a connection multiplexes costs a TLS handshake at most over
     * https (ALPN answers it), but over plain http it lasts until the first response: every
     * other endpoint on the host would wait behind a slow one. */
    curl_easy_setopt(h, CURLOPT_PIPEWAIT, strncmp(url, "https:", 6) == 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, (const char *)&p->data[0]);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->len);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    if (eng->test_hosts)
        pin_test_host(t, url);
    curl_multi_add_handle(eng->multi, h);
    t->prev_active = NULL;
    t->next_active = eng->active;
    if (eng->active)
        eng->active->prev_active = t;
    eng->active = t;
    eng->in_flight++;
}

static void transfer_remove(struct engine *eng, struct transfer *t)
{
    curl_multi_remove_handle(eng->multi, t->easy);
    if (t->prev_active)
        t->prev_active->next_active = t->next_active;
    else
        eng->active = t->next_active;
    if (t->next_active)
        t->next_active->prev_active = t->prev_active;
    eng->in_flight--;
}

static void start_delivery(struct engine *eng, struct ep_state *ep, struct engine_job *job)
{
    struct transfer *t = transfer_get(eng);
    int64_t now = t->started_ms;
    bool rotating = ep->previous_secret[0] && ep->previous_expires_at > now;
    struct sign_input in = {
        .event_id = job->event_id,
        .event_type = job->payload->event_type,
        .delivery_id = job->id,
        .attempt = job->attempt_count + 1,
        .timestamp = now / 1000,
        .body = job->payload->data,
        .body_len = job->payload->len,
        .hex_scheme = ep->hex_scheme,
        .secret = ep->secret,
        .previous_secret = rotating ? ep->previous_secret : NULL,
        .custom_lines = ep->header_lines,
    };
    t->job = job;
    t->ep = ep;
    t->attempt = in.attempt;
    t->headers = engine_request_headers(&in, &t->header_block);
    ep->in_flight++;
    transfer_start(eng, t, ep->one_shot ? job->url : ep->url, job->payload, ep->timeout_ms);
}

static void start_ping(struct engine *eng, struct engine_ping *ping)
{
    struct transfer *t = transfer_get(eng);
    char delivery_id[ID_MAX];
    struct sign_input in = {
        .event_id = ping->event_id,
        .event_type = ping->payload->event_type,
        .attempt = 1,
        .timestamp = t->started_ms / 1000,
        .body = ping->payload->data,
        .body_len = ping->payload->len,
        .hex_scheme = ping->hex_scheme,
        .secret = ping->secret,
        .custom_lines = NULL,
    };
    id_new("dlv_", delivery_id);
    in.delivery_id = delivery_id;
    t->ping = ping;
    char *custom = header_lines_from_json(ping->headers_json);
    in.custom_lines = custom;
    t->headers = engine_request_headers(&in, &t->header_block);
    free(custom);
    transfer_start(eng, t, ping->url, ping->payload, ping->timeout_seconds * 1000);
}

/* Starts what the limits allow, endpoints taking turns. */
static void dispatch(struct engine *eng)
{
    long cap = eng->opts.cfg->max_connections;
    struct ep_state *ep;
    while (eng->in_flight < cap && (ep = ready_pop(eng)) != NULL) {
        int retry_after;
        if (ep->head == NULL || ep->in_flight >= ep->max_in_flight)
            continue;
        if (ep->has_rate && !token_bucket_take(&ep->bucket, time_mono_ns(), &retry_after)) {
            /* come back when a token is there: a fraction of a second at most rates >= 1 */
            double wait_ms = 1000.0 * (1.0 - ep->bucket.tokens) / ep->bucket.rate;
            ep->wake_set = true;
            timer_push(eng, time_now_ms() + (int64_t)wait_ms + 1, NULL, ep);
            continue;
        }
        struct engine_job *job = ep->head;
        ep->head = job->next;
        if (ep->head == NULL)
            ep->tail = NULL;
        job->next = NULL;
        start_delivery(eng, ep, job);
        ready_push(eng, ep);
    }
}

static const char *error_class(CURLcode code, bool blocked)
{
    if (blocked)
        return "blocked_address";
    switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return "dns";
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
        return "tls";
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
        return "connection";
    case CURLE_UNSUPPORTED_PROTOCOL:
        return "protocol";
    default:
        return "network";
    }
}

static double jitter(void)
{
    return 2.0 * id_random_unit() - 1.0;
}

/* Turns a finished delivery into an outcome for the writer and decides what comes next. */
static void delivery_finished(struct engine *eng, struct transfer *t, CURLcode code, int status)
{
    struct engine_job *job = t->job;
    struct ep_state *ep = t->ep;
    const struct config *cfg = eng->opts.cfg;
    int64_t now = time_now_ms(), retry_after = -1;
    struct retry_decision decision;
    struct retry_input in = {
        .http_status = code == CURLE_OK ? status : 0,
        .blocked = t->blocked,
        .attempts_in_schedule = t->attempt - job->schedule_start,
        .schedule = cfg->retry_schedule_ms,
        .schedule_len = cfg->retry_count,
        .jitter = jitter(),
    };
    if (t->retry_after[0] && retry_after_parse(t->retry_after, now, &retry_after))
        in.retry_after_ms = retry_after;
    else
        in.retry_after_ms = -1;
    retry_decide(&in, &decision);

    struct attempt_outcome *o = outcome_new(eng);
    struct attempt *a = &o->attempt;
    id_make("att_", t->started_ms, a->id);
    text_copy(a->delivery_id, sizeof a->delivery_id, job->id);
    a->n = t->attempt;
    a->started_at = t->started_ms;
    a->duration_ms = (int)((time_mono_ns() - t->start_ns) / 1000000);
    a->response_status = in.http_status;
    if (in.http_status != 0) {
        utf8_scrub(t->body, t->body_len);
        a->response_body = xstrndup(t->body, t->body_len);
        utf8_scrub(t->response_headers, t->response_headers_len);
        a->response_headers = xstrndup(t->response_headers, t->response_headers_len);
    } else {
        text_copy(a->error, sizeof a->error, error_class(code, t->blocked));
        if (log_enabled(LOG_DEBUG))
            log_kv(LOG_DEBUG, "attempt failed", "delivery", json_string(job->id), "attempt",
                   json_integer(t->attempt), "error", json_string(a->error), "curl_code",
                   json_integer(code), "detail", json_string(t->error_text), NULL);
    }
    a->request_headers = header_lines_of(t->headers);
    text_copy(o->org_id, sizeof o->org_id, job->org_id);
    text_copy(o->endpoint_id, sizeof o->endpoint_id, job->endpoint_id);
    o->status = decision.status;
    o->next_attempt_at = now + decision.delay_ms;
    o->disable_gone = decision.disable_gone;
    o->disable_after = (int)cfg->disable_after;

    ep->in_flight--;
    job->attempt_count = t->attempt;
    if (decision.status == DLV_PENDING && decision.delay_ms <= MEMORY_HORIZON_MS) {
        job->due = o->next_attempt_at;
        timer_push(eng, job->due, job, NULL);
    } else {
        if (decision.status == DLV_PENDING && o->next_attempt_at < eng->store_due)
            eng->store_due = o->next_attempt_at;
        settle(eng, job);
    }
    ready_push(eng, ep);
}

/* A server may answer before it has read the whole body and then reset the stream with
 * NO_ERROR (RFC 9113 §8.1: nginx's `return 204` does), which libcurl 7.88 reports as a stream
 * or send error although a complete response came: that response is the receiver's answer. */
static CURLcode early_response_is_answer(CURL *easy, CURLcode code, long status)
{
    long version = 0;
    if ((code != CURLE_HTTP2_STREAM && code != CURLE_SEND_ERROR) || status < 200)
        return code;
    curl_easy_getinfo(easy, CURLINFO_HTTP_VERSION, &version);
    return version == CURL_HTTP_VERSION_2_0 ? CURLE_OK : code;
}

static void read_completions(struct engine *eng)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(eng->multi, &left)) != NULL) {
        struct transfer *t;
        long status = 0;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
        CURLcode code = early_response_is_answer(msg->easy_handle, msg->data.result, status);
        transfer_remove(eng, t);
        if (t->ping) {
            t->ping->done(t->ping, code == CURLE_OK ? (int)status : 0,
                          code == CURLE_OK ? NULL : error_class(code, t->blocked));
        } else {
            delivery_finished(eng, t, code, (int)status);
        }
        transfer_put(eng, t);
    }
}

/* --- the loop --- */

static struct message *take_inbox(struct engine *eng, bool *stop)
{
    struct message *list;
    pthread_mutex_lock(&eng->inbox_lock);
    list = eng->inbox_head;
    eng->inbox_head = eng->inbox_tail = NULL;
    *stop = eng->stop_requested;
    pthread_mutex_unlock(&eng->inbox_lock);
    return list;
}

/* Makes an endpoint reload its settings and puts its queued jobs through them again. */
static void reload_endpoint(struct engine *eng, struct ep_state *ep)
{
    struct engine_job *queued;
    ep_reset_config(ep);
    queued = ep->head;
    ep->head = ep->tail = NULL;
    /* queued jobs go back through the endpoint's fresh settings (it may be inactive now) */
    while (queued) {
        struct engine_job *next = queued->next;
        queue_job(eng, queued, time_now_ms());
        queued = next;
    }
}

static void endpoint_changed(struct engine *eng, const char *endpoint_id)
{
    struct ep_state *ep = ep_find(eng, endpoint_id);
    if (ep)
        reload_endpoint(eng, ep);
}

static void org_changed(struct engine *eng, const char *org_id)
{
    for (int i = 0; i < ENDPOINT_SLOTS; i++)
        for (struct ep_state *ep = eng->endpoints[i]; ep; ep = ep->hash_next)
            if (strcmp(ep->org_id, org_id) == 0)
                reload_endpoint(eng, ep);
}

static void handle_messages(struct engine *eng, struct message *list, bool stopping)
{
    int64_t now = time_now_ms();
    while (list) {
        struct message *next = list->next;
        switch (list->kind) {
        case MSG_JOBS:
            while (list->jobs) {
                struct engine_job *job = list->jobs;
                list->jobs = job->next;
                if (stopping)
                    engine_job_free(job); /* stays pending in the store */
                else
                    admit(eng, job, now);
            }
            break;
        case MSG_KICK:
            eng->scan_needed = true;
            eng->scan_after_ms = 0;
            eng->scan_after_id[0] = '\0';
            break;
        case MSG_ENDPOINT:
            endpoint_changed(eng, list->endpoint_id);
            break;
        case MSG_ORG:
            org_changed(eng, list->endpoint_id);
            break;
        case MSG_RECORDED:
            while (list->jobs) {
                struct engine_job *job = list->jobs;
                list->jobs = job->next;
                forget(eng, job);
            }
            break;
        case MSG_PING:
            if (stopping)
                list->ping->done(list->ping, 0, "shutdown");
            else
                start_ping(eng, list->ping);
            break;
        }
        free(list);
        list = next;
    }
}

static void fire_timers(struct engine *eng, int64_t now)
{
    while (eng->timer_count > 0 && eng->timers[0].due <= now) {
        struct timer t = timer_pop(eng);
        if (t.job) {
            queue_job(eng, t.job, now);
        } else {
            t.ep->wake_set = false;
            ready_push(eng, t.ep);
        }
    }
}

/* A database shared with other nodes (PostgreSQL) holds work this node was not handed: rows of
 * api nodes and of nodes whose lease ran out. Look for it at this pace (LISTEN would be
 * sooner; this is the fallback). */
static int64_t shared_scan_period_ms(const struct engine *eng)
{
    int64_t third = eng->opts.cfg->lease_ms / 3;
    return third < 1000 ? 1000 : third > 5000 ? 5000 : third;
}

static int poll_timeout_ms(struct engine *eng, int64_t now)
{
    int64_t wait = 1000;
    if (eng->scan_needed || eng->ready_head)
        return 0;
    if (eng->timer_count > 0 && eng->timers[0].due - now < wait)
        wait = eng->timers[0].due - now;
    if (eng->store_due != INT64_MAX && eng->store_due - now < wait)
        wait = eng->store_due - now;
    return wait < 0 ? 0 : (int)wait;
}

/* libcurl asks to watch a socket (CURL_POLL_IN/OUT/INOUT) or to forget it. A kept-alive
 * connection is forgotten after each transfer and watched again for the next: it stays in the
 * epoll set with no events in between, which saves two epoll_ctl calls a request. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_data)
{
    struct engine *eng = arg;
    struct epoll_event ev = {.data.fd = fd};
    (void)easy;
    (void)socket_data;
    if (fd < 0 || fd >= WATCHED_FDS) { /* beyond the table: plain add and delete */
        if (what == CURL_POLL_REMOVE)
            return epoll_ctl(eng->epoll_fd, EPOLL_CTL_DEL, fd, NULL), 0;
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
        if (epoll_ctl(eng->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0)
            epoll_ctl(eng->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
        return 0;
    }
    eng->watched[fd] = what != CURL_POLL_REMOVE;
    if (what != CURL_POLL_REMOVE)
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    /* a closed socket leaves the set by itself; its number may come back as a new socket */
    if (epoll_ctl(eng->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT &&
        what != CURL_POLL_REMOVE)
        epoll_ctl(eng->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* libcurl wants socket_action(CURL_SOCKET_TIMEOUT) after timeout_ms (-1: no timer). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct engine *eng = arg;
    (void)multi;
    eng->curl_due = timeout_ms < 0 ? INT64_MAX : time_now_ms() + timeout_ms;
    return 0;
}

static int wait_ms(struct engine *eng, int64_t now, bool stopping)
{
    int64_t wait = stopping ? 100 : poll_timeout_ms(eng, now);
    if (eng->curl_due != INT64_MAX && eng->curl_due - now < wait)
        wait = eng->curl_due - now;
    return wait < 0 ? 0 : (int)wait;
}

/* Waits for sockets, the wake-up eventfd or a timer, and lets libcurl act on what is ready:
 * only the sockets that have something to do, whatever the number of transfers. */
static void run_curl(struct engine *eng, int timeout_ms)
{
    struct epoll_event events[64];
    int running, n = epoll_wait(eng->epoll_fd, events, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd, flags = 0;
        if (fd == eng->wake_fd) {
            uint64_t count;
            ssize_t unused = read(eng->wake_fd, &count, sizeof count);
            (void)unused;
            continue;
        }
        if (fd == eng->store_wake_fd) { /* another node committed work no node holds */
            int woken = eng->opts.store->ops->wake_drain(eng->opts.store);
            if (woken < 0) { /* lost: the periodic scan goes on alone */
                epoll_ctl(eng->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
                eng->store_wake_fd = -1;
                log_warn("lost the wake-up connection; polling only", "node",
                         json_string(eng->node_id), NULL);
            } else if (woken > 0) {
                /* go on from where the scan is: new work lies ahead of it, and starting over
                 * at every wake-up would only re-read (and re-claim) rows memory holds */
                eng->scan_needed = true;
            }
            continue;
        }
        if (fd < WATCHED_FDS && !eng->watched[fd]) {
            /* an idle kept-alive socket reporting a hangup: out of the set until reused */
            epoll_ctl(eng->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
            continue;
        }
        if (events[i].events & EPOLLIN)
            flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP))
            flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(eng->multi, fd, flags, &running);
    }
    if (eng->curl_due <= time_now_ms()) {
        eng->curl_due = INT64_MAX;
        curl_multi_socket_action(eng->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

static void *engine_main(void *arg)
{
    struct engine *eng = arg;
    int64_t stop_deadline = 0;
    bool stopping = false;

    pthread_setname_np(pthread_self(), "hookd-engine");
    for (;;) {
        int64_t now = time_now_ms();
        struct message *inbox = take_inbox(eng, &stopping);
        handle_messages(eng, inbox, stopping);
        if (stopping && stop_deadline == 0)
            stop_deadline = now + STOP_GRACE_MS;
        if (!stopping) {
            if (eng->store_due <= now) {
                eng->store_due = eng->shared_store ? now + shared_scan_period_ms(eng) : INT64_MAX;
                eng->scan_needed = true;
            }
            if (eng->scan_needed)
                scan_store(eng, now);
            fire_timers(eng, now);
            dispatch(eng);
        }
        read_completions(eng);
        flush_outcomes(eng);
        if (stopping && (eng->in_flight == 0 || now >= stop_deadline))
            break;
        run_curl(eng, wait_ms(eng, now, stopping));
        read_completions(eng);
    }
    flush_outcomes(eng);
    if (eng->in_flight > 0)
        log_warn("attempts cut short at stop; their deliveries stay pending", "count",
                 json_integer(eng->in_flight), NULL);
    return NULL;
}

static void wake(struct engine *eng)
{
    uint64_t one = 1;
    ssize_t unused = write(eng->wake_fd, &one, sizeof one);
    (void)unused;
}

/* Only a message into an empty inbox wakes the loop: it clears the eventfd before it takes the
 * whole inbox, so a later one rides on the same wake-up. The writer posts every committed
 * event's jobs; a write per event cost it and the loop a syscall and a wake-up each. */
static void post(struct engine *eng, struct message *m)
{
    bool was_empty;
    m->next = NULL;
    pthread_mutex_lock(&eng->inbox_lock);
    was_empty = eng->inbox_head == NULL;
    if (eng->inbox_tail)
        eng->inbox_tail->next = m;
    else
        eng->inbox_head = m;
    eng->inbox_tail = m;
    pthread_mutex_unlock(&eng->inbox_lock);
    if (was_empty)
        wake(eng);
}

void engine_submit(struct engine *eng, struct engine_job *jobs)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = MSG_JOBS;
    m->jobs = jobs;
    post(eng, m);
}

void engine_kick(struct engine *eng)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = MSG_KICK;
    post(eng, m);
}

void engine_endpoint_changed(struct engine *eng, const char *endpoint_id)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = MSG_ENDPOINT;
    text_copy(m->endpoint_id, sizeof m->endpoint_id, endpoint_id);
    post(eng, m);
}

void engine_org_changed(struct engine *eng, const char *org_id)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = MSG_ORG;
    text_copy(m->endpoint_id, sizeof m->endpoint_id, org_id); /* the id field */
    post(eng, m);
}

void engine_ping(struct engine *eng, struct engine_ping *ping)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = MSG_PING;
    m->ping = ping;
    post(eng, m);
}

/* The system CAs plus --ca-file, so that extra CAs add to the trusted set instead of
 * replacing it. */
static char *read_ca_bundle(const char *extra, size_t *len)
{
    static const char *const system_bundles[] = {"/etc/ssl/certs/ca-certificates.crt",
                                                 "/etc/pki/tls/certs/ca-bundle.crt"};
    const char *files[2] = {NULL, extra};
    char *data = NULL;
    size_t used = 0;
    for (size_t i = 0; i < sizeof system_bundles / sizeof system_bundles[0]; i++) {
        FILE *f = fopen(system_bundles[i], "rb");
        if (f) {
            fclose(f);
            files[0] = system_bundles[i];
            break;
        }
    }
    for (int i = 0; i < 2; i++) {
        FILE *f;
        char chunk[65536];
        size_t n;
        if (files[i] == NULL || (f = fopen(files[i], "rb")) == NULL) {
            if (i == 1) {
                free(data);
                return NULL;
            }
            continue;
        }
        while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
            data = xrealloc(data, used + n + 2);
            memcpy(data + used, chunk, n);
            used += n;
        }
        fclose(f);
        data = xrealloc(data, used + 2);
        data[used++] = '\n';
    }
    *len = used;
    return data;
}

struct engine *engine_start(const struct engine_options *opts, struct err *e)
{
    struct engine *eng = xcalloc(1, sizeof *eng);
    const struct config *cfg = opts->cfg;

    eng->epoll_fd = eng->wake_fd = eng->store_wake_fd = -1;
    eng->opts = *opts;
    text_copy(eng->node_id, sizeof eng->node_id, opts->node_id);
    eng->policy.allow_http = cfg->allow_http;
    eng->policy.allow_private = cfg->allow_private;
    eng->shared_store = strcmp(opts->store->ops->scheme, "sqlite") != 0;
    eng->store_due = eng->shared_store ? time_now_ms() : INT64_MAX;
    eng->test_hosts = getenv("HOOKD_TEST_HOSTS") != NULL;
    if (eng->test_hosts)
        log_warn("HOOKD_TEST_HOSTS overrides name resolution: for tests only", "file",
                 json_string(getenv("HOOKD_TEST_HOSTS")), NULL);
    eng->scan_needed = true; /* take up what the store holds for this node */
    eng->scan_rows = xcalloc(SCAN_PAGE, sizeof *eng->scan_rows);
    pthread_mutex_init(&eng->inbox_lock, NULL);
    if (cfg->ca_file[0]) {
        size_t len = 0;
        eng->ca_data = read_ca_bundle(cfg->ca_file, &len);
        if (eng->ca_data == NULL) {
            err_invalid(e, "ca-file", "cannot read --ca-file %s", cfg->ca_file);
            goto fail;
        }
        eng->ca_blob.data = eng->ca_data;
        eng->ca_blob.len = len;
        eng->ca_blob.flags = CURL_BLOB_NOCOPY;
    }
    eng->conn = store_acquire(opts->store);
    eng->multi = curl_multi_init();
    eng->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    eng->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    eng->curl_due = INT64_MAX;
    if (eng->conn == NULL || eng->multi == NULL || eng->epoll_fd < 0 || eng->wake_fd < 0) {
        err_internal(e, "cannot start the delivery engine");
        goto fail;
    }
    struct epoll_event wake_event = {.events = EPOLLIN, .data.fd = eng->wake_fd};
    epoll_ctl(eng->epoll_fd, EPOLL_CTL_ADD, eng->wake_fd, &wake_event);
    eng->store_wake_fd = opts->store->ops->wake_fd ? opts->store->ops->wake_fd(opts->store) : -1;
    if (eng->store_wake_fd >= 0) {
        struct epoll_event store_event = {.events = EPOLLIN, .data.fd = eng->store_wake_fd};
        epoll_ctl(eng->epoll_fd, EPOLL_CTL_ADD, eng->store_wake_fd, &store_event);
    }
    curl_multi_setopt(eng->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(eng->multi, CURLMOPT_SOCKETDATA, eng);
    curl_multi_setopt(eng->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(eng->multi, CURLMOPT_TIMERDATA, eng);
    curl_multi_setopt(eng->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cfg->max_connections);
    curl_multi_setopt(eng->multi, CURLMOPT_MAXCONNECTS, cfg->max_connections);
    if (pthread_create(&eng->thread, NULL, engine_main, eng) != 0) {
        err_internal(e, "cannot start the dispatcher thread");
        goto fail;
    }
    return eng;
fail:
    store_release(eng->conn);
    curl_multi_cleanup(eng->multi);
    if (eng->epoll_fd >= 0)
        close(eng->epoll_fd);
    if (eng->wake_fd >= 0)
        close(eng->wake_fd);
    free(eng->ca_data);
    pthread_mutex_destroy(&eng->inbox_lock);
    free(eng->scan_rows);
    free(eng);
    return NULL;
}

void engine_stop(struct engine *eng)
{
    if (eng == NULL || eng->joined)
        return;
    pthread_mutex_lock(&eng->inbox_lock);
    eng->stop_requested = true;
    pthread_mutex_unlock(&eng->inbox_lock);
    wake(eng);
    pthread_join(eng->thread, NULL);
    eng->joined = true;
}

void engine_free(struct engine *eng)
{
    bool stopping;
    if (eng == NULL)
        return;
    handle_messages(eng, take_inbox(eng, &stopping), true);
    /* transfers still in the multi handle were cut short */
    while (eng->active) {
        struct transfer *t = eng->active;
        transfer_remove(eng, t);
        if (t->ping)
            t->ping->done(t->ping, 0, "shutdown");
        else
            forget(eng, t->job);
        transfer_put(eng, t);
    }
    for (int i = 0; i < eng->timer_count; i++)
        if (eng->timers[i].job)
            forget(eng, eng->timers[i].job);
    for (int i = 0; i < ENDPOINT_SLOTS; i++) {
        while (eng->endpoints[i]) {
            struct ep_state *ep = eng->endpoints[i];
            eng->endpoints[i] = ep->hash_next;
            while (ep->head) {
                struct engine_job *job = ep->head;
                ep->head = job->next;
                forget(eng, job);
            }
            ep_reset_config(ep);
            free(ep);
        }
    }
    while (eng->free_transfers) {
        struct transfer *t = eng->free_transfers;
        eng->free_transfers = t->next_free;
        curl_easy_cleanup(t->easy);
        free(t);
    }
    for (int i = 0; i < eng->outcome_count; i++)
        attempt_clear(&eng->outcomes[i].attempt);
    while (eng->settled) {
        struct engine_job *job = eng->settled;
        eng->settled = job->next;
        forget(eng, job);
    }
    free(eng->outcomes);
    free(eng->timers);
    free(eng->scan_rows);
    curl_multi_cleanup(eng->multi);
    close(eng->epoll_fd);
    close(eng->wake_fd);
    store_release(eng->conn);
    free(eng->ca_data);
    pthread_mutex_destroy(&eng->inbox_lock);
    free(eng);
}
