/* Inside the engine: what its delivery loops share (struct engine) and one loop (struct loop):
 * a thread with its own scheduler, libcurl multi handle and connection pool, store connection,
 * outcome batcher and inbox. Endpoints are sharded among the loops by their queue key, so an
 * endpoint's max_in_flight and rate_limit are kept by one thread; --max-connections is a
 * budget shared by all. */
#ifndef HOOKD_ENGINE_LOOP_H
#define HOOKD_ENGINE_LOOP_H

#include "engine/engine.h"
#include "engine/outcomes.h"
#include "engine/scheduler.h"
#include "engine/transfer.h"

#include <pthread.h>
#include <stdatomic.h>

#define WATCHED_FDS 65536 /* sockets a loop tracks in its table */

enum message_kind {
    MSG_JOBS,
    MSG_KICK,
    MSG_SCAN_ON,
    MSG_ENDPOINT,
    MSG_ORG,
    MSG_PING,
    MSG_RECORDED
};

struct message {
    enum message_kind kind;
    struct engine_job *jobs;
    bool stored;  /* MSG_RECORDED: the outcomes were committed */
    int64_t from; /* MSG_SCAN_ON: the new work is due from then */
    struct engine_ping *ping;
    char id[ID_MAX]; /* the endpoint or org */
    struct message *next;
};

struct loop {
    struct engine *eng;
    int index;
    pthread_t thread;
    bool started;
    CURLM *multi;
    int epoll_fd, wake_fd;     /* the loop's sockets, and an eventfd that wakes it */
    bool watched[WATCHED_FDS]; /* sockets libcurl wants events for now */
    int store_wake_fd;         /* the store's wake-ups from other nodes (loop 0 only), or -1 */
    int64_t curl_due;          /* when libcurl wants its timeout action, or INT64_MAX */
    struct store_conn *conn;   /* the loop's read connection */
    atomic_bool starved;       /* waits for the connection budget */
    atomic_int granted;        /* slots of the budget handed to it by other loops */

    pthread_mutex_t inbox_lock;
    struct message *inbox_head, *inbox_tail;
    bool stop_requested;

    struct scheduler sched;
    struct transfer_pool pool;
    struct outcome_batcher outcomes;
};

struct engine {
    struct engine_options opts;
    char node_id[ID_MAX];
    struct url_policy policy;
    struct curl_blob ca_blob;
    char *ca_data;
    atomic_int connections; /* requests in flight over all loops, at most max_connections */
    atomic_uint next_ping;  /* pings go round the loops */
    int loop_count;
    struct loop *loops;
    bool joined;
};

/* Sets up loop index of eng (not its thread); 0 or ERR_FAIL with e set. */
int loop_init(struct loop *loop, struct engine *eng, int index, struct err *e);
int loop_start(struct loop *loop, struct err *e);
/* Asks the loop to stop; loop_join waits for it. */
void loop_request_stop(struct loop *loop);
void loop_join(struct loop *loop);
/* Frees what the loop holds (after loop_join, or when it never started). */
void loop_free(struct loop *loop);
/* Queues a message for the loop (any thread); the loop owns it from here. */
void loop_post(struct loop *loop, struct message *m);
void loop_wake(struct loop *loop);

/* The loop that holds a queue key (job.h's queue_key_part, as the store's scans split rows). */
struct loop *engine_loop_of(struct engine *eng, const char *queue_key);
/* The connection budget: a slot for one request of loop, or false when all are in use. */
bool engine_connection_take(struct engine *eng, struct loop *loop);
/* A slot back from loop: handed to the next loop that waits for one (loops take turns, as
 * endpoints do within a loop), else free again. */
void engine_connection_give(struct engine *eng, struct loop *loop);
/* Whether loop could take a slot now. */
bool engine_connection_available(struct engine *eng, struct loop *loop);

/* deliver.c: a loop's requests, from a job or a ping to an outcome. */
void deliver_start(struct loop *loop, struct sched_endpoint *ep, struct engine_job *job);
void deliver_ping(struct loop *loop, struct engine_ping *ping);
void deliver_finished(struct loop *loop, struct transfer *t, CURLcode code, long status);
/* The scheduler's source over the store for this loop. */
struct sched_source deliver_source(struct loop *loop);

#endif
