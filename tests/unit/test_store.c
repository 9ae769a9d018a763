/* Store conformance: what every backend behind store.h must do. Runs against the backend of
 * HOOKD_TEST_DB (default: a fresh SQLite file), so the PostgreSQL backend reuses it (`make
 * test-pg`). Tests of what only one backend has (SQLite's file lock, PostgreSQL's claims between
 * nodes) skip on the other. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/log.h"
#include "core/timeutil.h"
#include "engine/job.h"
#include "store/store.h"
#include "store/writer.h"

#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

static char db_dir[64];
static char db_url[128];

static int open_fresh(void **state)
{
    struct store_options opts = {.exclusive = true};
    struct store *st;
    struct err e;
    int applied;
    const char *url = getenv("HOOKD_TEST_DB");

    if (url == NULL) {
        snprintf(db_dir, sizeof db_dir, "/tmp/hookd-store-XXXXXX");
        if (mkdtemp(db_dir) == NULL)
            return -1;
        snprintf(db_url, sizeof db_url, "sqlite:%s/t.db", db_dir);
        url = db_url;
    }
    if (store_open(url, &opts, &st, &e) != 0 || store_migrate(st, &applied, &e) != 0) {
        fprintf(stderr, "cannot open %s: %s\n", url, e.message);
        return -1;
    }
    *state = st;
    return 0;
}

static int close_store(void **state)
{
    char cmd[128];
    store_close(*state);
    if (db_dir[0]) {
        snprintf(cmd, sizeof cmd, "rm -rf %s", db_dir);
        if (system(cmd) != 0)
            return -1;
        db_dir[0] = '\0';
    }
    return 0;
}

/* A job that runs a function on the writer's transaction. */
struct fn_job {
    struct write_job job;
    int (*fn)(struct store_conn *tx, void *arg);
    void *arg;
    bool committed;
};

static int fn_apply(struct store_conn *tx, struct write_job *job)
{
    struct fn_job *fj = (struct fn_job *)job;
    return fj->fn(tx, fj->arg);
}

static void fn_done(struct write_job *job, bool committed)
{
    ((struct fn_job *)job)->committed = committed;
}

static int write_one(struct store *st, int (*fn)(struct store_conn *, void *), void *arg)
{
    struct fn_job fj = {.job = {.apply = fn_apply, .done = fn_done}, .fn = fn, .arg = arg};
    if (writer_run_batch(st, &fj.job) != 0)
        return ERR_FAIL;
    return fj.job.result;
}

static int insert_org(struct store_conn *tx, void *arg)
{
    return store_org_insert(tx, arg);
}

static void make_org(struct org *org, const char *name, int64_t created_at)
{
    memset(org, 0, sizeof *org);
    org->created_at = created_at;
    id_make("org_", created_at, org->id);
    snprintf(org->name, sizeof org->name, "%s", name);
    snprintf(org->primary_secret, sizeof org->primary_secret, "whsec_test");
    snprintf(org->signature_scheme, sizeof org->signature_scheme, "standard");
}

static void orgs_round_trip(void **state)
{
    struct store *st = *state;
    struct org org, back;
    make_org(&org, "acme \xc3\xa9", time_now_ms());
    assert_int_equal(write_one(st, insert_org, &org), 0);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_org_get(c, org.id, &back), 0);
    assert_string_equal(back.name, org.name);
    assert_string_equal(back.primary_secret, "whsec_test");
    assert_int_equal(back.created_at, org.created_at);
    assert_int_equal(store_org_get(c, "org_missing", &back), ERR_NOT_FOUND);
    store_release(c);
    /* the same id twice is a conflict, not a crash */
    assert_int_equal(write_one(st, insert_org, &org), ERR_CONFLICT);
}

static void lists_page_newest_first_without_gaps(void **state)
{
    struct store *st = *state;
    struct org orgs[7], page_items[4];
    struct page page = {.limit = 3};
    int64_t base = time_now_ms() + 100000; /* newer than the other tests' orgs */
    int seen = 0, count;
    for (int i = 0; i < 7; i++) {
        /* two share a millisecond: the id breaks the tie */
        make_org(&orgs[i], "o", base + (i == 4 ? 3 : i));
        assert_int_equal(write_one(st, insert_org, &orgs[i]), 0);
    }
    struct store_conn *c = store_acquire(st);
    int64_t last_ms = INT64_MAX;
    char last_id[ID_MAX] = "~";
    for (;;) {
        assert_int_equal(store_org_list(c, &page, page_items, &count), 0);
        int shown = count > page.limit ? page.limit : count;
        for (int i = 0; i < shown; i++) {
            bool older =
                page_items[i].created_at < last_ms ||
                (page_items[i].created_at == last_ms && strcmp(page_items[i].id, last_id) < 0);
            assert_true(older);
            last_ms = page_items[i].created_at;
            memcpy(last_id, page_items[i].id, sizeof last_id);
            if (last_ms >= base)
                seen++;
        }
        if (count <= page.limit)
            break;
        page.has_cursor = true;
        page.before_ms = last_ms;
        memcpy(page.before_id, last_id, sizeof page.before_id);
    }
    store_release(c);
    assert_int_equal(seen, 7);
}

/* One job of a batch failing rolls back only its own writes. */
static int insert_then_fail(struct store_conn *tx, void *arg)
{
    store_org_insert(tx, arg);
    return ERR_FAIL;
}

static void a_failing_job_does_not_fail_its_batch(void **state)
{
    struct store *st = *state;
    struct org good1, bad, good2, back;
    struct fn_job jobs[3] = {
        {.job = {.apply = fn_apply, .done = fn_done}, .fn = insert_org, .arg = &good1},
        {.job = {.apply = fn_apply, .done = fn_done}, .fn = insert_then_fail, .arg = &bad},
        {.job = {.apply = fn_apply, .done = fn_done}, .fn = insert_org, .arg = &good2},
    };
    make_org(&good1, "g1", time_now_ms());
    make_org(&bad, "bad", time_now_ms());
    make_org(&good2, "g2", time_now_ms());
    jobs[0].job.next = &jobs[1].job;
    jobs[1].job.next = &jobs[2].job;
    assert_int_equal(writer_run_batch(st, &jobs[0].job), 0);
    assert_true(jobs[0].committed && jobs[1].committed && jobs[2].committed);
    assert_int_equal(jobs[1].job.result, ERR_FAIL);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_org_get(c, good1.id, &back), 0);
    assert_int_equal(store_org_get(c, good2.id, &back), 0);
    assert_int_equal(store_org_get(c, bad.id, &back), ERR_NOT_FOUND);
    store_release(c);
}

/* The writer thread under load from several threads: it gathers jobs into batches, and every
 * job is applied, committed and done exactly once, without waiting for the writer to stop. */
#define SUBMITTERS 4
#define JOBS_EACH 300

struct load_job {
    struct fn_job fj; /* first: the writer's job is at its start */
    int done_calls;
};

struct submitter {
    struct writer *writer;
    struct load_job jobs[JOBS_EACH];
    struct org orgs[JOBS_EACH];
};

static atomic_int load_jobs_done;

static void load_job_done(struct write_job *job, bool committed)
{
    struct load_job *lj = (struct load_job *)job;
    lj->fj.committed = committed;
    lj->done_calls++;
    atomic_fetch_add(&load_jobs_done, 1);
}

static void *submit_all(void *arg)
{
    struct submitter *s = arg;
    for (int i = 0; i < JOBS_EACH; i++) {
        make_org(&s->orgs[i], "load", time_now_ms());
        s->jobs[i] = (struct load_job){.fj = {.job = {.apply = fn_apply, .done = load_job_done},
                                              .fn = insert_org,
                                              .arg = &s->orgs[i]}};
        writer_submit(s->writer, &s->jobs[i].fj.job);
    }
    return NULL;
}

static void the_writer_commits_every_job_of_concurrent_submitters(void **state)
{
    struct store *st = *state;
    static struct submitter subs[SUBMITTERS];
    pthread_t threads[SUBMITTERS];
    struct writer *w = writer_start(st);
    struct org back;
    int64_t deadline = time_now_ms() + 10000;

    atomic_store(&load_jobs_done, 0);
    for (int t = 0; t < SUBMITTERS; t++) {
        subs[t].writer = w;
        assert_int_equal(pthread_create(&threads[t], NULL, submit_all, &subs[t]), 0);
    }
    for (int t = 0; t < SUBMITTERS; t++)
        pthread_join(threads[t], NULL);
    /* every job is done while the writer runs on: none waits for a stop to flush it */
    while (atomic_load(&load_jobs_done) < SUBMITTERS * JOBS_EACH && time_now_ms() < deadline)
        usleep(1000);
    assert_int_equal(atomic_load(&load_jobs_done), SUBMITTERS * JOBS_EACH);
    writer_stop(w);
    writer_free(w);
    struct store_conn *c = store_acquire(st);
    for (int t = 0; t < SUBMITTERS; t++)
        for (int i = 0; i < JOBS_EACH; i++) {
            assert_int_equal(subs[t].jobs[i].done_calls, 1);
            assert_true(subs[t].jobs[i].fj.committed);
            assert_int_equal(subs[t].jobs[i].fj.job.result, 0);
            assert_int_equal(store_org_get(c, subs[t].orgs[i].id, &back), 0);
        }
    store_release(c);
}

struct key_args {
    struct org org;
    struct api_key key;
};

static int insert_org_and_key(struct store_conn *tx, void *arg)
{
    struct key_args *ka = arg;
    int rc = store_org_insert(tx, &ka->org);
    return rc ? rc : store_key_insert(tx, &ka->key);
}

static int delete_org(struct store_conn *tx, void *arg)
{
    return store_org_delete(tx, arg, time_now_ms());
}

static void deleting_an_org_revokes_its_keys(void **state)
{
    struct store *st = *state;
    struct key_args ka;
    struct api_key back;
    struct org gone;
    make_org(&ka.org, "doomed", time_now_ms());
    memset(&ka.key, 0, sizeof ka.key);
    id_new("key_", ka.key.id);
    snprintf(ka.key.org_id, sizeof ka.key.org_id, "%s", ka.org.id);
    snprintf(ka.key.name, sizeof ka.key.name, "k");
    ka.key.scopes = SCOPE_EVENTS;
    memset(ka.key.secret_hash, 0xab, sizeof ka.key.secret_hash);
    ka.key.created_at = time_now_ms();
    assert_int_equal(write_one(st, insert_org_and_key, &ka), 0);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_key_get(c, ka.key.id, &back), 0);
    assert_int_equal(back.revoked_at, 0);
    assert_memory_equal(back.secret_hash, ka.key.secret_hash, 32);
    assert_int_equal(write_one(st, delete_org, ka.org.id), 0);
    assert_int_equal(store_key_get(c, ka.key.id, &back), 0);
    assert_true(back.revoked_at > 0);
    assert_int_equal(store_org_get(c, ka.org.id, &gone), ERR_NOT_FOUND);
    store_release(c);
    assert_int_equal(write_one(st, delete_org, ka.org.id), ERR_NOT_FOUND);
}

