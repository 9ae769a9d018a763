/* A delivery loop's thread: waits on its sockets, its inbox and its timers, lets libcurl act on
 * what is ready, and turns the scheduler's decisions into transfers (see loop.h). */
#include "engine/loop.h"

#include "core/log.h"
#include "core/mem.h"
#include "core/text.h"
#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define MEMORY_JOBS 50000        /* jobs held in memory per loop; the rest wait in the store */
#define MEMORY_HORIZON_MS 300000 /* retries due later than this wait in the store */
#define SCAN_PAGE 512            /* rows read from the store per scan step */
#define STOP_GRACE_MS 10000      /* attempts in flight at SIGTERM get this long (§4.5) */

/* --- the inbox --- */

void loop_wake(struct loop *loop)
{
    uint64_t one = 1;
    ssize_t unused = write(loop->wake_fd, &one, sizeof one);
    (void)unused;
}

/* Only a message into an empty inbox wakes the loop: it clears the eventfd before it takes the
 * whole inbox, so a later one rides on the same wake-up. The writer posts every committed
 * event's jobs; a write per event cost it and the loop a syscall and a wake-up each. */
void loop_post(struct loop *loop, struct message *m)
{
    bool was_empty;
    m->next = NULL;
    pthread_mutex_lock(&loop->inbox_lock);
    was_empty = loop->inbox_head == NULL;
    if (loop->inbox_tail)
        loop->inbox_tail->next = m;
    else
        loop->inbox_head = m;
    loop->inbox_tail = m;
    pthread_mutex_unlock(&loop->inbox_lock);
    if (was_empty)
        loop_wake(loop);
}

static struct message *take_inbox(struct loop *loop, bool *stop)
{
    struct message *list;
    pthread_mutex_lock(&loop->inbox_lock);
    list = loop->inbox_head;
    loop->inbox_head = loop->inbox_tail = NULL;
    *stop = loop->stop_requested;
    pthread_mutex_unlock(&loop->inbox_lock);
    return list;
}

static void handle_messages(struct loop *loop, struct message *list, bool stopping)
{
    struct scheduler *s = &loop->sched;
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
                    sched_admit(s, job, now);
            }
            break;
        case MSG_KICK:
            sched_rescan(s);
            break;
        case MSG_SCAN_ON:
            sched_scan_on(s, list->from);
            break;
        case MSG_ENDPOINT:
            sched_endpoint_changed(s, list->id, now);
            break;
        case MSG_ORG:
            sched_org_changed(s, list->id, now);
            break;
        case MSG_RECORDED:
            sched_recorded(s, list->jobs, list->stored);
            break;
        case MSG_PING:
            if (stopping) {
                list->ping->done(list->ping, 0, "shutdown");
            } else {
                atomic_fetch_add(&loop->eng->connections, 1); /* counted, never held back */
                deliver_ping(loop, list->ping);
            }
            break;
        }
        free(list);
        list = next;
    }
}

/* --- outcomes, back from the writer's thread --- */

static void on_disabled(void *ctx, const char *endpoint_id)
{
    struct loop *loop = ctx;
    engine_endpoint_changed(loop->eng, endpoint_id);
}

static void on_recorded(void *ctx, struct engine_job *jobs, bool stored)
{
    struct message *m = xcalloc(1, sizeof *m);
    m->kind = MSG_RECORDED; /* back to the loop, which owns its index of jobs */
    m->jobs = jobs;
    m->stored = stored;
    loop_post(ctx, m);
}

/* --- dispatching and completions --- */

/* Starts what the limits allow, endpoints taking turns, within the shared connection budget. */
static void dispatch(struct loop *loop)
{
    struct scheduler *s = &loop->sched;
    struct engine *eng = loop->eng;
    while (sched_has_ready(s)) {
        struct sched_endpoint *ep;
        struct engine_job *job;
        if (!engine_connection_take(eng, loop)) {
            /* say so first, then look again: a slot given back in between is not missed */
            atomic_store(&loop->starved, true);
            if (!engine_connection_take(eng, loop))
                return;
            atomic_store(&loop->starved, false);
        }
        job = sched_next(s, time_mono_ns(), time_now_ms(), &ep);
        if (job == NULL) {
            engine_connection_give(eng, loop);
            break;
        }
        deliver_start(loop, ep, job);
    }
    /* slots handed over for nothing to start go on to the others */
    while (atomic_load(&loop->granted) > 0 && engine_connection_take(eng, loop))
        engine_connection_give(eng, loop);
}

static void read_completions(struct loop *loop)
{
    struct transfer *t;
    CURLcode code;
    long status;
    while ((t = transfer_next_done(&loop->pool, &code, &status)) != NULL) {
        if (t->ping)
            t->ping->done(t->ping, code == CURLE_OK ? (int)status : 0,
                          code == CURLE_OK ? NULL : transfer_error_class(code, t->blocked));
        else
            deliver_finished(loop, t, code, status);
        transfer_put(&loop->pool, t);
        engine_connection_give(loop->eng, loop);
    }
}

