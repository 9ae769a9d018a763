/* Jobs, payloads and the index of jobs in memory. */
#include "engine/job.h"

#include "core/mem.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void engine_job_free_list(struct engine_job *jobs)
{
    while (jobs) {
        struct engine_job *next = jobs->next;
        engine_job_free(jobs);
        jobs = next;
    }
}

void queue_key_of(const char *endpoint_id, const char *org_id, char key[JOB_QUEUE_KEY_MAX])
{
    if (endpoint_id[0])
        text_copy(key, JOB_QUEUE_KEY_MAX, endpoint_id);
    else
        snprintf(key, JOB_QUEUE_KEY_MAX, "org:%s", org_id);
}

int queue_key_part(const char *key, int parts)
{
    size_t len = strlen(key);
    unsigned last = len > 0 ? (unsigned char)key[len - 1] : 0;
    unsigned before = len > 1 ? (unsigned char)key[len - 2] : 0;
    return parts > 1 ? (int)((last + 31u * before) % (unsigned)parts) : 0;
}

void engine_job_queue_key(const struct engine_job *job, char key[JOB_QUEUE_KEY_MAX])
{
    queue_key_of(job->endpoint_id, job->org_id, key);
}

static unsigned slot_of(const char *id)
{
    return text_hash(id) & (JOB_INDEX_SLOTS - 1);
}

bool job_index_has(const struct job_index *index, const char *id)
{
    for (const struct engine_job *j = index->slots[slot_of(id)]; j; j = j->hash_next)
        if (strcmp(j->id, id) == 0)
            return true;
    return false;
}

void job_index_add(struct job_index *index, struct engine_job *job)
{
    unsigned slot = slot_of(job->id);
    job->hash_next = index->slots[slot];
    index->slots[slot] = job;
    index->count++;
}

void job_index_remove(struct job_index *index, struct engine_job *job)
{
    for (struct engine_job **p = &index->slots[slot_of(job->id)]; *p; p = &(*p)->hash_next) {
        if (*p == job) {
            *p = job->hash_next;
            index->count--;
            return;
        }
    }
}