static int put_idem(struct store_conn *tx, void *arg)
{
    return store_idem_put(tx, arg);
}

static void idempotency_records_expire(void **state)
{
    struct store *st = *state;
    struct idem_record rec = {.scope = "org_x", .key = "k1", .status = 201}, back = {0};
    int64_t now = time_now_ms();
    rec.body = "{\"id\":1}";
    rec.created_at = now - 1000;
    memset(rec.request_hash, 7, sizeof rec.request_hash);
    assert_int_equal(write_one(st, put_idem, &rec), 0);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_idem_get(c, "org_x", "k1", now - 5000, &back), 0);
    assert_int_equal(back.status, 201);
    assert_string_equal(back.body, "{\"id\":1}");
    free(back.body);
    assert_int_equal(store_idem_get(c, "org_x", "k1", now, &back), ERR_NOT_FOUND);
    assert_int_equal(store_idem_get(c, "org_y", "k1", 0, &back), ERR_NOT_FOUND);
    store_release(c);
}

static void a_second_server_on_the_same_file_is_refused(void **state)
{
    struct store_options opts = {.exclusive = true};
    struct store *second = NULL;
    struct err e;
    (void)state;
    if (db_url[0] == '\0')
        skip(); /* only SQLite has one serving process per file */
    assert_int_not_equal(store_open(db_url, &opts, &second, &e), 0);
    assert_non_null(strstr(e.message, "another hookd"));
}

/* --- the pipeline: events, endpoints, deliveries, attempts --- */

static bool is_postgres(const struct store *st)
{
    return store_is_shared((struct store *)st);
}

/* A fresh org of its own for a test, inserted. */
static void new_org(struct store *st, struct org *org)
{
    make_org(org, "pipeline", time_now_ms());
    assert_int_equal(write_one(st, insert_org, org), 0);
}

static void make_endpoint(struct endpoint *ep, const char *org_id)
{
    memset(ep, 0, sizeof *ep);
    id_new("ep_", ep->id);
    snprintf(ep->org_id, sizeof ep->org_id, "%s", org_id);
    ep->url = "https://receiver.example/hook";
    snprintf(ep->name, sizeof ep->name, "receiver");
    ep->events = "[]";
    ep->is_active = true;
    ep->timeout_seconds = 15;
    ep->max_in_flight = 10;
    snprintf(ep->signature_scheme, sizeof ep->signature_scheme, "standard");
    snprintf(ep->secret, sizeof ep->secret, "whsec_ep");
    ep->created_at = ep->updated_at = time_now_ms();
}

static int insert_endpoint(struct store_conn *tx, void *arg)
{
    return store_endpoint_insert(tx, arg);
}

/* An event type's subscribers: endpoints whose events list holds the pattern as an entry,
 * `_` and `%` in it taken as themselves. */
static void subscribers_are_found_by_their_exact_entry(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep;
    struct endpoint_ref refs[4];
    const char *const found[] = {"a_b.x", "c.*"}, *const not_found[] = {"aXb.x", "c", "a_b", "%"};
    int count;

    new_org(st, &org);
    make_endpoint(&ep, org.id);
    ep.events = "[\"a_b.x\",\"c.*\"]";
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    struct store_conn *c = store_acquire(st);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(store_endpoint_subscribers(c, found[i], refs, 4, &count), 0);
        assert_int_equal(count, 1);
        assert_string_equal(refs[0].id, ep.id);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(store_endpoint_subscribers(c, not_found[i], refs, 4, &count), 0);
        assert_int_equal(count, 0);
    }
    store_release(c);
}

static void make_event(struct event *ev, const char *org_id, const char *type, char *payload)
{
    memset(ev, 0, sizeof *ev);
    snprintf(ev->org_id, sizeof ev->org_id, "%s", org_id);
    id_new("evt_", ev->id);
    snprintf(ev->type, sizeof ev->type, "%s", type);
    ev->payload = payload;
    ev->created_at = time_now_ms();
    ev->delivery_count = 1;
}

static int insert_event(struct store_conn *tx, void *arg)
{
    return store_event_insert(tx, arg);
}

/* New events gather with the batch's other rows (PostgreSQL sends them as one statement at
 * the next other statement or at commit): a job that fails takes its own rows out, whether it
 * failed before or after sending something else, and bytes that need quoting in an array
 * literal arrive as they were sent. */
struct new_event_job {
    struct event ev;
    bool read_first, fail;
};

static int insert_new_event(struct store_conn *tx, void *arg)
{
    struct new_event_job *j = arg;
    struct event back;
    int rc = store_event_insert_new(tx, &j->ev);
    if (rc == 0 && j->read_first) { /* a statement that waits: the rows gathered go first */
        rc = store_event_get(tx, j->ev.org_id, j->ev.id, &back);
        if (rc == 0)
            free(back.payload);
    }
    return rc != 0 ? rc : j->fail ? ERR_FAIL : 0;
}

static void rows_of_a_failed_job_are_taken_out(void **state)
{
    struct store *st = *state;
    struct org org;
    char tricky[] = "{\"q\":\"a\\\"b\\\\c\",\"l\":[1,{\"n\":\"NULL\"}],\"s\":\"caf\xc3\xa9 {,}\"}";
    char plain[] = "{\"x\":1}";
    struct new_event_job j[5] = {
        {.read_first = false, .fail = false}, {.read_first = false, .fail = true},
        {.read_first = true, .fail = false},  {.read_first = true, .fail = true},
        {.read_first = false, .fail = false},
    };
    struct fn_job jobs[5];
    new_org(st, &org);
    for (int i = 0; i < 5; i++) {
        make_event(&j[i].ev, org.id, "a.b", i == 0 ? tricky : plain);
        jobs[i] = (struct fn_job){
            .job = {.apply = fn_apply, .done = fn_done}, .fn = insert_new_event, .arg = &j[i]};
        if (i > 0)
            jobs[i - 1].job.next = &jobs[i].job;
    }
    assert_int_equal(writer_run_batch(st, &jobs[0].job), 0);
    struct store_conn *c = store_acquire(st);
    for (int i = 0; i < 5; i++) {
        struct event back;
        int rc = store_event_get(c, org.id, j[i].ev.id, &back);
        assert_int_equal(rc, j[i].fail ? ERR_NOT_FOUND : 0);
        if (rc == 0) {
            assert_string_equal(back.payload, j[i].ev.payload);
            free(back.payload);
        }
    }
    store_release(c);
}

static void make_delivery(struct delivery *d, const struct event *ev, const char *endpoint_id,
                          int64_t next_attempt_at)
{
    memset(d, 0, sizeof *d);
    id_make("dlv_", next_attempt_at, d->id);
    snprintf(d->org_id, sizeof d->org_id, "%s", ev->org_id);
    snprintf(d->event_id, sizeof d->event_id, "%s", ev->id);
    snprintf(d->endpoint_id, sizeof d->endpoint_id, "%s", endpoint_id ? endpoint_id : "");
    snprintf(d->event_type, sizeof d->event_type, "%s", ev->type);
    d->next_attempt_at = next_attempt_at;
    d->created_at = ev->created_at;
}

struct insert_delivery_args {
    struct delivery *d;
    const char *node_id; /* NULL: no node holds it */
};

static int insert_delivery(struct store_conn *tx, void *arg)
{
    struct insert_delivery_args *a = arg;
    return store_delivery_insert(tx, a->d, a->node_id);
}

static void add_delivery(struct store *st, struct delivery *d, const char *node_id)
{
    struct insert_delivery_args a = {d, node_id};
    assert_int_equal(write_one(st, insert_delivery, &a), 0);
}

struct heartbeat_args {
    const char *node_id;
    int64_t at;
};

static int heartbeat(struct store_conn *tx, void *arg)
{
    struct heartbeat_args *h = arg;
    return store_node_heartbeat(tx, h->node_id, h->at);
}

static void beat(struct store *st, const char *node_id, int64_t at)
{
    struct heartbeat_args h = {node_id, at};
    assert_int_equal(write_one(st, heartbeat, &h), 0);
}

static struct delivery get_delivery(struct store *st, const char *org_id, const char *id)
{
    struct delivery d;
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_delivery_get(c, org_id, id, &d), 0);
    store_release(c);
    free(d.url);
    d.url = NULL;
    return d;
}

static void events_keep_their_payload_byte_identical(void **state)
{
    struct store *st = *state;
    struct org org;
    struct event ev, again, back, listed[3];
    struct list_filter f = {.status = -1, .is_active = -1};
    struct page page = {.limit = 2};
    char payload[] = "{\"type\":\"order.paid\",  \"data\":{\"name\":\"caf\xc3\xa9 \\u00e9\\n\","
                     "\"n\":1.50e3,\"z\":[true, null]}}";
    char other[] = "{\"x\":1}";
    int count;

    new_org(st, &org);
    make_event(&ev, org.id, "order.paid", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    again = ev;
    again.payload = other;
    assert_int_equal(write_one(st, insert_event, &again), ERR_CONFLICT);

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_event_get(c, org.id, ev.id, &back), 0);
    assert_string_equal(back.payload, payload); /* the first one, to the byte */
    assert_string_equal(back.type, "order.paid");
    assert_int_equal(back.created_at, ev.created_at);
    assert_int_equal(back.delivery_count, 1);
    free(back.payload);
    assert_int_equal(store_event_get(c, "org_other", ev.id, &back), ERR_NOT_FOUND);
    snprintf(f.type, sizeof f.type, "order.paid");
    assert_int_equal(store_event_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(listed[0].id, ev.id);
    free(listed[0].payload);
    snprintf(f.type, sizeof f.type, "order.refunded");
    assert_int_equal(store_event_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 0);
    store_release(c);
}

/* A conflict is an answer, not a broken transaction: the job goes on (PostgreSQL aborts a
 * transaction on an error; the backend must not let a unique conflict do that). */
struct conflict_job {
    struct event *dup;
    struct org *new_org;
    int insert_rc, get_rc;
};

static int conflict_then_go_on(struct store_conn *tx, void *arg)
{
    struct conflict_job *j = arg;
    struct event back;
    j->insert_rc = store_event_insert(tx, j->dup);
    j->get_rc = store_event_get(tx, j->dup->org_id, j->dup->id, &back);
    if (j->get_rc == 0)
        free(back.payload);
    return store_org_insert(tx, j->new_org);
}

static void a_conflict_leaves_the_rest_of_the_job_working(void **state)
{
    struct store *st = *state;
    struct org org, later, back;
    struct event ev;
    char payload[] = "{}";
    struct conflict_job j = {.dup = &ev, .new_org = &later};

    new_org(st, &org);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    make_org(&later, "later", time_now_ms());
    assert_int_equal(write_one(st, conflict_then_go_on, &j), 0);
    assert_int_equal(j.insert_rc, ERR_CONFLICT);
    assert_int_equal(j.get_rc, 0);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_org_get(c, later.id, &back), 0);
    store_release(c);
}

