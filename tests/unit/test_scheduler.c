/* The delivery loop's scheduling rules (engine/scheduler.c), with an in-memory source in place
 * of the store: admission and the memory limit, the memory horizon for retries, the store-scan
 * cursor, max_in_flight, rate limits, endpoints taking turns, and "a job leaves memory only
 * once its outcome is committed". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/text.h"
#include "engine/scheduler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS_MAX 64

/* The "store": due rows in (next_attempt_at, id) order, endpoint settings, and what ended. */
struct fake {
    struct due_delivery rows[ROWS_MAX];
    int row_count;
    int reads;               /* read_due calls */
    int max_in_flight;       /* of every endpoint */
    double rate;             /* > 0: every endpoint's rate_limit */
    bool inactive;           /* every endpoint is disabled */
    bool store_down;         /* load fails */
    const char *foreign_key; /* a queue key another loop holds */
    int ended;               /* end_without_attempt calls */
    bool last_held;          /* what the last read_due asked for */
};

static bool fake_load(void *ctx, struct sched_endpoint *ep)
{
    struct fake *f = ctx;
    if (f->store_down)
        return false;
    ep->usable = !f->inactive;
    ep->max_in_flight = f->max_in_flight;
    ep->has_rate = f->rate > 0;
    if (ep->has_rate)
        token_bucket_init(&ep->bucket, f->rate, 1, 0);
    return true;
}

static int fake_read_due(void *ctx, int64_t now, int64_t after_ms, const char *after_id, bool held,
                         struct due_delivery *rows, int max, int *count)
{
    struct fake *f = ctx;
    *count = 0;
    f->reads++;
    f->last_held = held;
    for (int i = 0; i < f->row_count && *count < max; i++) {
        const struct due_delivery *r = &f->rows[i];
        if (r->next_attempt_at > now)
            continue;
        if (r->next_attempt_at < after_ms ||
            (r->next_attempt_at == after_ms && strcmp(r->id, after_id) <= 0))
            continue;
        rows[*count] = *r;
        rows[*count].url = NULL;
        rows[*count].payload = strdup("{}");
        (*count)++;
    }
    return 0;
}

static bool fake_owns(void *ctx, const char *key)
{
    struct fake *f = ctx;
    return f->foreign_key == NULL || strcmp(key, f->foreign_key) != 0;
}

static struct scheduler sched;

static void fake_end(void *ctx, struct engine_job *job, const char *why)
{
    struct fake *f = ctx;
    (void)why;
    f->ended++;
    sched_settle(&sched, job);
}

static struct fake fake;

static void setup_with(int memory_jobs, int scan_page)
{
    struct sched_limits limits = {memory_jobs, 300000, scan_page, 0};
    struct sched_source src = {.ctx = &fake,
                               .load = fake_load,
                               .read_due = fake_read_due,
                               .owns = fake_owns,
                               .end_without_attempt = fake_end};
    sched_init(&sched, &limits, &src, 0);
}

static int setup(void **state)
{
    (void)state;
    memset(&fake, 0, sizeof fake);
    fake.max_in_flight = 100;
    setup_with(1000, 8);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    sched_free(&sched);
    return 0;
}

static struct engine_job *job(const char *id, const char *endpoint, int64_t due)
{
    struct payload *p = payload_new("{}", 2, "t.e");
    struct engine_job *j = engine_job_new(id, "org_1", "evt_1", endpoint, NULL, p, due);
    payload_release(p);
    return j;
}

static void add_row(const char *id, const char *endpoint, int64_t due)
{
    struct due_delivery *r = &fake.rows[fake.row_count++];
    memset(r, 0, sizeof *r);
    text_copy(r->id, sizeof r->id, id);
    text_copy(r->org_id, sizeof r->org_id, "org_1");
    text_copy(r->event_id, sizeof r->event_id, "evt_1");
    text_copy(r->endpoint_id, sizeof r->endpoint_id, endpoint);
    text_copy(r->event_type, sizeof r->event_type, "t.e");
    r->next_attempt_at = due;
}

/* Starts everything that may start now (at most max), into started; returns how many. */
static int start_all(int64_t now_ms, struct engine_job **started, int max)
{
    int n = 0;
    struct sched_endpoint *ep;
    struct engine_job *j;
    while (n < max && (j = sched_next(&sched, now_ms * 1000000, now_ms, &ep)) != NULL)
        started[n++] = j;
    return n;
}

