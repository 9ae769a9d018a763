/* Store conformance: what every backend behind store.h must do. Runs against the backend of
 * HOOKD_TEST_DB (default: a fresh SQLite file), so the PostgreSQL backend reuses it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/timeutil.h"
#include "store/store.h"
#include "store/writer.h"

#include <stdio.h>
#include <stdlib.h>
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
    if (store_open(url, &opts, &st, &e) != 0 || st->ops->migrate(st, &applied, &e) != 0) {
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
    return store_ops_of(tx)->org_insert(tx, arg);
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
    assert_int_equal(store_ops_of(c)->org_get(c, org.id, &back), 0);
    assert_string_equal(back.name, org.name);
    assert_string_equal(back.primary_secret, "whsec_test");
    assert_int_equal(back.created_at, org.created_at);
    assert_int_equal(store_ops_of(c)->org_get(c, "org_missing", &back), ERR_NOT_FOUND);
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
        assert_int_equal(store_ops_of(c)->org_list(c, &page, page_items, &count), 0);
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
    store_ops_of(tx)->org_insert(tx, arg);
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
    assert_int_equal(store_ops_of(c)->org_get(c, good1.id, &back), 0);
    assert_int_equal(store_ops_of(c)->org_get(c, good2.id, &back), 0);
    assert_int_equal(store_ops_of(c)->org_get(c, bad.id, &back), ERR_NOT_FOUND);
    store_release(c);
}

struct key_args {
    struct org org;
    struct api_key key;
};

static int insert_org_and_key(struct store_conn *tx, void *arg)
{
    struct key_args *ka = arg;
    int rc = store_ops_of(tx)->org_insert(tx, &ka->org);
    return rc ? rc : store_ops_of(tx)->key_insert(tx, &ka->key);
}

static int delete_org(struct store_conn *tx, void *arg)
{
    return store_ops_of(tx)->org_delete(tx, arg, time_now_ms());
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
    assert_int_equal(store_ops_of(c)->key_get(c, ka.key.id, &back), 0);
    assert_int_equal(back.revoked_at, 0);
    assert_memory_equal(back.secret_hash, ka.key.secret_hash, 32);
    assert_int_equal(write_one(st, delete_org, ka.org.id), 0);
    assert_int_equal(store_ops_of(c)->key_get(c, ka.key.id, &back), 0);
    assert_true(back.revoked_at > 0);
    assert_int_equal(store_ops_of(c)->org_get(c, ka.org.id, &gone), ERR_NOT_FOUND);
    store_release(c);
    assert_int_equal(write_one(st, delete_org, ka.org.id), ERR_NOT_FOUND);
}

static int put_idem(struct store_conn *tx, void *arg)
{
    return store_ops_of(tx)->idem_put(tx, arg);
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
    assert_int_equal(store_ops_of(c)->idem_get(c, "org_x", "k1", now - 5000, &back), 0);
    assert_int_equal(back.status, 201);
    assert_string_equal(back.body, "{\"id\":1}");
    free(back.body);
    assert_int_equal(store_ops_of(c)->idem_get(c, "org_x", "k1", now, &back), ERR_NOT_FOUND);
    assert_int_equal(store_ops_of(c)->idem_get(c, "org_y", "k1", 0, &back), ERR_NOT_FOUND);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orgs_round_trip),
        cmocka_unit_test(lists_page_newest_first_without_gaps),
        cmocka_unit_test(a_failing_job_does_not_fail_its_batch),
        cmocka_unit_test(deleting_an_org_revokes_its_keys),
        cmocka_unit_test(idempotency_records_expire),
        cmocka_unit_test(a_second_server_on_the_same_file_is_refused),
    };
    return cmocka_run_group_tests(tests, open_fresh, close_store);
}