struct record_args {
    struct attempt_outcome o;
    int64_t now;
};

static int record(struct store_conn *tx, void *arg)
{
    struct record_args *r = arg;
    return store_delivery_record(tx, &r->o, 1, r->now);
}

/* An outcome of attempt n of d: status 0 = no response (error "timeout"). */
static void make_outcome(struct record_args *r, const struct delivery *d, int n, int status,
                         enum delivery_status next, int64_t next_attempt_at)
{
    memset(r, 0, sizeof *r);
    r->now = time_now_ms();
    id_new("att_", r->o.attempt.id);
    snprintf(r->o.attempt.delivery_id, sizeof r->o.attempt.delivery_id, "%s", d->id);
    r->o.attempt.n = n;
    r->o.attempt.started_at = r->now - 20;
    r->o.attempt.duration_ms = 12;
    r->o.attempt.response_status = status;
    if (status == 0)
        snprintf(r->o.attempt.error, sizeof r->o.attempt.error, "timeout");
    else
        r->o.attempt.response_body = status >= 300 ? "{\"error\":\"nope\"}" : "ok";
    r->o.attempt.request_headers = "{\"webhook-id\":\"x\"}";
    snprintf(r->o.org_id, sizeof r->o.org_id, "%s", d->org_id);
    snprintf(r->o.endpoint_id, sizeof r->o.endpoint_id, "%s", d->endpoint_id);
    r->o.status = next;
    r->o.next_attempt_at = next_attempt_at;
    r->o.disable_after = 100;
}

struct retry_args {
    const char *org_id, *id, *node_id;
};

static int retry(struct store_conn *tx, void *arg)
{
    struct retry_args *r = arg;
    return store_delivery_retry(tx, r->org_id, r->id, r->node_id, time_now_ms());
}

static void deliveries_record_attempts_and_move_on(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep, ep_back;
    struct event ev;
    struct delivery d, back, listed[3];
    struct attempt attempts[4];
    struct record_args r;
    struct retry_args again;
    struct list_filter f = {.status = -1, .is_active = -1};
    struct page page = {.limit = 2};
    char payload[] = "{\"a\":1}", node[ID_MAX];
    int64_t now = time_now_ms();
    int count;

    new_org(st, &org);
    make_endpoint(&ep, org.id);
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    id_new("node_", node);
    beat(st, node, now);
    make_delivery(&d, &ev, ep.id, now - 5);
    add_delivery(st, &d, node);
    back = get_delivery(st, org.id, d.id);
    assert_int_equal(back.status, DLV_PENDING);
    assert_true(back.claimed); /* held by a live node and due: in flight */
    assert_string_equal(back.endpoint_id, ep.id);
    assert_int_equal(back.attempt_count, 0);

    /* a 500: one more try later */
    make_outcome(&r, &d, 1, 500, DLV_PENDING, now + 60000);
    assert_int_equal(write_one(st, record, &r), 0);
    back = get_delivery(st, org.id, d.id);
    assert_int_equal(back.status, DLV_PENDING);
    assert_false(back.claimed); /* not due yet */
    assert_int_equal(back.attempt_count, 1);
    assert_int_equal(back.next_attempt_at, now + 60000);
    assert_int_equal(back.last_response_status, 500);
    assert_string_equal(back.last_error, "HTTP 500");

    /* no answer, and the schedule is over */
    make_outcome(&r, &d, 2, 0, DLV_EXHAUSTED, 0);
    assert_int_equal(write_one(st, record, &r), 0);
    back = get_delivery(st, org.id, d.id);
    assert_int_equal(back.status, DLV_EXHAUSTED);
    assert_int_equal(back.attempt_count, 2);
    assert_int_equal(back.next_attempt_at, 0);
    assert_string_equal(back.last_error, "timeout");

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_attempt_list(c, d.id, attempts, 4, &count), 0);
    assert_int_equal(count, 2);
    assert_int_equal(attempts[0].n, 1);
    assert_int_equal(attempts[0].response_status, 500);
    assert_string_equal(attempts[0].response_body, "{\"error\":\"nope\"}");
    assert_string_equal(attempts[0].request_headers, "{\"webhook-id\":\"x\"}");
    assert_string_equal(attempts[0].error, "");
    assert_int_equal(attempts[1].n, 2);
    assert_int_equal(attempts[1].response_status, 0);
    assert_null(attempts[1].response_body);
    assert_string_equal(attempts[1].error, "timeout");
    for (int i = 0; i < count; i++)
        attempt_clear(&attempts[i]);
    assert_int_equal(store_endpoint_get(c, org.id, ep.id, &ep_back), 0);
    assert_int_equal(ep_back.consecutive_failures, 1);
    assert_true(ep_back.last_failure_at > 0);
    endpoint_clear(&ep_back);
    store_release(c);

    /* retried by hand: pending again, for a schedule that starts now */
    again = (struct retry_args){org.id, d.id, node};
    assert_int_equal(write_one(st, retry, &again), 0);
    back = get_delivery(st, org.id, d.id);
    assert_int_equal(back.status, DLV_PENDING);
    assert_int_equal(back.schedule_start, 2);
    assert_int_equal(write_one(st, retry, &again), ERR_CONFLICT);
    again.id = "dlv_missing";
    assert_int_equal(write_one(st, retry, &again), ERR_NOT_FOUND);

    /* and delivered */
    make_outcome(&r, &d, 3, 204, DLV_DELIVERED, 0);
    assert_int_equal(write_one(st, record, &r), 0);
    back = get_delivery(st, org.id, d.id);
    assert_int_equal(back.status, DLV_DELIVERED);
    assert_false(back.claimed);
    assert_int_equal(back.delivered_at, r.o.attempt.started_at + r.o.attempt.duration_ms);
    assert_string_equal(back.last_error, "");
    c = store_acquire(st);
    assert_int_equal(store_endpoint_get(c, org.id, ep.id, &ep_back), 0);
    assert_int_equal(ep_back.consecutive_failures, 0);
    assert_true(ep_back.last_success_at > 0);
    endpoint_clear(&ep_back);
    snprintf(f.endpoint_id, sizeof f.endpoint_id, "%s", ep.id);
    f.status = DLV_DELIVERED;
    assert_int_equal(store_delivery_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(listed[0].id, d.id);
    free(listed[0].url);
    f.status = DLV_FAILED;
    assert_int_equal(store_delivery_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 0);
    store_release(c);
}

struct record_many {
    struct attempt_outcome o[3];
    int64_t now;
};

static int record_all(struct store_conn *tx, void *arg)
{
    struct record_many *r = arg;
    return store_delivery_record(tx, r->o, 3, r->now);
}

/* Outcomes add to their endpoint's stats in its 5-minute bucket: how deliveries ended, attempts
 * and their durations; two jobs' counts of one bucket add up. */
static void outcomes_count_in_their_endpoints_stats(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep;
    struct event ev;
    struct delivery d[3];
    struct record_args r;
    struct record_many many;
    struct stats_counts steps[3];
    char payload[] = "{}";
    int64_t now = time_now_ms();
    int64_t bucket = now - 20 - (now - 20) % STATS_BUCKET_MS;

    new_org(st, &org);
    make_endpoint(&ep, org.id);
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    for (int i = 0; i < 3; i++) {
        make_delivery(&d[i], &ev, ep.id, now - 5);
        add_delivery(st, &d[i], NULL);
    }
    /* one job: a 500 to retry, a 204, a timeout that ends the schedule */
    make_outcome(&r, &d[0], 1, 500, DLV_PENDING, now + 60000);
    many.o[0] = r.o;
    make_outcome(&r, &d[1], 1, 204, DLV_DELIVERED, 0);
    many.o[1] = r.o;
    make_outcome(&r, &d[2], 1, 0, DLV_EXHAUSTED, 0);
    r.o.attempt.duration_ms = 5000;
    many.o[2] = r.o;
    many.now = r.now;
    for (int i = 0; i < 3; i++)
        many.o[i].attempt.started_at = now - 20; /* all in one bucket, whatever the clock does */
    assert_int_equal(write_one(st, record_all, &many), 0);
    /* a second job: the retry delivered */
    make_outcome(&r, &d[0], 2, 200, DLV_DELIVERED, 0);
    r.o.attempt.started_at = now - 20;
    assert_int_equal(write_one(st, record, &r), 0);

    memset(steps, 0, sizeof steps);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(
        store_endpoint_stats(c, ep.id, bucket - STATS_BUCKET_MS, STATS_BUCKET_MS, steps, 3), 0);
    store_release(c);
    assert_int_equal(steps[0].attempts, 0); /* the bucket before */
    assert_int_equal(steps[1].delivered, 2);
    assert_int_equal(steps[1].failed, 0);
    assert_int_equal(steps[1].exhausted, 1);
    assert_int_equal(steps[1].attempts, 4);
    assert_int_equal(steps[1].attempts_failed, 2);
    assert_int_equal(steps[1].latency[latency_bucket(12)], 3);
    assert_int_equal(steps[1].latency[latency_bucket(5000)], 1);
    assert_int_equal(steps[2].attempts, 0);
}