static struct sched_endpoint *endpoint_named(const char *key)
{
    for (int i = 0; i < SCHED_ENDPOINT_SLOTS; i++)
        for (struct sched_endpoint *ep = sched.endpoints[i]; ep; ep = ep->hash_next)
            if (strcmp(ep->key, key) == 0)
                return ep;
    return NULL;
}

static void max_in_flight_holds_per_endpoint(void **state)
{
    struct engine_job *started[16];
    (void)state;
    fake.max_in_flight = 2;
    sched_turn(&sched, 0);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "dlv_a%d", i);
        sched_admit(&sched, job(id, "ep_a", 0), 0);
    }
    assert_int_equal(start_all(0, started, 16), 2);
    /* one ends: exactly one more may start */
    sched_finished(&sched, endpoint_named("ep_a"), started[0], DLV_DELIVERED, 0, 0);
    assert_int_equal(start_all(0, started + 2, 14), 1);
    assert_int_equal(sched.in_flight, 2);
}

static void endpoints_take_turns(void **state)
{
    struct engine_job *started[16];
    (void)state;
    sched_turn(&sched, 0);
    for (int i = 0; i < 6; i++) {
        char id[32];
        snprintf(id, sizeof id, "dlv_a%d", i);
        sched_admit(&sched, job(id, "ep_a", 0), 0);
    }
    sched_admit(&sched, job("dlv_b0", "ep_b", 0), 0);
    sched_admit(&sched, job("dlv_b1", "ep_b", 0), 0);
    assert_int_equal(start_all(0, started, 4), 4);
    /* a backlog of A does not go first: B's first two are among the first four */
    assert_string_equal(started[0]->id, "dlv_a0");
    assert_string_equal(started[1]->id, "dlv_b0");
    assert_string_equal(started[2]->id, "dlv_a1");
    assert_string_equal(started[3]->id, "dlv_b1");
}

static void a_known_job_is_not_taken_twice(void **state)
{
    struct engine_job *started[4];
    (void)state;
    sched_turn(&sched, 0);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    assert_int_equal(sched.known.count, 1);
    assert_int_equal(start_all(0, started, 4), 1);
}

static void a_settled_job_stays_known_until_its_outcome_is_recorded(void **state)
{
    struct engine_job *started[4];
    (void)state;
    add_row("dlv_1", "ep_a", 0);
    sched_turn(&sched, 0); /* the first scan takes it up */
    assert_int_equal(start_all(0, started, 4), 1);
    sched_finished(&sched, endpoint_named("ep_a"), started[0], DLV_DELIVERED, 0, 0);
    /* the row is still pending in the store until the outcome commits: a scan now finds it */
    sched_rescan(&sched);
    sched_turn(&sched, 1);
    assert_int_equal(start_all(1, started, 4), 0);
    /* committed: it leaves memory, and only then could a scan take it up again */
    struct engine_job *settled = sched_take_settled(&sched);
    assert_non_null(settled);
    assert_string_equal(settled->id, "dlv_1");
    assert_null(sched_take_settled(&sched));
    sched_recorded(&sched, settled, true);
    assert_int_equal(sched.known.count, 0);
}

static void memory_full_leaves_new_jobs_to_the_store(void **state)
{
    (void)state;
    sched_free(&sched);
    setup_with(3, 8);
    sched_turn(&sched, 0);
    for (int i = 0; i < 5; i++) {
        char id[32];
        snprintf(id, sizeof id, "dlv_%d", i);
        sched_admit(&sched, job(id, "ep_a", 100 + i), 50);
    }
    assert_int_equal(sched.known.count, 3);
    /* the store is looked at again when the first one left there falls due */
    assert_int_equal(sched.store_due, 103);
    sched_turn(&sched, 103);
    assert_true(sched.scan_needed);
    assert_true(sched.scan_held); /* they were this node's when the store got them */
}

