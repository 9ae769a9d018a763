/* The engine's public face (engine.h): its delivery loops started and stopped together, work
 * routed to the loop that holds its endpoint, and the connection budget they share. */
#include "engine/engine.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "engine/loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_LOOPS 64

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

struct loop *engine_loop_of(struct engine *eng, const char *queue_key)
{
    return &eng->loops[queue_key_part(queue_key, eng->loop_count)];
}

bool engine_connection_take(struct engine *eng, struct loop *loop)
{
    int granted = atomic_load(&loop->granted);
    while (granted > 0)
        if (atomic_compare_exchange_weak(&loop->granted, &granted, granted - 1))
            return true;
    if (atomic_fetch_add(&eng->connections, 1) < eng->opts.cfg->max_connections)
        return true;
    atomic_fetch_sub(&eng->connections, 1);
    return false;
}

void engine_connection_give(struct engine *eng, struct loop *loop)
{
    for (int i = 1; i < eng->loop_count; i++) {
        struct loop *next = &eng->loops[(loop->index + i) % eng->loop_count];
        if (atomic_load(&next->starved) && atomic_exchange(&next->starved, false)) {
            atomic_fetch_add(&next->granted, 1); /* still counted in connections */
            loop_wake(next);
            return;
        }
    }
    atomic_fetch_sub(&eng->connections, 1);
}

bool engine_connection_available(struct engine *eng, struct loop *loop)
{
    return atomic_load(&loop->granted) > 0 ||
           atomic_load(&eng->connections) < eng->opts.cfg->max_connections;
}

/* --delivery-threads, 0 meaning one per core. */
static int loop_count_of(const struct config *cfg)
{
    long n = cfg->delivery_threads;
    if (n <= 0)
        n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_LOOPS ? MAX_LOOPS : (int)n;
}

static void engine_destroy(struct engine *eng)
{
    for (int i = 0; i < eng->loop_count; i++)
        loop_free(&eng->loops[i]);
    free(eng->loops);
    free(eng->ca_data);
    free(eng);
}

struct engine *engine_start(const struct engine_options *opts, struct err *e)
{
    struct engine *eng = xcalloc(1, sizeof *eng);
    const struct config *cfg = opts->cfg;
    int count = loop_count_of(cfg), ready = 0;

    eng->opts = *opts;
    text_copy(eng->node_id, sizeof eng->node_id, opts->node_id);
    eng->policy.allow_http = cfg->allow_http;
    eng->policy.allow_private = cfg->allow_private;
    if (getenv("HOOKD_TEST_HOSTS"))
        log_warn("HOOKD_TEST_HOSTS overrides name resolution: for tests only", "file",
                 json_string(getenv("HOOKD_TEST_HOSTS")), NULL);
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
    eng->loops = xcalloc((size_t)count, sizeof *eng->loops);
    for (; ready < count; ready++) {
        eng->loop_count = ready + 1; /* what engine_destroy frees */
        if (loop_init(&eng->loops[ready], eng, ready, e) != 0)
            goto fail;
    }
    for (int i = 0; i < count; i++) {
        if (loop_start(&eng->loops[i], e) != 0) {
            for (int j = 0; j < i; j++) {
                loop_request_stop(&eng->loops[j]);
                loop_join(&eng->loops[j]);
            }
            goto fail;
        }
    }
    log_info("delivery engine started", "threads", json_integer(count), NULL);
    return eng;
fail:
    engine_destroy(eng);
    return NULL;
}

void engine_stop(struct engine *eng)
{
    if (eng == NULL || eng->joined)
        return;
    for (int i = 0; i < eng->loop_count; i++)
        loop_request_stop(&eng->loops[i]);
    for (int i = 0; i < eng->loop_count; i++)
        loop_join(&eng->loops[i]);
    eng->joined = true;
}

void engine_free(struct engine *eng)
{
    if (eng)
        engine_destroy(eng);
}

static struct message *message_new(enum message_kind kind, const char *id)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = kind;
    if (id)
        text_copy(m->id, sizeof m->id, id);
    return m;
}

/* A message to every loop. */
static void broadcast(struct engine *eng, enum message_kind kind, const char *id)
{
    for (int i = 0; i < eng->loop_count; i++)
        loop_post(&eng->loops[i], message_new(kind, id));
}

void engine_submit(struct engine *eng, struct engine_job *jobs)
{
    struct engine_job *per_loop[MAX_LOOPS] = {0};
    char key[JOB_QUEUE_KEY_MAX];
    /* one message per loop that gets any of them */
    while (jobs) {
        struct engine_job *next = jobs->next;
        int i;
        engine_job_queue_key(jobs, key);
        i = (int)(engine_loop_of(eng, key) - eng->loops);
        jobs->next = per_loop[i];
        per_loop[i] = jobs;
        jobs = next;
    }
    for (int i = 0; i < eng->loop_count; i++) {
        if (per_loop[i]) {
            struct message *m = message_new(MSG_JOBS, NULL);
            m->jobs = per_loop[i];
            loop_post(&eng->loops[i], m);
        }
    }
}

void engine_kick(struct engine *eng)
{
    broadcast(eng, MSG_KICK, NULL);
}

void engine_endpoint_changed(struct engine *eng, const char *endpoint_id)
{
    loop_post(engine_loop_of(eng, endpoint_id), message_new(MSG_ENDPOINT, endpoint_id));
}

void engine_org_changed(struct engine *eng, const char *org_id)
{
    broadcast(eng, MSG_ORG, org_id);
}

void engine_ping(struct engine *eng, struct engine_ping *ping)
{
    unsigned n = atomic_fetch_add(&eng->next_ping, 1);
    struct message *m = message_new(MSG_PING, NULL);
    m->ping = ping;
    loop_post(&eng->loops[n % (unsigned)eng->loop_count], m);
}