/* The pending deliveries of an org split into in_flight (held and due) and pending. */
static void pending_deliveries_split_by_their_claim(void **state)
{
    struct store *st = *state;
    struct org org;
    struct event ev;
    struct delivery held, waiting, listed[3];
    struct list_filter f = {.status = DLV_IN_FLIGHT, .is_active = -1};
    struct page page = {.limit = 2};
    char payload[] = "{}", node[ID_MAX];
    int64_t now = time_now_ms();
    int count;

    new_org(st, &org);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    id_new("node_", node);
    beat(st, node, now);
    make_delivery(&held, &ev, NULL, now - 10);
    held.url = "https://one-shot.example/";
    add_delivery(st, &held, node);
    make_delivery(&waiting, &ev, NULL, now + 3600000);
    add_delivery(st, &waiting, node);

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_delivery_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(listed[0].id, held.id);
    assert_true(listed[0].claimed);
    assert_string_equal(listed[0].url, "https://one-shot.example/");
    assert_string_equal(listed[0].endpoint_id, "");
    free(listed[0].url);
    f.status = DLV_PENDING;
    assert_int_equal(store_delivery_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(listed[0].id, waiting.id);
    assert_false(listed[0].claimed);
    free(listed[0].url);
    store_release(c);
}

struct replay_args {
    const char *org_id, *endpoint_id;
    unsigned statuses;
    long queued;
};

static int replay(struct store_conn *tx, void *arg)
{
    struct replay_args *r = arg;
    return store_delivery_replay(tx, r->org_id, r->endpoint_id, 0, 0, r->statuses, NULL,
                                 time_now_ms(), &r->queued);
}

static void replay_queues_one_delivery_per_event(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep;
    struct event ev1, ev2;
    struct delivery d1, d2, listed[8];
    struct record_args r;
    struct replay_args rp;
    struct list_filter f = {.status = DLV_PENDING, .is_active = -1};
    struct page page = {.limit = 7};
    char payload[] = "{}";
    int64_t now = time_now_ms();
    int count;

    new_org(st, &org);
    make_endpoint(&ep, org.id);
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    make_event(&ev1, org.id, "a.b", payload);
    make_event(&ev2, org.id, "a.c", payload);
    assert_int_equal(write_one(st, insert_event, &ev1), 0);
    assert_int_equal(write_one(st, insert_event, &ev2), 0);
    make_delivery(&d1, &ev1, ep.id, now);
    make_delivery(&d2, &ev2, ep.id, now);
    add_delivery(st, &d1, NULL);
    add_delivery(st, &d2, NULL);
    make_outcome(&r, &d1, 1, 0, DLV_EXHAUSTED, 0);
    assert_int_equal(write_one(st, record, &r), 0);
    make_outcome(&r, &d2, 1, 200, DLV_DELIVERED, 0);
    assert_int_equal(write_one(st, record, &r), 0);

    rp = (struct replay_args){org.id, ep.id, 1u << DLV_EXHAUSTED, -1};
    assert_int_equal(write_one(st, replay, &rp), 0);
    assert_int_equal(rp.queued, 1);
    rp = (struct replay_args){org.id, ep.id, 1u << DLV_EXHAUSTED | 1u << DLV_DELIVERED, -1};
    assert_int_equal(write_one(st, replay, &rp), 0);
    assert_int_equal(rp.queued, 2);

    struct store_conn *c = store_acquire(st);
    snprintf(f.endpoint_id, sizeof f.endpoint_id, "%s", ep.id);
    assert_int_equal(store_delivery_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 3); /* ev1 twice, ev2 once; none held by a node */
    for (int i = 0; i < count; i++) {
        assert_false(listed[i].claimed);
        assert_true(strcmp(listed[i].event_id, ev1.id) == 0 ||
                    strcmp(listed[i].event_id, ev2.id) == 0);
        free(listed[i].url);
    }
    store_release(c);
}

static void endpoints_disable_after_consecutive_failures(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep, back;
    struct event ev;
    struct delivery d1, d2, queued;
    struct record_args r;
    char payload[] = "{}";
    int64_t now = time_now_ms();

    new_org(st, &org);
    make_endpoint(&ep, org.id);
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    make_delivery(&d1, &ev, ep.id, now);
    make_delivery(&d2, &ev, ep.id, now);
    make_delivery(&queued, &ev, ep.id, now + 3600000);
    add_delivery(st, &d1, NULL);
    add_delivery(st, &d2, NULL);
    add_delivery(st, &queued, NULL);

    make_outcome(&r, &d1, 1, 500, DLV_EXHAUSTED, 0);
    r.o.disable_after = 2;
    assert_int_equal(write_one(st, record, &r), 0);
    assert_false(r.o.disabled);
    make_outcome(&r, &d2, 1, 503, DLV_EXHAUSTED, 0);
    r.o.disable_after = 2;
    assert_int_equal(write_one(st, record, &r), 0);
    assert_true(r.o.disabled);

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_endpoint_get(c, org.id, ep.id, &back), 0);
    assert_false(back.is_active);
    assert_string_equal(back.disabled_reason, "consecutive_failures");
    assert_true(back.disabled_at > 0);
    endpoint_clear(&back);
    store_release(c);
    queued = get_delivery(st, org.id, queued.id);
    assert_int_equal(queued.status, DLV_FAILED);
    assert_string_equal(queued.last_error, "endpoint inactive");
}

/* An object of an org, by id: endpoints, sources. */
struct object_ref {
    const char *org_id, *id;
};

static int delete_endpoint(struct store_conn *tx, void *arg)
{
    struct object_ref *ref = arg;
    return store_endpoint_delete(tx, ref->org_id, ref->id, time_now_ms());
}

static int update_endpoint(struct store_conn *tx, void *arg)
{
    return store_endpoint_update(tx, arg);
}

/* The writer's view of an org's fan-out, as the event path reads it. */
struct fanout_probe {
    const char *org_id;
    int count;
};

static int probe_fanout(struct store_conn *tx, void *arg)
{
    struct fanout_probe *p = arg;
    const struct fanout_list *list;
    int rc = store_endpoint_fanout(tx, p->org_id, &list);
    p->count = rc == 0 ? list->count : -1;
    return rc;
}

static int fanout_count(struct store *st, const char *org_id)
{
    struct fanout_probe p = {org_id, -1};
    assert_int_equal(write_one(st, probe_fanout, &p), 0);
    return p.count;
}

/* Adds the endpoint and reads the fan-out (which now holds it), then fails: all rolls back. */
static int insert_endpoint_then_fail(struct store_conn *tx, void *arg)
{
    struct endpoint *ep = arg;
    struct fanout_probe p = {ep->org_id, -1};
    int rc = store_endpoint_insert(tx, ep);
    if (rc == 0)
        rc = probe_fanout(tx, &p);
    assert_int_equal(p.count, 2);
    return rc == 0 ? ERR_FAIL : rc;
}

/* A transaction that rolls back as a whole (a failed COMMIT ends so) takes back the fan-out it
 * read, cached or not. */
static void a_rolled_back_transaction_leaves_no_fan_out_behind(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep;
    const struct fanout_list *list;

    new_org(st, &org);
    assert_int_equal(fanout_count(st, org.id), 0);
    make_endpoint(&ep, org.id);
    struct store_conn *tx = store_tx_begin(st);
    assert_non_null(tx);
    assert_int_equal(store_endpoint_insert(tx, &ep), 0);
    assert_int_equal(store_endpoint_fanout(tx, org.id, &list), 0);
    assert_int_equal(list->count, 1);
    store_tx_rollback(tx);
    assert_int_equal(fanout_count(st, org.id), 0);
}

/* The fan-out may be cached (SQLite caches it on the writer): every change to an org's
 * endpoints must show at once, and a rolled-back one must not. */
static void the_fan_out_follows_every_endpoint_change(void **state)
{
    struct store *st = *state;
    struct org org, other;
    struct endpoint ep, undone, elsewhere;
    struct object_ref ref;

    new_org(st, &org);
    new_org(st, &other);
    assert_int_equal(fanout_count(st, org.id), 0);
    make_endpoint(&ep, org.id);
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    assert_int_equal(fanout_count(st, org.id), 1);
    make_endpoint(&elsewhere, other.id);
    assert_int_equal(write_one(st, insert_endpoint, &elsewhere), 0);
    assert_int_equal(fanout_count(st, other.id), 1);
    assert_int_equal(fanout_count(st, org.id), 1);

    make_endpoint(&undone, org.id);
    assert_int_equal(write_one(st, insert_endpoint_then_fail, &undone), ERR_FAIL);
    assert_int_equal(fanout_count(st, org.id), 1);

    ep.is_active = false;
    assert_int_equal(write_one(st, update_endpoint, &ep), 0);
    assert_int_equal(fanout_count(st, org.id), 0);
    ep.is_active = true;
    assert_int_equal(write_one(st, update_endpoint, &ep), 0);
    assert_int_equal(fanout_count(st, org.id), 1);

    ref.org_id = org.id;
    ref.id = ep.id;
    assert_int_equal(write_one(st, delete_endpoint, &ref), 0);
    assert_int_equal(fanout_count(st, org.id), 0);
    assert_int_equal(fanout_count(st, other.id), 1);
}