static void retries_beyond_the_horizon_wait_in_the_store(void **state)
{
    struct engine_job *started[4];
    (void)state;
    sched_turn(&sched, 0);
    sched_admit(&sched, job("dlv_near", "ep_a", 0), 0);
    sched_admit(&sched, job("dlv_far", "ep_a", 0), 0);
    assert_int_equal(start_all(0, started, 4), 2);
    sched_finished(&sched, endpoint_named("ep_a"), started[0], DLV_PENDING, 60000, 0);
    sched_finished(&sched, endpoint_named("ep_a"), started[1], DLV_PENDING, 3600000, 0);
    /* the near retry is a timer in memory; the far one settles and marks when to look */
    assert_int_equal(sched.timers.count, 1);
    struct engine_job *settled = sched_take_settled(&sched);
    assert_non_null(settled);
    assert_string_equal(settled->id, "dlv_far");
    assert_int_equal(sched.store_due, 3600000);
    sched_recorded(&sched, settled, true);
    /* the near one starts again once due, not before */
    sched_turn(&sched, 59999);
    assert_int_equal(start_all(59999, started, 4), 0);
    sched_turn(&sched, 60000);
    assert_int_equal(start_all(60000, started, 4), 1);
    assert_string_equal(started[0]->id, "dlv_near");
}

static void the_scan_goes_on_from_its_cursor_a_page_at_a_time(void **state)
{
    struct engine_job *started[32];
    (void)state;
    sched_free(&sched);
    setup_with(1000, 4);
    for (int i = 0; i < 10; i++) {
        char id[32];
        snprintf(id, sizeof id, "dlv_%02d", i);
        add_row(id, "ep_a", i);
    }
    sched_turn(&sched, 100); /* page 1: 4 rows, more may follow */
    assert_int_equal(sched.known.count, 4);
    assert_true(sched.scan_needed);
    assert_string_equal(sched.scan_after_id, "dlv_03");
    sched_turn(&sched, 100); /* page 2 */
    sched_turn(&sched, 100); /* page 3: 2 rows, the end */
    assert_int_equal(sched.known.count, 10);
    assert_false(sched.scan_needed);
    assert_string_equal(sched.scan_after_id, "");
    assert_int_equal(sched.scan_after_ms, 100); /* a look for new work: from where the pass began */
    assert_int_equal(fake.reads, 3);
    assert_int_equal(start_all(100, started, 32), 10);
    sched_turn(&sched, 101); /* nothing asked for a scan: none */
    assert_int_equal(fake.reads, 3);
    sched_rescan(&sched);
    for (int64_t now = 5000; sched.scan_needed; now++) /* a pass that began at 5000 */
        sched_turn(&sched, now);
    assert_int_equal(sched.scan_after_ms, 5000); /* new work comes due from then on */
    sched_scan_on(&sched, 6000);                 /* ahead: the look goes on from here */
    assert_int_equal(sched.scan_after_ms, 5000);
    strcpy(sched.scan_after_id, "dlv_09");
    sched_scan_on(&sched, 4990); /* a commit with earlier work: from there, every id */
    assert_int_equal(sched.scan_after_ms, 4990);
    assert_string_equal(sched.scan_after_id, "");
    assert_true(sched.scan_needed);
    sched_scan_on(&sched, 0); /* released claims: from the start */
    assert_int_equal(sched.scan_after_ms, 0);
}

static void rows_of_another_loop_are_skipped(void **state)
{
    (void)state;
    fake.foreign_key = "ep_b";
    add_row("dlv_1", "ep_a", 0);
    add_row("dlv_2", "ep_b", 0);
    sched_turn(&sched, 0);
    assert_int_equal(sched.known.count, 1);
}

/* A scan reads the rows this node holds only when some of them may be missing from memory: at
 * start, on a rescan, when work left to the store falls due, after outcomes that did not
 * commit; a look for new work does not. */
static void only_a_rescan_reads_the_rows_this_node_holds(void **state)
{
    struct engine_job *started[4];
    (void)state;
    add_row("dlv_1", "ep_a", 0);
    sched_turn(&sched, 0);
    assert_int_equal(fake.reads, 1);
    assert_true(fake.last_held);
    sched_scan_on(&sched, 0);
    sched_turn(&sched, 1);
    assert_int_equal(fake.reads, 2);
    assert_false(fake.last_held);
    sched_rescan(&sched);
    sched_turn(&sched, 2);
    assert_true(fake.last_held);
    assert_int_equal(start_all(2, started, 4), 1);
    sched_finished(&sched, endpoint_named("ep_a"), started[0], DLV_DELIVERED, 0, 2);
    sched_turn(&sched, 3);
    assert_int_equal(fake.reads, 3);
    sched_recorded(&sched, sched_take_settled(&sched), false); /* the outcome did not commit */
    sched_turn(&sched, 4);
    assert_int_equal(fake.reads, 4);
    assert_true(fake.last_held);
    assert_int_equal(sched.known.count, 1); /* its row, pending still, is taken up again */
}