static void flush_outcomes(struct loop *loop)
{
    outcome_flush(&loop->outcomes, sched_take_settled(&loop->sched));
}

/* --- sockets and timers --- */

/* libcurl asks to watch a socket (CURL_POLL_IN/OUT/INOUT) or to forget it. A kept-alive
 * connection is forgotten after each transfer and watched again for the next: it stays in the
 * epoll set with no events in between, which saves two epoll_ctl calls a request. */
static int on_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg, void *socket_data)
{
    struct loop *loop = arg;
    struct epoll_event ev = {.data.fd = fd};
    (void)easy;
    (void)socket_data;
    if (what != CURL_POLL_REMOVE)
        ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
    if (fd < 0 || fd >= WATCHED_FDS) { /* beyond the table: plain add and delete */
        if (what == CURL_POLL_REMOVE)
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
        else if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0)
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
        return 0;
    }
    loop->watched[fd] = what != CURL_POLL_REMOVE;
    /* a closed socket leaves the set by itself; its number may come back as a new socket */
    if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT &&
        what != CURL_POLL_REMOVE)
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* libcurl wants socket_action(CURL_SOCKET_TIMEOUT) after timeout_ms (-1: no timer). */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
    struct loop *loop = arg;
    (void)multi;
    loop->curl_due = timeout_ms < 0 ? INT64_MAX : time_now_ms() + timeout_ms;
    return 0;
}

static int wait_ms(struct loop *loop, int64_t now, bool stopping)
{
    bool can_start = engine_connection_available(loop->eng, loop);
    int64_t wait = stopping ? 100 : sched_wait_ms(&loop->sched, now, can_start);
    if (loop->curl_due != INT64_MAX && loop->curl_due - now < wait)
        wait = loop->curl_due - now;
    return wait < 0 ? 0 : (int)wait;
}

/* Another node committed work no node holds: every loop looks ahead of its scan. */
static void store_woke(struct loop *loop)
{
    struct engine *eng = loop->eng;
    int64_t from;
    int woken = store_wake_drain(eng->opts.store, &from);
    if (woken < 0) { /* lost: the periodic scan goes on alone */
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, loop->store_wake_fd, NULL);
        loop->store_wake_fd = -1;
        log_warn("lost the wake-up connection; polling only", "node", json_string(eng->node_id),
                 NULL);
        return;
    }
    if (woken == 0)
        return;
    /* go on from where the work is due: starting over at every wake-up would only re-read
     * (and re-claim) rows memory holds */
    sched_scan_on(&loop->sched, from);
    for (int i = 0; i < eng->loop_count; i++) {
        if (&eng->loops[i] != loop) {
            struct message *m = xcalloc(1, sizeof *m);
            m->kind = MSG_SCAN_ON;
            m->from = from;
            loop_post(&eng->loops[i], m);
        }
    }
}

/* Waits for sockets, the wake-up eventfd or a timer, and lets libcurl act on what is ready:
 * only the sockets that have something to do, whatever the number of transfers. */