static void endpoints_update_list_fan_out_and_delete(void **state)
{
    struct store *st = *state;
    struct org org;
    struct endpoint ep, off, back, listed[3];
    const struct fanout_list *fanout = NULL;
    struct event ev;
    struct delivery pending;
    struct object_ref ref;
    struct list_filter f = {.status = -1, .is_active = -1};
    struct page page = {.limit = 2};
    char payload[] = "{}";
    int count;

    new_org(st, &org);
    make_endpoint(&ep, org.id);
    ep.rate_limit = 2.5;
    ep.headers = "{\"X-Team\":\"caf\xc3\xa9\"}";
    assert_int_equal(write_one(st, insert_endpoint, &ep), 0);
    assert_int_equal(write_one(st, insert_endpoint, &ep), ERR_CONFLICT);
    make_endpoint(&off, org.id);
    off.created_at++;
    off.is_active = false;
    assert_int_equal(write_one(st, insert_endpoint, &off), 0);

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_endpoint_get(c, org.id, ep.id, &back), 0);
    assert_true(back.rate_limit > 2.49 && back.rate_limit < 2.51);
    assert_string_equal(back.headers, ep.headers);
    assert_string_equal(back.events, "[]");
    assert_string_equal(back.previous_secret, "");
    endpoint_clear(&back);
    assert_int_equal(store_endpoint_get(c, "org_other", ep.id, &back), ERR_NOT_FOUND);
    assert_int_equal(store_endpoint_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 2);
    assert_string_equal(listed[0].id, off.id); /* newest first */
    for (int i = 0; i < count; i++)
        endpoint_clear(&listed[i]);
    f.is_active = 1;
    assert_int_equal(store_endpoint_list(c, org.id, &f, &page, listed, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(listed[0].id, ep.id);
    endpoint_clear(&listed[0]);
    assert_int_equal(store_endpoint_fanout(c, org.id, &fanout), 0);
    assert_int_equal(fanout->count, 1);
    assert_string_equal(fanout->items[0].id, ep.id);
    store_release(c);

    ep.events = "[\"a.*\"]";
    ep.rate_limit = 0;
    snprintf(ep.previous_secret, sizeof ep.previous_secret, "whsec_old");
    ep.previous_secret_expires_at = time_now_ms() + 1000;
    assert_int_equal(write_one(st, update_endpoint, &ep), 0);
    c = store_acquire(st);
    assert_int_equal(store_endpoint_get(c, org.id, ep.id, &back), 0);
    assert_string_equal(back.events, "[\"a.*\"]");
    assert_true(back.rate_limit == 0);
    assert_string_equal(back.previous_secret, "whsec_old");
    assert_int_equal(back.previous_secret_expires_at, ep.previous_secret_expires_at);
    endpoint_clear(&back);
    store_release(c);

    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    make_delivery(&pending, &ev, ep.id, time_now_ms());
    add_delivery(st, &pending, NULL);
    ref = (struct object_ref){org.id, ep.id};
    assert_int_equal(write_one(st, delete_endpoint, &ref), 0);
    assert_int_equal(write_one(st, delete_endpoint, &ref), ERR_NOT_FOUND);
    pending = get_delivery(st, org.id, pending.id);
    assert_int_equal(pending.status, DLV_EXHAUSTED);
    assert_string_equal(pending.last_error, "endpoint deleted");
    c = store_acquire(st);
    assert_int_equal(store_endpoint_get(c, org.id, ep.id, &back), ERR_NOT_FOUND);
    store_release(c);
}

/* --- the catalog --- */

static int insert_event_type(struct store_conn *tx, void *arg)
{
    return store_event_type_insert(tx, arg);
}

static int update_event_type(struct store_conn *tx, void *arg)
{
    return store_event_type_update(tx, arg);
}

static int delete_event_type(struct store_conn *tx, void *arg)
{
    return store_event_type_delete(tx, arg);
}

static void event_types_round_trip_and_count_by_prefix(void **state)
{
    struct store *st = *state;
    struct event_type a = {0}, b = {0}, back, listed[3];
    struct page page = {.limit = 1};
    char prefix[NAME_BYTES], id[ID_MAX];
    long n;
    int count;

    id_new("", id);
    snprintf(prefix, sizeof prefix, "t%s.a_", id);
    /* `_` is no wildcard: "a_b" counts under the prefix "a_", "axb" does not */
    snprintf(a.name, sizeof a.name, "t%s.a_b", id);
    snprintf(b.name, sizeof b.name, "t%s.axb", id);
    snprintf(a.description, sizeof a.description, "first");
    a.schema = "{\"type\":\"object\"}";
    a.created_at = a.updated_at = b.created_at = b.updated_at = time_now_ms();
    assert_int_equal(write_one(st, insert_event_type, &a), 0);
    assert_int_equal(write_one(st, insert_event_type, &b), 0);
    assert_int_equal(write_one(st, insert_event_type, &a), ERR_CONFLICT);

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_event_type_count_prefix(c, prefix, &n), 0);
    assert_int_equal(n, 1);
    prefix[strlen(prefix) - 2] = '\0'; /* "t<id>." */
    assert_int_equal(store_event_type_count_prefix(c, prefix, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(store_event_type_get(c, a.name, &back), 0);
    assert_string_equal(back.description, "first");
    assert_string_equal(back.schema, "{\"type\":\"object\"}");
    event_type_clear(&back);
    assert_int_equal(store_event_type_get(c, b.name, &back), 0);
    assert_null(back.schema);
    /* by name, after a cursor: a_b then axb ('_' < 'x') */
    page.has_cursor = true;
    assert_true(strlen(prefix) < sizeof page.before_id);
    memcpy(page.before_id, prefix, strlen(prefix) + 1);
    assert_int_equal(store_event_type_list(c, &page, listed, &count), 0);
    assert_int_equal(count, 2);
    assert_string_equal(listed[0].name, a.name);
    assert_string_equal(listed[1].name, b.name);
    for (int i = 0; i < count; i++)
        event_type_clear(&listed[i]);
    store_release(c);

    a.schema = NULL;
    snprintf(a.description, sizeof a.description, "second");
    assert_int_equal(write_one(st, update_event_type, &a), 0);
    assert_int_equal(write_one(st, delete_event_type, b.name), 0);
    assert_int_equal(write_one(st, delete_event_type, b.name), ERR_NOT_FOUND);
    c = store_acquire(st);
    assert_int_equal(store_event_type_get(c, a.name, &back), 0);
    assert_string_equal(back.description, "second");
    assert_null(back.schema);
    assert_int_equal(store_event_type_get(c, b.name, &back), ERR_NOT_FOUND);
    store_release(c);
}

/* --- keys --- */

static int insert_key(struct store_conn *tx, void *arg)
{
    return store_key_insert(tx, arg);
}

static int revoke_key(struct store_conn *tx, void *arg)
{
    return store_key_revoke(tx, arg, time_now_ms());
}

static void keys_list_by_org_newest_first(void **state)
{
    struct store *st = *state;
    struct org org;
    struct api_key keys[3], listed[4];
    struct page page = {.limit = 3};
    long before, after;
    int count;

    new_org(st, &org);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_key_count(c, &before), 0);
    store_release(c);
    for (int i = 0; i < 3; i++) {
        memset(&keys[i], 0, sizeof keys[i]);
        id_new("key_", keys[i].id);
        snprintf(keys[i].org_id, sizeof keys[i].org_id, "%s", org.id);
        snprintf(keys[i].name, sizeof keys[i].name, "k%d", i);
        keys[i].scopes = SCOPE_EVENTS | SCOPE_WEBHOOKS;
        memset(keys[i].secret_hash, i + 1, sizeof keys[i].secret_hash);
        keys[i].secret_hash[5] = 0; /* bytes, not a string */
        keys[i].created_at = time_now_ms() + i;
        assert_int_equal(write_one(st, insert_key, &keys[i]), 0);
    }
    assert_int_equal(write_one(st, insert_key, &keys[0]), ERR_CONFLICT);
    assert_int_equal(write_one(st, revoke_key, keys[1].id), 0);
    assert_int_equal(write_one(st, revoke_key, keys[1].id), ERR_NOT_FOUND);
    c = store_acquire(st);
    assert_int_equal(store_key_count(c, &after), 0);
    assert_int_equal(after, before + 3);
    assert_int_equal(store_key_list(c, org.id, &page, listed, &count), 0);
    assert_int_equal(count, 3);
    for (int i = 0; i < 3; i++) {
        assert_string_equal(listed[i].id, keys[2 - i].id);
        assert_memory_equal(listed[i].secret_hash, keys[2 - i].secret_hash, 32);
        assert_int_equal(listed[i].scopes, SCOPE_EVENTS | SCOPE_WEBHOOKS);
        assert_int_equal(listed[i].revoked_at != 0, i == 1);
    }
    store_release(c);
}

/* --- inbound --- */

static int insert_source(struct store_conn *tx, void *arg)
{
    return store_source_insert(tx, arg);
}

static int update_source(struct store_conn *tx, void *arg)
{
    return store_source_update(tx, arg);
}

static int delete_source(struct store_conn *tx, void *arg)
{
    struct object_ref *ref = arg;
    return store_source_delete(tx, ref->org_id, ref->id, time_now_ms());
}

static int insert_inbound(struct store_conn *tx, void *arg)
{
    return store_inbound_insert(tx, arg);
}

struct seen_args {
    const char *source_id, *key;
    int64_t since;
};

static int seen(struct store_conn *tx, void *arg)
{
    struct seen_args *s = arg;
    return store_inbound_seen(tx, s->source_id, s->key, s->since);
}

static void make_message(struct inbound_message *m, const struct source *src, const char *status,
                         const char *key)
{
    memset(m, 0, sizeof *m);
    id_new("msg_", m->id);
    snprintf(m->source_id, sizeof m->source_id, "%s", src->id);
    snprintf(m->org_id, sizeof m->org_id, "%s", src->org_id);
    snprintf(m->status, sizeof m->status, "%s", status);
    m->http_status = strcmp(status, "rejected") == 0 ? 401 : 202;
    snprintf(m->dedupe_key, sizeof m->dedupe_key, "%s", key);
    m->created_at = time_now_ms();
}

static void sources_and_messages_keep_their_bytes(void **state)
{
    struct store *st = *state;
    struct org org;
    struct source src = {0}, back, listed[2];
    struct inbound_message accepted, rejected, got, msgs[3];
    struct object_ref ref;
    struct seen_args s;
    struct page page = {.limit = 2};
    /* a body with NUL and bytes that are no UTF-8; a header value in Latin-1 */
    static const char body[] = {'{', '"', 'a', '"', ':', 0, (char)0xff, (char)0xfe, '}', '\n'};
    char headers[] = "Content-Type: application/json\nX-Name: caf\xe9\n";
    char key[] = "id:msg-\xe9\x01";
    int count;

    new_org(st, &org);
    id_new("src_", src.id);
    snprintf(src.org_id, sizeof src.org_id, "%s", org.id);
    snprintf(src.name, sizeof src.name, "stripe");
    src.verification = "{\"scheme\":\"stripe\"}";
    snprintf(src.secret, sizeof src.secret, "whsec_src");
    src.forward = true;
    src.is_active = true;
    src.tolerance_seconds = 300;
    src.created_at = src.updated_at = time_now_ms();
    assert_int_equal(write_one(st, insert_source, &src), 0);
    assert_int_equal(write_one(st, insert_source, &src), ERR_CONFLICT);

    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_source_get(c, "", src.id, &back), 0); /* any org */
    assert_string_equal(back.org_id, org.id);
    assert_string_equal(back.verification, src.verification);
    assert_string_equal(back.event_type, "");
    assert_true(back.forward && back.is_active);
    source_clear(&back);
    assert_int_equal(store_source_get(c, "org_other", src.id, &back), ERR_NOT_FOUND);
    assert_int_equal(store_source_list(c, org.id, &page, listed, &count), 0);
    assert_int_equal(count, 1);
    source_clear(&listed[0]);
    store_release(c);
    snprintf(src.event_type, sizeof src.event_type, "stripe.event");
    src.forward = false;
    assert_int_equal(write_one(st, update_source, &src), 0);

    make_message(&accepted, &src, "accepted", key);
    accepted.headers = headers;
    accepted.body = (char *)body;
    accepted.body_len = sizeof body;
    accepted.body_truncated = true;
    make_message(&rejected, &src, "rejected", "id:other");
    rejected.created_at++;
    snprintf(rejected.reason, sizeof rejected.reason, "bad_signature");
    assert_int_equal(write_one(st, insert_inbound, &accepted), 0);
    assert_int_equal(write_one(st, insert_inbound, &rejected), 0);
    assert_int_equal(write_one(st, insert_inbound, &rejected), ERR_CONFLICT);

    c = store_acquire(st);
    assert_int_equal(store_inbound_get(c, org.id, accepted.id, &got), 0);
    assert_int_equal(got.body_len, sizeof body);
    assert_memory_equal(got.body, body, sizeof body);
    assert_string_equal(got.headers, headers);
    assert_string_equal(got.dedupe_key, key);
    assert_true(got.body_truncated);
    assert_int_equal(got.http_status, 202);
    assert_string_equal(got.reason, "");
    inbound_message_clear(&got);
    assert_int_equal(store_inbound_get(c, "org_other", accepted.id, &got), ERR_NOT_FOUND);
    assert_int_equal(store_inbound_list(c, org.id, src.id, "", &page, msgs, &count), 0);
    assert_int_equal(count, 2);
    assert_string_equal(msgs[0].id, rejected.id); /* newest first */
    assert_string_equal(msgs[0].reason, "bad_signature");
    assert_string_equal(msgs[0].headers, "");
    assert_int_equal(msgs[0].body_len, 0);
    for (int i = 0; i < count; i++)
        inbound_message_clear(&msgs[i]);
    assert_int_equal(store_inbound_list(c, org.id, src.id, "accepted", &page, msgs, &count), 0);
    assert_int_equal(count, 1);
    assert_string_equal(msgs[0].id, accepted.id);
    inbound_message_clear(&msgs[0]);
    assert_int_equal(store_source_get(c, org.id, src.id, &back), 0);
    assert_string_equal(back.event_type, "stripe.event");
    assert_false(back.forward);
    source_clear(&back);
    store_release(c);

    s = (struct seen_args){src.id, key, accepted.created_at - 1000};
    assert_int_equal(write_one(st, seen, &s), 0);
    s.since = accepted.created_at + 1; /* too old to count */
    assert_int_equal(write_one(st, seen, &s), ERR_NOT_FOUND);
    s = (struct seen_args){src.id, "id:other", 0}; /* rejected ones do not count */
    assert_int_equal(write_one(st, seen, &s), ERR_NOT_FOUND);

    ref = (struct object_ref){org.id, src.id};
    assert_int_equal(write_one(st, delete_source, &ref), 0);
    assert_int_equal(write_one(st, delete_source, &ref), ERR_NOT_FOUND);
    c = store_acquire(st);
    assert_int_equal(store_source_get(c, "", src.id, &back), ERR_NOT_FOUND);
    store_release(c);
}

