/* The scheduling rules of one delivery loop, apart from any I/O: which jobs are held in memory
 * (admission, the memory horizon for retries), the per-endpoint queues bounded by max_in_flight
 * and rate_limit, endpoints taking turns, the timer heap, the store-scan cursor, and "a job
 * leaves memory only once its outcome is committed". No libcurl here: the loop asks for the next
 * job to start and reports how it ended; the store is reached through a sched_source. Not
 * thread-safe: one scheduler per loop, used by that loop's thread only. */
#ifndef HOOKD_ENGINE_SCHEDULER_H
#define HOOKD_ENGINE_SCHEDULER_H

#include "core/ratelimit.h"
#include "core/config.h"
#include "engine/job.h"
#include "engine/timers.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

/* How a request to an endpoint is made and signed (plain data, filled by the source's load). */
struct endpoint_target {
    char *url; /* NULL for one-shot queues: each job has its own; owned */
    char secret[SECRET_BYTES], previous_secret[SECRET_BYTES];
    int64_t previous_expires_at;
    bool hex_scheme;
    bool ed25519_scheme; /* the secrets are Ed25519 secret keys (whsk_) */
    char *header_lines;  /* custom headers, "Name: value\n" lines, or NULL; owned */
    int timeout_ms;
};

/* An endpoint (or an org's one-shot queue) as a loop sees it: its settings and its queue. */
struct sched_endpoint {
    char key[JOB_QUEUE_KEY_MAX]; /* engine_job_queue_key */
    char org_id[ID_MAX];
    bool one_shot;
    bool loaded; /* settings read; false again after a change */
    bool usable; /* exists and is active */
    struct endpoint_target target;
    /* its own retry schedule and disable threshold (issue 17); 0: the server's */
    int64_t retry_schedule_ms[CONFIG_MAX_RETRIES];
    int retry_count;
    int disable_after;
    bool is_fifo; /* an ended delivery lets its key's next one start */
    int max_in_flight;
    bool has_rate;
    struct token_bucket bucket;
    int in_flight;
    struct engine_job *head, *tail;
    bool in_ready, wake_set;
    struct sched_endpoint *ready_next;
    struct sched_endpoint *hash_next;
};

/* What the scheduler needs from outside; every function is called on the loop's thread. */
struct sched_source {
    void *ctx;
    /* Fills ep's settings (usable, target, max_in_flight, has_rate and bucket), or returns
     * false when the store did not answer (the job is tried again a second later). */
    bool (*load)(void *ctx, struct sched_endpoint *ep);
    /* Due rows of this loop's queues after the cursor, as store_delivery_due (held: with those
     * this node holds already); 0 or an ERR_ code. */
    int (*read_due)(void *ctx, int64_t now, int64_t after_ms, const char *after_id, bool held,
                    struct due_delivery *rows, int max, int *count);
    /* Whether this loop holds the queue of that key (the others' rows are skipped). */
    bool (*owns)(void *ctx, const char *queue_key);
    /* A job ends without an attempt (its endpoint is gone or inactive): record it and call
     * sched_settle, so that it does not come back from the store. */
    void (*end_without_attempt)(void *ctx, struct engine_job *job, const char *why);
};

struct sched_limits {
    int memory_jobs;        /* jobs held in memory; the rest wait in the store */
    int64_t horizon_ms;     /* retries due later than this wait in the store */
    int scan_page;          /* rows read from the store per scan step */
    int64_t shared_scan_ms; /* > 0: other nodes share the store, look in it this often */
};

#define SCHED_ENDPOINT_SLOTS 1024 /* power of two */

struct scheduler {
    struct sched_limits limits;
    struct sched_source src;
    struct job_index known;
    struct sched_endpoint *endpoints[SCHED_ENDPOINT_SLOTS];
    struct sched_endpoint *ready_head, *ready_tail;
    struct timer_heap timers;
    int in_flight;
    /* store scanning */
    bool scan_needed;
    bool scan_held;       /* this pass reads the rows this node holds too, not only new ones */
    int64_t pass_started; /* when the pass under way read its first page, or 0 */
    int64_t scan_after_ms;
    char scan_after_id[ID_MAX];
    struct due_delivery *scan_rows; /* scan_page rows */
    int64_t store_due;  /* earliest due time of this node's work left in the store, or INT64_MAX */
    int64_t shared_due; /* next look for other nodes' work (shared_scan_ms), or INT64_MAX */
    struct engine_job *settled; /* outcome on its way to the store */
};

/* A scheduler that scans the store at its first turn. sched_free releases what it holds. */
void sched_init(struct scheduler *s, const struct sched_limits *limits,
                const struct sched_source *src, int64_t now);
void sched_free(struct scheduler *s);

/* Takes a job (the scheduler's now) into memory, or leaves it to the store when memory is full
 * or when it is known already. */
void sched_admit(struct scheduler *s, struct engine_job *job, int64_t now);
/* Work of this node in the store that memory does not hold (a retry or replay through the
 * API): scan from the start, with the rows this node holds. */
void sched_rescan(struct scheduler *s);
/* New work no node holds, due from from (another node's commit): go on from where the scan
 * is, or from from if that is behind it. After a pass that reached the end, the scan is where
 * that pass began: what commits later with an earlier due time wakes the node with it. */
void sched_scan_on(struct scheduler *s, int64_t from);
/* One turn's housekeeping: scan the store when needed, queue the jobs whose timer is due. */
void sched_turn(struct scheduler *s, int64_t now);

/* The next job that its endpoint's limits let start now, endpoints taking turns, with *ep set;
 * NULL when none. The job is out of its queue and counted in flight until sched_finished. */
struct engine_job *sched_next(struct scheduler *s, int64_t now_ns, int64_t now_ms,
                              struct sched_endpoint **ep);
bool sched_has_ready(const struct scheduler *s);

/* An attempt of job ended. status DLV_PENDING with next_attempt_at: a retry, held in memory when
 * it falls within the horizon; any other status: the job settles. The caller records the
 * outcome for the store. */
void sched_finished(struct scheduler *s, struct sched_endpoint *ep, struct engine_job *job,
                    enum delivery_status status, int64_t next_attempt_at, int64_t now);
/* The job's outcome is on its way to the store: it stays known until sched_recorded, or a scan
 * in between would find its row still pending and send it again. */
void sched_settle(struct scheduler *s, struct engine_job *job);
/* The settled jobs since the last call (a list by ->next), to hand over with their outcomes. */
struct engine_job *sched_take_settled(struct scheduler *s);
/* Those outcomes are committed, or failed (stored false): the jobs leave memory, and a failure
 * leaves their rows pending for the next scan. */
void sched_recorded(struct scheduler *s, struct engine_job *jobs, bool stored);

/* Settings changed: reload them before the next use and put the queued jobs through them. */
void sched_endpoint_changed(struct scheduler *s, const char *key, int64_t now);
void sched_org_changed(struct scheduler *s, const char *org_id, int64_t now);

/* How long the loop may sleep before the scheduler has something to do (at most 1 s);
 * can_start says whether the global cap leaves room to start a ready job. */
int sched_wait_ms(const struct scheduler *s, int64_t now, bool can_start);

#endif
