/* A hash table of token buckets keyed by API key id. Keys are few (one bucket each, never
 * freed while serving), so one lock and chained slots are enough. */
#include "api/limits.h"

#include "core/id.h"
#include "core/mem.h"
#include "core/ratelimit.h"
#include "core/timeutil.h"
#include "core/text.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 1024

struct bucket_entry {
    char key_id[ID_MAX];
    struct token_bucket bucket;
    struct bucket_entry *next;
};

struct key_limits {
    double rate;
    pthread_mutex_t lock;
    struct bucket_entry *slots[SLOTS];
};

struct key_limits *key_limits_new(long rate_per_second)
{
    struct key_limits *limits = xcalloc(1, sizeof *limits);
    limits->rate = (double)rate_per_second;
    pthread_mutex_init(&limits->lock, NULL);
    return limits;
}

void key_limits_free(struct key_limits *limits)
{
    if (limits == NULL)
        return;
    for (int i = 0; i < SLOTS; i++) {
        while (limits->slots[i]) {
            struct bucket_entry *next = limits->slots[i]->next;
            free(limits->slots[i]);
            limits->slots[i] = next;
        }
    }
    pthread_mutex_destroy(&limits->lock);
    free(limits);
}

static unsigned slot_of(const char *key_id)
{
    return text_hash(key_id) % SLOTS;
}

bool key_limits_take(struct key_limits *limits, const char *key_id, int *retry_after_s)
{
    unsigned slot = slot_of(key_id);
    int64_t now = time_mono_ns();
    struct bucket_entry *entry;
    bool allowed;

    pthread_mutex_lock(&limits->lock);
    for (entry = limits->slots[slot]; entry; entry = entry->next)
        if (strcmp(entry->key_id, key_id) == 0)
            break;
    if (entry == NULL) {
        entry = xcalloc(1, sizeof *entry);
        text_copy(entry->key_id, sizeof entry->key_id, key_id);
        token_bucket_init(&entry->bucket, limits->rate, 2 * limits->rate, now);
        entry->next = limits->slots[slot];
        limits->slots[slot] = entry;
    }
    allowed = token_bucket_take(&entry->bucket, now, retry_after_s);
    pthread_mutex_unlock(&limits->lock);
    return allowed;
}