/* --- due deliveries and claims (§4.5) --- */

struct window_args {
    struct delivery *d;
    int n;
    const char *node_id;
};

static int insert_window(struct store_conn *tx, void *arg)
{
    struct window_args *w = arg;
    int rc = 0;
    for (int i = 0; i < w->n && rc == 0; i++)
        rc = store_delivery_insert(tx, &w->d[i], w->node_id);
    return rc;
}

/* Deliveries due at a time of their own, years ago, so that no other test's work is in the
 * window [*base, *base + n). */
static void add_due_window(struct store *st, struct delivery *d, int n, const char *node_id,
                           int64_t *base, struct event *ev, char *payload)
{
    static int64_t next_base;
    struct org org;

    if (next_base == 0)
        next_base = time_now_ms() - 10LL * 365 * 86400 * 1000;
    struct window_args w = {d, n, node_id};

    *base = next_base;
    next_base += n + 10;
    new_org(st, &org);
    make_event(ev, org.id, "due.test", payload);
    assert_int_equal(write_one(st, insert_event, ev), 0);
    for (int i = 0; i < n; i++)
        make_delivery(&d[i], ev, NULL, *base + i);
    assert_int_equal(write_one(st, insert_window, &w), 0);
}

/* delivery_due for node from (after_ms, after_id) up to due: count rows into out. */
static int due_of(struct store *st, const char *node_id, int64_t until, int64_t after_ms,
                  const char *after_id, bool held, struct due_delivery *out, int max)
{
    struct due_scan scan = {node_id, until, after_ms, after_id, held, 0, 1};
    int count = -1;
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_delivery_due(c, &scan, out, max, &count), 0);
    store_release(c);
    return count;
}

/* ... with the rows node holds */
static int due(struct store *st, const char *node_id, int64_t until, int64_t after_ms,
               const char *after_id, struct due_delivery *out, int max)
{
    return due_of(st, node_id, until, after_ms, after_id, true, out, max);
}

static void due_deliveries_come_in_order_with_their_envelope(void **state)
{
    struct store *st = *state;
    struct delivery d[5];
    struct due_delivery rows[3];
    struct event ev;
    char payload[] = "{\"id\":\"evt\",\"data\":{\"k\":\"v \xe2\x82\xac\"}}", node[ID_MAX];
    int64_t base, after_ms;
    char after_id[ID_MAX] = "";
    int seen = 0, count;

    id_new("node_", node);
    beat(st, node, time_now_ms());
    add_due_window(st, d, 5, NULL, &base, &ev, payload);
    after_ms = base - 1;
    /* two at a time, in (next_attempt_at, id) order; the last one is not due yet */
    while ((count = due(st, node, base + 3, after_ms, after_id, rows, 2)) > 0) {
        for (int i = 0; i < count; i++) {
            assert_string_equal(rows[i].id, d[seen].id);
            assert_string_equal(rows[i].payload, payload);
            assert_string_equal(rows[i].event_id, ev.id);
            assert_string_equal(rows[i].event_type, "due.test");
            assert_int_equal(rows[i].next_attempt_at, base + seen);
            assert_null(rows[i].url);
            seen++;
            after_ms = rows[i].next_attempt_at;
            memcpy(after_id, rows[i].id, sizeof after_id);
            due_delivery_clear(&rows[i]);
        }
    }
    assert_int_equal(count, 0);
    assert_int_equal(seen, 4);
}

static void two_nodes_claim_disjoint_batches(void **state)
{
    struct store *st = *state;
    struct delivery d[6];
    struct due_delivery a_rows[6], b_rows[6];
    struct event ev;
    char payload[] = "{}", node_a[ID_MAX], node_b[ID_MAX];
    int64_t base;
    int a, b, again;

    if (!is_postgres(st))
        skip(); /* SQLite: one serving process holds everything */
    id_new("node_", node_a);
    id_new("node_", node_b);
    beat(st, node_a, time_now_ms());
    beat(st, node_b, time_now_ms());
    add_due_window(st, d, 6, NULL, &base, &ev, payload);
    a = due(st, node_a, base + 5, base - 1, "", a_rows, 4);
    b = due(st, node_b, base + 5, base - 1, "", b_rows, 6);
    assert_int_equal(a, 4);
    assert_int_equal(b, 2); /* the rest: node a holds its four */
    for (int i = 0; i < a; i++)
        for (int j = 0; j < b; j++)
            assert_string_not_equal(a_rows[i].id, b_rows[j].id);
    for (int j = 0; j < b; j++)
        assert_true(strcmp(b_rows[j].id, d[4].id) == 0 || strcmp(b_rows[j].id, d[5].id) == 0);
    /* shown in flight, and still node a's the next time it looks */
    assert_true(get_delivery(st, ev.org_id, a_rows[0].id).claimed);
    for (int i = 0; i < a; i++)
        due_delivery_clear(&a_rows[i]);
    again = due(st, node_a, base + 5, base - 1, "", a_rows, 6);
    assert_int_equal(again, 4);
    for (int i = 0; i < again; i++)
        due_delivery_clear(&a_rows[i]);
    for (int j = 0; j < b; j++)
        due_delivery_clear(&b_rows[j]);
    /* a look for new work only passes over what each holds */
    assert_int_equal(due_of(st, node_a, base + 5, base - 1, "", false, a_rows, 6), 0);
}

/* Each delivery loop scans its own part of the store: the SQL of both dialects splits due rows
 * by queue key exactly as the engine routes them (queue_key_part), one-shot rows by org. */
static void a_scan_reads_the_part_of_its_loop(void **state)
{
    struct store *st = *state;
    enum { ENDPOINTS = 12, PARTS = 3 };
    struct delivery d[ENDPOINTS + 1];
    struct due_delivery rows[ENDPOINTS + 2];
    struct event ev;
    struct org org;
    char payload[] = "{}", node[ID_MAX], key[JOB_QUEUE_KEY_MAX];
    int64_t base = time_now_ms() - 1000;
    int seen = 0;

    id_new("node_", node);
    beat(st, node, time_now_ms());
    new_org(st, &org);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    for (int i = 0; i <= ENDPOINTS; i++) {
        char endpoint_id[ID_MAX];
        id_new("ep_", endpoint_id);
        make_delivery(&d[i], &ev, i < ENDPOINTS ? endpoint_id : NULL, base + i);
        add_delivery(st, &d[i], NULL);
    }
    for (int part = 0; part < PARTS; part++) {
        struct due_scan scan = {node, base + ENDPOINTS, base - 1, "", true, part, PARTS};
        struct store_conn *c = store_acquire(st);
        int count = 0;
        assert_int_equal(store_delivery_due(c, &scan, rows, ENDPOINTS + 2, &count), 0);
        store_release(c);
        for (int i = 0; i < count; i++) {
            queue_key_of(rows[i].endpoint_id, rows[i].org_id, key);
            assert_int_equal(queue_key_part(key, PARTS), part);
            due_delivery_clear(&rows[i]);
        }
        seen += count;
    }
    assert_int_equal(seen, ENDPOINTS + 1);
}

static void an_expired_lease_is_taken_over(void **state)
{
    struct store *st = *state;
    struct delivery dead_d[3], live_d[2];
    struct due_delivery rows[8];
    struct event ev1, ev2;
    char payload[] = "{}", dead[ID_MAX], live[ID_MAX], taker[ID_MAX];
    int64_t now = time_now_ms(), base1, base2;
    int count;

    if (!is_postgres(st))
        skip();
    id_new("node_", dead);
    id_new("node_", live);
    id_new("node_", taker);
    beat(st, dead, now - 120000); /* older than the default 30 s lease */
    beat(st, live, now);
    beat(st, taker, now);
    add_due_window(st, dead_d, 3, dead, &base1, &ev1, payload);
    add_due_window(st, live_d, 2, live, &base2, &ev2, payload);
    assert_false(get_delivery(st, ev1.org_id, dead_d[0].id).claimed); /* its holder is gone */
    assert_true(get_delivery(st, ev2.org_id, live_d[0].id).claimed);

    count = due(st, taker, base2 + 1, base1 - 1, "", rows, 8);
    assert_int_equal(count, 3); /* the dead node's three, not the live node's two */
    for (int i = 0; i < count; i++) {
        assert_string_equal(rows[i].id, dead_d[i].id);
        due_delivery_clear(&rows[i]);
    }
    assert_true(get_delivery(st, ev1.org_id, dead_d[0].id).claimed); /* now the taker's */
    assert_int_equal(due(st, dead, base2 + 1, base1 - 1, "", rows, 8), 0);
}

struct node_ref {
    const char *node_id;
};

static int release_node(struct store_conn *tx, void *arg)
{
    const char *node_id = ((struct node_ref *)arg)->node_id;
    int rc = store_delivery_release(tx, node_id);
    return rc ? rc : store_node_remove(tx, node_id);
}

static void a_node_that_stops_releases_its_claims(void **state)
{
    struct store *st = *state;
    struct delivery d[3];
    struct due_delivery rows[4];
    struct event ev;
    char payload[] = "{}", leaving[ID_MAX], staying[ID_MAX];
    struct node_ref ref = {leaving};
    int64_t base;
    int count;

    if (!is_postgres(st))
        skip();
    id_new("node_", leaving);
    id_new("node_", staying);
    beat(st, leaving, time_now_ms());
    beat(st, staying, time_now_ms());
    add_due_window(st, d, 3, NULL, &base, &ev, payload);
    count = due(st, leaving, base + 2, base - 1, "", rows, 4);
    assert_int_equal(count, 3);
    for (int i = 0; i < count; i++)
        due_delivery_clear(&rows[i]);
    assert_int_equal(due(st, staying, base + 2, base - 1, "", rows, 4), 0);
    assert_int_equal(write_one(st, release_node, &ref), 0);
    assert_false(get_delivery(st, ev.org_id, d[0].id).claimed);
    count = due(st, staying, base + 2, base - 1, "", rows, 4);
    assert_int_equal(count, 3);
    for (int i = 0; i < count; i++)
        due_delivery_clear(&rows[i]);
}