static void an_inactive_endpoint_ends_its_jobs_without_an_attempt(void **state)
{
    struct engine_job *started[4];
    (void)state;
    fake.inactive = true;
    sched_turn(&sched, 0);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    assert_int_equal(fake.ended, 1);
    assert_int_equal(start_all(0, started, 4), 0);
    sched_recorded(&sched, sched_take_settled(&sched), true);
    assert_int_equal(sched.known.count, 0);
}

static void a_store_that_does_not_answer_delays_the_job(void **state)
{
    struct engine_job *started[4];
    (void)state;
    fake.store_down = true;
    sched_turn(&sched, 0);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    assert_int_equal(start_all(0, started, 4), 0);
    fake.store_down = false;
    sched_turn(&sched, 999);
    assert_int_equal(start_all(999, started, 4), 0);
    sched_turn(&sched, 1000);
    assert_int_equal(start_all(1000, started, 4), 1);
}

static void a_changed_endpoint_puts_its_queue_through_the_new_settings(void **state)
{
    struct engine_job *started[4];
    (void)state;
    fake.max_in_flight = 1;
    sched_turn(&sched, 0);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    sched_admit(&sched, job("dlv_2", "ep_a", 0), 0);
    assert_int_equal(start_all(0, started, 4), 1);
    fake.inactive = true; /* disabled meanwhile */
    sched_endpoint_changed(&sched, "ep_a", 0);
    assert_int_equal(fake.ended, 1); /* the queued one */
}

static void the_rate_limit_holds_and_wakes_the_endpoint(void **state)
{
    struct engine_job *started[4];
    (void)state;
    fake.rate = 2; /* 2/s, burst 1 */
    sched_turn(&sched, 0);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    sched_admit(&sched, job("dlv_2", "ep_a", 0), 0);
    assert_int_equal(start_all(0, started, 4), 1);
    /* the second waits for a token: a timer half a second on */
    assert_int_equal(start_all(0, started, 4), 0);
    assert_int_equal(sched.timers.count, 1);
    assert_in_range(sched.timers.items[0].due, 500, 502);
    sched_turn(&sched, 502);
    assert_int_equal(start_all(502, started, 4), 1);
}

static void the_wait_is_zero_only_when_there_is_something_to_do(void **state)
{
    (void)state;
    assert_int_equal(sched_wait_ms(&sched, 0, true), 0); /* the first scan */
    sched_turn(&sched, 0);
    assert_int_equal(sched_wait_ms(&sched, 0, true), 1000);
    sched_admit(&sched, job("dlv_1", "ep_a", 0), 0);
    assert_int_equal(sched_wait_ms(&sched, 0, true), 0);
    /* a ready job the connection budget cannot start does not spin the loop */
    assert_int_equal(sched_wait_ms(&sched, 0, false), 1000);
    sched_admit(&sched, job("dlv_2", "ep_a", 250), 0);
    assert_int_equal(sched_wait_ms(&sched, 0, false), 250);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(max_in_flight_holds_per_endpoint, setup, teardown),
        cmocka_unit_test_setup_teardown(endpoints_take_turns, setup, teardown),
        cmocka_unit_test_setup_teardown(a_known_job_is_not_taken_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(a_settled_job_stays_known_until_its_outcome_is_recorded,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(memory_full_leaves_new_jobs_to_the_store, setup, teardown),
        cmocka_unit_test_setup_teardown(retries_beyond_the_horizon_wait_in_the_store, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_scan_goes_on_from_its_cursor_a_page_at_a_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(rows_of_another_loop_are_skipped, setup, teardown),
        cmocka_unit_test_setup_teardown(only_a_rescan_reads_the_rows_this_node_holds, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(an_inactive_endpoint_ends_its_jobs_without_an_attempt,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(a_store_that_does_not_answer_delays_the_job, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(a_changed_endpoint_puts_its_queue_through_the_new_settings,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(the_rate_limit_holds_and_wakes_the_endpoint, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(the_wait_is_zero_only_when_there_is_something_to_do, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