static void run_curl(struct loop *loop, int timeout_ms)
{
    struct epoll_event events[64];
    int running, n = epoll_wait(loop->epoll_fd, events, 64, timeout_ms);
    for (int i = 0; i < n; i++) {
        int fd = events[i].data.fd, flags = 0;
        if (fd == loop->wake_fd) {
            uint64_t count;
            ssize_t unused = read(loop->wake_fd, &count, sizeof count);
            (void)unused;
            continue;
        }
        if (fd == loop->store_wake_fd) {
            store_woke(loop);
            continue;
        }
        if (fd < WATCHED_FDS && !loop->watched[fd]) {
            /* an idle kept-alive socket reporting a hangup: out of the set until reused */
            epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
            continue;
        }
        if (events[i].events & EPOLLIN)
            flags |= CURL_CSELECT_IN;
        if (events[i].events & EPOLLOUT)
            flags |= CURL_CSELECT_OUT;
        if (events[i].events & (EPOLLERR | EPOLLHUP))
            flags |= CURL_CSELECT_ERR;
        curl_multi_socket_action(loop->multi, fd, flags, &running);
    }
    if (loop->curl_due <= time_now_ms()) {
        loop->curl_due = INT64_MAX;
        curl_multi_socket_action(loop->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
}

static void *loop_main(void *arg)
{
    struct loop *loop = arg;
    int64_t stop_deadline = 0;
    bool stopping = false;
    char name[16];

    snprintf(name, sizeof name, "hookd-engine%d", loop->index);
    pthread_setname_np(pthread_self(), name);
    for (;;) {
        int64_t now = time_now_ms();
        handle_messages(loop, take_inbox(loop, &stopping), stopping);
        if (stopping && stop_deadline == 0)
            stop_deadline = now + STOP_GRACE_MS;
        if (!stopping) {
            sched_turn(&loop->sched, now);
            dispatch(loop);
        }
        read_completions(loop);
        flush_outcomes(loop);
        if (stopping && (loop->pool.in_flight == 0 || now >= stop_deadline))
            break;
        run_curl(loop, wait_ms(loop, now, stopping));
        read_completions(loop);
    }
    flush_outcomes(loop);
    if (loop->pool.in_flight > 0)
        log_warn("attempts cut short at stop; their deliveries stay pending", "count",
                 json_integer(loop->pool.in_flight), NULL);
    return NULL;
}

/* --- life cycle --- */

int loop_init(struct loop *loop, struct engine *eng, int index, struct err *e)
{
    const struct config *cfg = eng->opts.cfg;
    struct sched_limits limits = {
        .memory_jobs = MEMORY_JOBS,
        .horizon_ms = MEMORY_HORIZON_MS,
        .scan_page = SCAN_PAGE,
        .shared_scan_ms = 0,
    };
    struct outcome_sink sink = {.ctx = loop, .disabled = on_disabled, .recorded = on_recorded};
    struct sched_source source;

    memset(loop, 0, sizeof *loop);
    loop->eng = eng;
    loop->index = index;
    loop->epoll_fd = loop->wake_fd = loop->store_wake_fd = -1;
    loop->curl_due = INT64_MAX;
    pthread_mutex_init(&loop->inbox_lock, NULL);
    if (store_is_shared(eng->opts.store)) {
        /* a database shared with other nodes (PostgreSQL) holds work this node was not handed:
         * rows of api nodes and of nodes whose lease ran out; look for it at this pace (the
         * store's wake-up is sooner; this is the fallback) */
        int64_t third = cfg->lease_ms / 3;
        limits.shared_scan_ms = third < 1000 ? 1000 : third > 5000 ? 5000 : third;
    }
    source = deliver_source(loop);
    sched_init(&loop->sched, &limits, &source, time_now_ms());
    outcome_batcher_init(&loop->outcomes, eng->opts.writer, &sink, eng, eng->node_id);
    loop->conn = store_acquire(eng->opts.store);
    loop->multi = curl_multi_init();
    loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    loop->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (loop->conn == NULL || loop->multi == NULL || loop->epoll_fd < 0 || loop->wake_fd < 0)
        return err_internal(e, "cannot start the delivery engine");
    transfer_pool_init(&loop->pool, loop->multi, &eng->policy, cfg->proxy,
                       eng->ca_data ? &eng->ca_blob : NULL);
    struct epoll_event wake_event = {.events = EPOLLIN, .data.fd = loop->wake_fd};
    epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->wake_fd, &wake_event);
    if (index == 0)
        loop->store_wake_fd = store_wake_fd(eng->opts.store);
    if (loop->store_wake_fd >= 0) {
        struct epoll_event store_event = {.events = EPOLLIN, .data.fd = loop->store_wake_fd};
        epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, loop->store_wake_fd, &store_event);
    }
    curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
    curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
    curl_multi_setopt(loop->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, cfg->max_connections);
    curl_multi_setopt(loop->multi, CURLMOPT_MAXCONNECTS, cfg->max_connections);
    return 0;
}

int loop_start(struct loop *loop, struct err *e)
{
    if (pthread_create(&loop->thread, NULL, loop_main, loop) != 0)
        return err_internal(e, "cannot start a delivery thread");
    loop->started = true;
    return 0;
}

void loop_request_stop(struct loop *loop)
{
    pthread_mutex_lock(&loop->inbox_lock);
    loop->stop_requested = true;
    pthread_mutex_unlock(&loop->inbox_lock);
    loop_wake(loop);
}

void loop_join(struct loop *loop)
{
    if (loop->started)
        pthread_join(loop->thread, NULL);
    loop->started = false;
}

void loop_free(struct loop *loop)
{
    bool stopping;
    handle_messages(loop, take_inbox(loop, &stopping), true);
    /* transfers still in the multi handle were cut short: their rows stay pending */
    while (loop->pool.active) {
        struct transfer *t = loop->pool.active;
        transfer_detach(&loop->pool, t);
        if (t->ping)
            t->ping->done(t->ping, 0, "shutdown");
        /* else its job is in the scheduler's index, and freed with it */
        transfer_put(&loop->pool, t);
    }
    outcome_batcher_free(&loop->outcomes);
    sched_free(&loop->sched);
    transfer_pool_free(&loop->pool);
    if (loop->multi)
        curl_multi_cleanup(loop->multi);
    if (loop->epoll_fd >= 0)
        close(loop->epoll_fd);
    if (loop->wake_fd >= 0)
        close(loop->wake_fd);
    store_release(loop->conn);
    pthread_mutex_destroy(&loop->inbox_lock);
}