/* Nodes scanning at the same moment, each on its own connection and cursor as the engine
 * does, never take the same row, and between them take every row. */
#define RACE_ROWS 300
#define RACE_NODES 3
#define RACE_BATCH 7

struct racer {
    struct store *st;
    char node_id[ID_MAX];
    int64_t base;
    char ids[RACE_ROWS][ID_MAX];
    int got;
    int rc;
};

static void *race(void *arg)
{
    struct racer *r = arg;
    struct due_delivery rows[RACE_BATCH];
    int64_t after_ms = r->base - 1;
    char after_id[ID_MAX] = "";
    int count;
    struct store_conn *c = store_acquire(r->st);

    do {
        struct due_scan scan = {r->node_id, r->base + RACE_ROWS, after_ms, after_id, true, 0, 1};
        r->rc = store_delivery_due(c, &scan, rows, RACE_BATCH, &count);
        for (int i = 0; r->rc == 0 && i < count; i++) {
            if (r->got < RACE_ROWS)
                memcpy(r->ids[r->got++], rows[i].id, ID_MAX);
            after_ms = rows[i].next_attempt_at;
            memcpy(after_id, rows[i].id, ID_MAX);
            due_delivery_clear(&rows[i]);
        }
    } while (r->rc == 0 && count > 0);
    store_release(c);
    return NULL;
}

static int compare_ids(const void *a, const void *b)
{
    return strcmp(a, b);
}

static void nodes_scanning_together_share_the_work(void **state)
{
    struct store *st = *state;
    static struct delivery d[RACE_ROWS];
    static struct racer racers[RACE_NODES];
    static char all[RACE_ROWS * RACE_NODES][ID_MAX];
    pthread_t threads[RACE_NODES];
    struct event ev;
    char payload[] = "{}";
    int64_t base;
    int total = 0;

    if (!is_postgres(st))
        skip();
    add_due_window(st, d, RACE_ROWS, NULL, &base, &ev, payload);
    for (int i = 0; i < RACE_NODES; i++) {
        memset(&racers[i], 0, sizeof racers[i]);
        racers[i].st = st;
        racers[i].base = base;
        id_new("node_", racers[i].node_id);
        beat(st, racers[i].node_id, time_now_ms());
    }
    for (int i = 0; i < RACE_NODES; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, race, &racers[i]), 0);
    for (int i = 0; i < RACE_NODES; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(racers[i].rc, 0);
        memcpy(all[total], racers[i].ids, (size_t)racers[i].got * ID_MAX);
        total += racers[i].got;
    }
    assert_int_equal(total, RACE_ROWS);
    qsort(all, (size_t)total, ID_MAX, compare_ids);
    for (int i = 1; i < total; i++)
        assert_string_not_equal(all[i - 1], all[i]);
}

/* Work that no node holds wakes the idle nodes at commit (NOTIFY hookd_work), with the time
 * it is due from: where their looks for new work begin. The wake-up time, or -1 if none came. */
static int64_t woken_within(struct store *st, int fd, int ms)
{
    int64_t until = time_now_ms() + ms, from = -1;
    while (from < 0 && time_now_ms() < until) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t got;
        poll(&pfd, 1, 20);
        if (store_wake_drain(st, &got) > 0)
            from = got;
    }
    return from;
}

static int release_claims(struct store_conn *tx, void *node_id)
{
    return store_delivery_release(tx, node_id);
}

static void unclaimed_work_notifies_the_nodes(void **state)
{
    struct store *st = *state;
    struct org org;
    struct event ev;
    struct delivery held, free_work;
    char payload[] = "{}", node[ID_MAX];
    int64_t now = time_now_ms();
    int fd;

    if (!is_postgres(st))
        skip();
    fd = store_wake_fd(st);
    assert_true(fd >= 0);
    new_org(st, &org);
    make_event(&ev, org.id, "a.b", payload);
    assert_int_equal(write_one(st, insert_event, &ev), 0);
    id_new("node_", node);
    make_delivery(&held, &ev, NULL, now);
    add_delivery(st, &held, node); /* its node has it in memory: no need to wake anyone */
    assert_int_equal(woken_within(st, fd, 200), -1);
    make_delivery(&free_work, &ev, NULL, now - 1234);
    add_delivery(st, &free_work, NULL);
    assert_int_equal(woken_within(st, fd, 3000), now - 1234);
    assert_int_equal(write_one(st, release_claims, node), 0); /* due whenever: from the start */
    assert_int_equal(woken_within(st, fd, 3000), 0);
}

/* --- retention --- */

struct purge_pass {
    int64_t now;
    char after_org[ID_MAX];
    long purged;
    bool more; /* the reclaim stopped at its bound */
};

static int purge_and_reclaim(struct store_conn *tx, void *arg)
{
    struct purge_pass *p = arg;
    int rc = store_history_purge(tx, p->now, 86400000, 250, p->after_org, &p->purged);
    return rc != 0 ? rc : store_reclaim(tx, &p->more);
}

/* The pages of the test's SQLite database, the WAL's included (no checkpoint needed). */
static long sqlite_page_count(void)
{
    char path[256];
    sqlite3 *db;
    sqlite3_stmt *s;
    long pages = -1;
    snprintf(path, sizeof path, "%s/t.db", db_dir);
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &s, NULL), SQLITE_OK);
    if (sqlite3_step(s) == SQLITE_ROW)
        pages = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return pages;
}

/* The pages purged history held go back to the file system, a bounded number per reclaim
 * (SQLite); PostgreSQL's autovacuum does it on its own, and a reclaim there has nothing to do.
 * Runs late: it purges whatever old history earlier tests left. */
static void purged_history_gives_its_pages_back(void **state)
{
    enum { EVENTS = 200, PAD = 16 * 1024 };
    struct store *st = *state;
    struct purge_pass pass = {.now = time_now_ms()};
    struct org org;
    struct event ev;
    struct store_conn *c;
    char *payload = malloc(PAD + 16);
    long before = 0, after = 0;
    int passes = 0, bounded = 0;

    assert_non_null(payload);
    snprintf(payload, PAD + 16, "{\"pad\":\"%0*d\"}", PAD, 7);
    new_org(st, &org);
    for (int i = 0; i < EVENTS; i++) {
        make_event(&ev, org.id, "a.b", payload);
        ev.created_at = pass.now - 2 * 86400000LL;
        ev.delivery_count = 0;
        assert_int_equal(write_one(st, insert_event, &ev), 0);
    }
    if (!is_postgres(st))
        before = sqlite_page_count();
    do {
        assert_int_equal(write_one(st, purge_and_reclaim, &pass), 0);
        bounded += pass.more;
    } while ((pass.purged > 0 || pass.after_org[0] != '\0' || pass.more) && ++passes < 100);
    assert_true(passes < 100);
    c = store_acquire(st);
    assert_int_equal(store_event_get(c, org.id, ev.id, &ev), ERR_NOT_FOUND);
    store_release(c);
    free(payload);
    if (is_postgres(st)) {
        assert_int_equal(bounded, 0);
        return;
    }
    after = sqlite_page_count();
    /* 200 events of 16 KiB are 800 overflow pages and more: several reclaims */
    assert_true(bounded >= 800 / STORE_RECLAIM_PAGES);
    assert_true(after < before - 800);
}

/* --- schema and opening --- */

