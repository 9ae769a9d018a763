/* The engine's unit of work: one delivery in memory (a job) with the envelope it shares with the
 * other deliveries of its event (a payload), and the index of the jobs a delivery loop holds. */
#ifndef HOOKD_ENGINE_JOB_H
#define HOOKD_ENGINE_JOB_H

#include "core/id.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* An envelope shared by every delivery of one event (sent byte-identical to each). */
struct payload {
    atomic_int refs;
    char *event_type; /* owned */
    size_t len;
    char data[];
};

/* A copy of data[0..len) with one reference. */
struct payload *payload_new(const char *data, size_t len, const char *event_type);
struct payload *payload_retain(struct payload *p);
/* Drops a reference; NULL is a no-op. Thread-safe. */
void payload_release(struct payload *p);

/* One delivery in the engine's memory. */
struct engine_job {
    char id[ID_MAX];
    char org_id[ID_MAX];
    char event_id[ID_MAX];
    char endpoint_id[ID_MAX]; /* "" for a one-shot delivery */
    char *url;                /* one-shot URL; owned */
    int attempt_count;        /* attempts made so far */
    int schedule_start;
    int64_t due; /* ms */
    struct payload *payload;
    struct engine_job *next;      /* list and queue link */
    struct engine_job *hash_next; /* link in a job_index */
};

/* A new job (one payload reference taken). endpoint_id and url may be NULL. */
struct engine_job *engine_job_new(const char *id, const char *org_id, const char *event_id,
                                  const char *endpoint_id, const char *url, struct payload *payload,
                                  int64_t due);
/* NULL is a no-op. */
void engine_job_free(struct engine_job *job);
/* Frees a list linked by ->next. */
void engine_job_free_list(struct engine_job *jobs);

/* The key of the queue a job goes to: its endpoint id, or "org:<org id>" for the one-shot
 * deliveries of an org, which share one queue signed with the org's secret. */
#define JOB_QUEUE_KEY_MAX (ID_MAX + 8)
void engine_job_queue_key(const struct engine_job *job, char key[JOB_QUEUE_KEY_MAX]);
/* The same from a delivery's endpoint id ("" for one-shot) and org id. */
void queue_key_of(const char *endpoint_id, const char *org_id, char key[JOB_QUEUE_KEY_MAX]);
/* The part (0 to parts - 1) a queue key falls in: the delivery loop that holds it. From its
 * last two characters, the random end of an id, as c[-1] + 31 * c[-2]: the store's scans split
 * due rows the same way in SQL (the dialects' delivery_due), each loop reading its own. */
int queue_key_part(const char *key, int parts);

/* The jobs a loop holds, by delivery id (a job is in one index at most). Not thread-safe. */
#define JOB_INDEX_SLOTS 65536 /* power of two */
struct job_index {
    struct engine_job *slots[JOB_INDEX_SLOTS];
    int count;
};

bool job_index_has(const struct job_index *index, const char *id);
void job_index_add(struct job_index *index, struct engine_job *job);
void job_index_remove(struct job_index *index, struct engine_job *job);

#endif