static void migrating_again_applies_nothing(void **state)
{
    struct store *st = *state;
    int applied = -1, current = 0, latest = 0;
    struct err e;
    assert_int_equal(store_migrate(st, &applied, &e), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(store_schema_version(st, &current, &latest), 0);
    assert_true(latest >= 3);
    assert_int_equal(current, latest);
}

/* What migrations 6 to 12 added, taken out again: a database rewound to an older version. */
#define UNDO_MIGRATIONS_6_TO_12                                                                    \
    "DROP INDEX deliveries_fifo;"                                                                  \
    "ALTER TABLE endpoints DROP COLUMN ordering;"                                                  \
    "ALTER TABLE events DROP COLUMN ordering_key;"                                                 \
    "ALTER TABLE deliveries DROP COLUMN ordering_key;"                                             \
    "DROP INDEX deliveries_polled;"                                                                \
    "ALTER TABLE endpoints DROP COLUMN kind;"                                                      \
    "ALTER TABLE endpoints DROP COLUMN poll_token_hash;"                                           \
    "ALTER TABLE endpoints DROP COLUMN retry_schedule;"                                            \
    "ALTER TABLE endpoints DROP COLUMN disable_after;"                                             \
    "ALTER TABLE endpoints DROP COLUMN filter;"                                                    \
    "ALTER TABLE orgs DROP COLUMN retention_days;"                                                 \
    "DROP TABLE endpoint_stats;"                                                                   \
    "DROP INDEX endpoints_operational;"                                                            \
    "ALTER TABLE endpoints DROP COLUMN operational;"                                               \
    "ALTER TABLE sources DROP COLUMN rejected_in_row;"                                             \
    "DROP TABLE portal_sessions;"                                                                  \
    "ALTER TABLE orgs DROP COLUMN portal_name;"                                                    \
    "ALTER TABLE orgs DROP COLUMN portal_logo_url;"                                                \
    "ALTER TABLE orgs DROP COLUMN portal_accent_color;"

/* Migration 4 rebuilt SQLite's attempts table: attempts written before it are kept. The
 * table is put back in its version-3 shape by hand, with one attempt in it. */
static void attempts_survive_the_rebuild_of_their_table(void **state)
{
    static const char version3[] =
        "DROP TABLE attempts;"
        "CREATE TABLE attempts (id TEXT NOT NULL UNIQUE, delivery_id TEXT NOT NULL, n INTEGER NOT "
        "NULL, started_at INTEGER NOT NULL, duration_ms INTEGER NOT NULL, response_status "
        "INTEGER, response_body TEXT, response_headers TEXT, error TEXT, request_headers TEXT);"
        "CREATE INDEX attempts_delivery ON attempts (delivery_id, n);"
        "INSERT INTO attempts VALUES ('att_2', 'dlv_old', 2, 2000, 7, 503, 'busy', "
        "'Retry-After: 1\n', NULL, 'webhook-id: evt_1\n');"
        "INSERT INTO attempts VALUES ('att_1', 'dlv_old', 1, 1000, 5, NULL, NULL, NULL, "
        "'timeout', 'webhook-id: evt_1\n');" UNDO_MIGRATIONS_6_TO_12 "PRAGMA user_version = 3;";
    struct store_options opts = {.exclusive = true};
    struct store *old = NULL;
    struct attempt found[4];
    char path[256], url[300];
    int applied = -1, count = 0;
    struct err e;
    sqlite3 *db;

    if (is_postgres(*state))
        skip();
    snprintf(path, sizeof path, "%s/v3.db", db_dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(store_open(url, &opts, &old, &e), 0);
    assert_int_equal(store_migrate(old, &applied, &e), 0);
    store_close(old);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, version3, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(url, &opts, &old, &e), 0);
    assert_int_equal(store_migrate(old, &applied, &e), 0);
    assert_int_equal(applied, 9); /* 4 to 12 */
    struct store_conn *c = store_acquire(old);
    assert_int_equal(store_attempt_list(c, "dlv_old", found, 4, &count), 0);
    assert_int_equal(count, 2);
    assert_string_equal(found[0].id, "att_1");
    assert_string_equal(found[0].error, "timeout");
    assert_int_equal(found[0].started_at, 1000);
    assert_int_equal(found[0].duration_ms, 5);
    assert_string_equal(found[0].request_headers, "webhook-id: evt_1\n");
    assert_string_equal(found[1].id, "att_2");
    assert_int_equal(found[1].response_status, 503);
    assert_string_equal(found[1].response_body, "busy");
    assert_string_equal(found[1].response_headers, "Retry-After: 1\n");
    for (int i = 0; i < count; i++)
        attempt_clear(&found[i]);
    store_release(c);
    store_close(old);
}

/* Migration 5 made SQLite's dedupe keys and headers bytes: a message stored before it, as
 * TEXT, is still found by its key and read back whole. */
static void messages_keep_their_dedupe_keys_across_migration_5(void **state)
{
    static const char version4[] =
        "INSERT INTO inbound_messages (id, source_id, org_id, status, http_status, dedupe_key, "
        "headers, body, created_at) VALUES ('msg_old', 'src_old', 'org_old', 'accepted', 202, "
        "'evt-42', 'X-Id: 42\n', CAST('{}' AS BLOB), 1000);" UNDO_MIGRATIONS_6_TO_12
        "PRAGMA user_version = 4;";
    struct store_options opts = {.exclusive = true};
    struct inbound_message back;
    struct store *old = NULL;
    char path[256], url[300];
    int applied = -1;
    struct err e;
    sqlite3 *db;

    if (is_postgres(*state))
        skip();
    snprintf(path, sizeof path, "%s/v4.db", db_dir);
    snprintf(url, sizeof url, "sqlite:%s", path);
    assert_int_equal(store_open(url, &opts, &old, &e), 0);
    assert_int_equal(store_migrate(old, &applied, &e), 0);
    store_close(old);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, version4, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(url, &opts, &old, &e), 0);
    assert_int_equal(store_migrate(old, &applied, &e), 0);
    assert_int_equal(applied, 8); /* 5 to 12 */
    struct store_conn *c = store_acquire(old);
    assert_int_equal(store_inbound_seen(c, "src_old", "evt-42", 0), 0);
    assert_int_equal(store_inbound_seen(c, "src_old", "evt-43", 0), ERR_NOT_FOUND);
    assert_int_equal(store_inbound_get(c, "org_old", "msg_old", &back), 0);
    assert_string_equal(back.dedupe_key, "evt-42");
    assert_string_equal(back.headers, "X-Id: 42\n");
    assert_int_equal(back.body_len, 2);
    inbound_message_clear(&back);
    store_release(c);
    store_close(old);
}

/* Several serving nodes on one database: `exclusive` locks nothing, and they see one data. */
static void several_nodes_open_one_database(void **state)
{
    struct store *st = *state, *second = NULL;
    struct store_options opts = {.exclusive = true};
    struct org org, back;
    struct err e;
    int applied = -1;

    if (!is_postgres(st))
        skip();
    assert_int_equal(store_open(getenv("HOOKD_TEST_DB"), &opts, &second, &e), 0);
    assert_true(store_is_shared(second));
    assert_int_equal(store_migrate(second, &applied, &e), 0);
    assert_int_equal(applied, 0);
    new_org(st, &org);
    struct store_conn *c = store_acquire(second);
    assert_int_equal(store_org_get(c, org.id, &back), 0);
    store_release(c);
    store_close(second);
}

/* Nodes that start together on an empty database migrate it once (the advisory lock). */
struct migrator {
    const char *url;
    int applied, rc;
};

static void *migrate_one(void *arg)
{
    struct migrator *m = arg;
    struct store_options opts = {.exclusive = true};
    struct store *st;
    struct err e;
    m->rc = store_open(m->url, &opts, &st, &e);
    if (m->rc == 0) {
        m->rc = store_migrate(st, &m->applied, &e);
        store_close(st);
    }
    return NULL;
}

static void nodes_starting_together_migrate_once(void **state)
{
    struct store *st = *state;
    const char *url = getenv("HOOKD_TEST_DB");
    char db[ID_MAX + 32], sql[ID_MAX + 64], fresh_url[512], id[ID_MAX];
    struct migrator m[4];
    pthread_t threads[4];
    const char *path;
    PGconn *admin;
    PGresult *res;
    int total = 0, current, latest;

    if (!is_postgres(st))
        skip();
    id_new("", id);
    for (char *p = id; *p; p++)
        *p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
    snprintf(db, sizeof db, "hookd_migrate_%s", id);
    path = strchr(strstr(url, "://") + 3, '/'); /* postgres://user@host:port/db?... */
    assert_non_null(path);
    snprintf(fresh_url, sizeof fresh_url, "%.*s/%s%s", (int)(path - url), url, db,
             strchr(path, '?') ? strchr(path, '?') : "");
    admin = PQconnectdb(url);
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    res = PQexec(admin, sql);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    PQclear(res);
    for (int i = 0; i < 4; i++) {
        m[i] = (struct migrator){.url = fresh_url};
        assert_int_equal(pthread_create(&threads[i], NULL, migrate_one, &m[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(m[i].rc, 0);
        total += m[i].applied;
    }
    snprintf(sql, sizeof sql, "DROP DATABASE %s", db);
    PQclear(PQexec(admin, sql));
    PQfinish(admin);
    assert_int_equal(store_schema_version(st, &current, &latest), 0);
    assert_int_equal(total, latest); /* each migration once, whoever ran it */
}

/* The server dropping the connections (a restart, a failover) costs one failed call on each,
 * not the process: the next one reconnects. */
static void connections_recover_after_the_server_drops_them(void **state)
{
    struct store *st = *state;
    struct org org, back;
    PGconn *admin;
    PGresult *res;
    int rc;

    if (!is_postgres(st))
        skip();
    new_org(st, &org);
    struct store_conn *c = store_acquire(st);
    assert_int_equal(store_org_get(c, org.id, &back), 0); /* in the pool, prepared */
    store_release(c);
    admin = PQconnectdb(getenv("HOOKD_TEST_DB"));
    assert_int_equal(PQstatus(admin), CONNECTION_OK);
    res = PQexec(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                        "application_name = 'hookd' AND pid <> pg_backend_pid()");
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    assert_true(PQntuples(res) >= 2); /* the writer and the pooled reader */
    PQclear(res);
    PQfinish(admin);
    usleep(50 * 1000);

    log_set_level(LOG_ALWAYS); /* the failures below are expected */
    c = store_acquire(st);
    rc = c ? store_org_get(c, org.id, &back) : ERR_FAIL;
    store_release(c);
    if (rc != 0) {
        c = store_acquire(st);
        assert_non_null(c);
        rc = store_org_get(c, org.id, &back);
        store_release(c);
    }
    log_set_level(LOG_INFO);
    assert_int_equal(rc, 0);

    make_org(&org, "after", time_now_ms());
    log_set_level(LOG_ALWAYS);
    rc = write_one(st, insert_org, &org);
    if (rc != 0)
        rc = write_one(st, insert_org, &org);
    log_set_level(LOG_INFO);
    assert_int_equal(rc, 0);
    c = store_acquire(st);
    assert_int_equal(store_org_get(c, org.id, &back), 0);
    store_release(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orgs_round_trip),
        cmocka_unit_test(lists_page_newest_first_without_gaps),
        cmocka_unit_test(a_failing_job_does_not_fail_its_batch),
        cmocka_unit_test(rows_of_a_failed_job_are_taken_out),
        cmocka_unit_test(subscribers_are_found_by_their_exact_entry),
        cmocka_unit_test(the_writer_commits_every_job_of_concurrent_submitters),
        cmocka_unit_test(deleting_an_org_revokes_its_keys),
        cmocka_unit_test(idempotency_records_expire),
        cmocka_unit_test(a_second_server_on_the_same_file_is_refused),
        cmocka_unit_test(events_keep_their_payload_byte_identical),
        cmocka_unit_test(a_conflict_leaves_the_rest_of_the_job_working),
        cmocka_unit_test(deliveries_record_attempts_and_move_on),
        cmocka_unit_test(outcomes_count_in_their_endpoints_stats),
        cmocka_unit_test(pending_deliveries_split_by_their_claim),
        cmocka_unit_test(replay_queues_one_delivery_per_event),
        cmocka_unit_test(endpoints_disable_after_consecutive_failures),
        cmocka_unit_test(endpoints_update_list_fan_out_and_delete),
        cmocka_unit_test(the_fan_out_follows_every_endpoint_change),
        cmocka_unit_test(a_rolled_back_transaction_leaves_no_fan_out_behind),
        cmocka_unit_test(event_types_round_trip_and_count_by_prefix),
        cmocka_unit_test(keys_list_by_org_newest_first),
        cmocka_unit_test(sources_and_messages_keep_their_bytes),
        cmocka_unit_test(due_deliveries_come_in_order_with_their_envelope),
        cmocka_unit_test(two_nodes_claim_disjoint_batches),
        cmocka_unit_test(a_scan_reads_the_part_of_its_loop),
        cmocka_unit_test(an_expired_lease_is_taken_over),
        cmocka_unit_test(a_node_that_stops_releases_its_claims),
        cmocka_unit_test(nodes_scanning_together_share_the_work),
        cmocka_unit_test(unclaimed_work_notifies_the_nodes),
        cmocka_unit_test(migrating_again_applies_nothing),
        cmocka_unit_test(attempts_survive_the_rebuild_of_their_table),
        cmocka_unit_test(messages_keep_their_dedupe_keys_across_migration_5),
        cmocka_unit_test(several_nodes_open_one_database),
        cmocka_unit_test(nodes_starting_together_migrate_once),
        cmocka_unit_test(connections_recover_after_the_server_drops_them),
        cmocka_unit_test(purged_history_gives_its_pages_back),
    };
    return cmocka_run_group_tests(tests, open_fresh, close_store);
}
