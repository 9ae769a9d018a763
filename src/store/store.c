/* The store's door: picks the driver a database URL names, runs transactions, and the helpers
 * of the records. */
#include "store/store.h"

#include "store/sql.h"
#include "store/store_internal.h"

#include "core/filter.h"
#include "core/id.h"
#include "core/mem.h"
#include "core/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sql_driver sqlite_driver, pg_driver;

#define DEFAULT_LEASE_MS 30000

int store_open(const char *url, const struct store_options *opts, struct store **out, struct err *e)
{
    const struct sql_driver *drivers[] = {&sqlite_driver, &pg_driver};
    const char *colon = strchr(url, ':');
    size_t scheme_len = colon ? (size_t)(colon - url) : 0;

    for (size_t i = 0; i < sizeof drivers / sizeof drivers[0]; i++) {
        const struct sql_driver *d = drivers[i];
        bool named =
            (scheme_len == strlen(d->scheme) && strncmp(url, d->scheme, scheme_len) == 0) ||
            (d->alias && scheme_len == strlen(d->alias) && strncmp(url, d->alias, scheme_len) == 0);
        if (!named)
            continue;
        if (d->open(colon + 1, opts, out, e) != 0)
            return ERR_FAIL;
        (*out)->driver = d;
        (*out)->lease_ms = opts->lease_ms > 0 ? opts->lease_ms : DEFAULT_LEASE_MS;
        /* nodes sharing the database count apart, so that their writers never wait on each
         * other's rows */
        (*out)->stats_shard = d->caps & SQL_SHARED ? (int)(id_random_unit() * STATS_SHARDS) : 0;
        pthread_mutex_init(&(*out)->pool_lock, NULL);
        return 0;
    }
    return err_invalid(
        e, "db", "unsupported database URL '%.60s' (expected sqlite:PATH or postgres://...)", url);
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
    while (st->pool) {
        struct store_conn *next = st->pool->next_free;
        st->driver->disconnect(st->pool);
        st->pool = next;
    }
    pthread_mutex_destroy(&st->pool_lock);
    st->driver->close(st);
}

int store_migrate(struct store *st, int *applied, struct err *e)
{
    return st->driver->migrate(st, applied, e);
}

int store_schema_version(struct store *st, int *current, int *latest)
{
    return st->driver->schema_version(st, current, latest);
}

int store_backup(struct store *st, const char *path, struct err *e)
{
    const char *sql = st->driver->dialect->backup_into;
    struct store_conn *c;
    struct sql_stmt *s;
    int rc;

    if (sql == NULL)
        return err_invalid(e, "db", "back up a %s database with its own tools (pg_dump)",
                           st->driver->scheme);
    c = store_acquire(st);
    s = c ? sql_prepare(c, sql) : NULL;
    if (s == NULL) {
        store_release(c);
        return err_internal(e, "cannot read the database to back it up");
    }
    sql_text(s, 1, path);
    rc = sql_run(s);
    store_release(c);
    if (rc != 0)
        return err_internal(e, "cannot write the copy to %s (it must not exist yet)", path);
    return 0;
}

bool store_is_shared(struct store *st)
{
    return (st->driver->caps & SQL_SHARED) != 0;
}

struct store_conn *store_acquire(struct store *st)
{
    struct store_conn *c;
    pthread_mutex_lock(&st->pool_lock);
    c = st->pool;
    if (c)
        st->pool = c->next_free;
    pthread_mutex_unlock(&st->pool_lock);
    if (c == NULL)
        return st->driver->connect(st);
    if (st->driver->ready && !st->driver->ready(c)) {
        st->driver->disconnect(c);
        return NULL;
    }
    return c;
}

void store_release(struct store_conn *c)
{
    struct store *st;
    if (c == NULL)
        return;
    st = c->store;
    pthread_mutex_lock(&st->pool_lock);
    c->next_free = st->pool;
    st->pool = c;
    pthread_mutex_unlock(&st->pool_lock);
}

int store_ping(struct store_conn *c)
{
    static const char sql[] = "SELECT 1";
    struct sql_stmt *s = sql_prepare(c, sql);
    return s ? sql_run(s) : ERR_FAIL;
}

/* --- transactions --- */

static int control(struct store_conn *c, enum sql_control what)
{
    return c->store->driver->control(c, what);
}

struct store_conn *store_tx_begin(struct store *st)
{
    struct store_conn *tx = st->driver->writer(st);
    if (tx == NULL || control(tx, SQL_BEGIN) != 0)
        return NULL;
    tx->notify_from = STORE_NO_NOTIFY;
    if (store_is_shared(st))
        fanout_cache_forget(tx); /* other nodes change endpoints: a list lasts one transaction */
    return tx;
}

/* Wakes the other nodes if the transaction made work that none holds; the wake-up is sent at
 * commit, and only if it commits. */
int store_tx_commit(struct store_conn *tx)
{
    bool notify = tx->notify_from != STORE_NO_NOTIFY && (tx->store->driver->caps & SQL_WAKE);
    int rc = control(tx, notify ? SQL_COMMIT_NOTIFY : SQL_COMMIT);
    tx->notify_from = STORE_NO_NOTIFY;
    return rc;
}

void store_tx_rollback(struct store_conn *tx)
{
    control(tx, SQL_ROLLBACK);
    tx->notify_from = STORE_NO_NOTIFY;
    fanout_cache_forget(tx); /* it may hold what the rollback undid */
}

int store_savepoint(struct store_conn *tx)
{
    return control(tx, SQL_SAVEPOINT);
}

int store_savepoint_release(struct store_conn *tx)
{
    return control(tx, SQL_RELEASE);
}

/* Also what recovers the transaction after a failed statement inside the job. */
int store_savepoint_rollback(struct store_conn *tx)
{
    fanout_cache_forget(tx);
    return control(tx, SQL_ROLLBACK_TO);
}

int store_wake_fd(struct store *st)
{
    return st->driver->wake_fd ? st->driver->wake_fd(st) : -1;
}

int store_wake_drain(struct store *st, int64_t *from)
{
    *from = STORE_NO_NOTIFY;
    return st->driver->wake_drain ? st->driver->wake_drain(st, from) : -1;
}

void store_notify_from(struct store_conn *tx, int64_t due)
{
    if (due < tx->notify_from)
        tx->notify_from = due;
}

void endpoint_clear(struct endpoint *ep)
{
    if (ep == NULL)
        return;
    free(ep->url);
    free(ep->description);
    free(ep->events);
    free(ep->headers);
    free(ep->metadata);
    free(ep->retry_schedule);
    free(ep->filter);
    ep->url = ep->description = ep->events = ep->headers = ep->metadata = NULL;
    ep->retry_schedule = ep->filter = NULL;
}

void event_type_clear(struct event_type *et)
{
    if (et == NULL)
        return;
    free(et->schema);
    et->schema = NULL;
}

void attempt_clear(struct attempt *a)
{
    if (a == NULL)
        return;
    free(a->response_body);
    free(a->response_headers);
    free(a->request_headers);
    a->response_body = a->response_headers = a->request_headers = NULL;
}

bool attempt_succeeded(const struct attempt *a)
{
    return a->error[0] == '\0' && a->response_status >= 200 && a->response_status <= 299;
}

const char *outcome_disable_reason(const struct attempt_outcome *o)
{
    return o->disable_gone ? "gone" : "consecutive_failures";
}

void due_delivery_clear(struct due_delivery *d)
{
    if (d == NULL)
        return;
    free(d->url);
    free(d->payload);
    d->url = d->payload = NULL;
}

static const char *const status_names[] = {"pending", "delivered", "failed", "exhausted"};

const char *delivery_status_name(enum delivery_status status, bool claimed)
{
    if (status == DLV_PENDING && claimed)
        return "in_flight";
    return (unsigned)status < 4 ? status_names[status] : "unknown";
}

int delivery_status_parse(const char *name)
{
    if (strcmp(name, "in_flight") == 0)
        return DLV_IN_FLIGHT;
    for (int i = 0; i < 4; i++)
        if (strcmp(name, status_names[i]) == 0)
            return i;
    return -1;
}

void source_clear(struct source *src)
{
    if (src == NULL)
        return;
    free(src->verification);
    src->verification = NULL;
}

void inbound_message_clear(struct inbound_message *msg)
{
    if (msg == NULL)
        return;
    free(msg->headers);
    free(msg->body);
    msg->headers = msg->body = NULL;
}

void fanout_list_add(struct fanout_list *list, const struct fanout_target *target)
{
    struct fanout_target *t;
    if (list->count == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->items = xrealloc(list->items, (size_t)list->cap * sizeof *list->items);
    }
    t = &list->items[list->count++];
    *t = *target;
    t->events = xstrdup(target->events);
    t->filter = target->filter ? xstrdup(target->filter) : NULL;
    t->matcher = target->filter ? filter_compile_text(target->filter) : NULL;
}

void fanout_list_reset(struct fanout_list *list)
{
    for (int i = 0; i < list->count; i++) {
        free(list->items[i].events);
        free(list->items[i].filter);
        filter_free(list->items[i].matcher);
    }
    list->count = 0;
}

void fanout_list_free(struct fanout_list *list)
{
    fanout_list_reset(list);
    free(list->items);
    list->items = NULL;
    list->cap = 0;
}

void delivery_fresh(struct delivery *d, const char *org_id, const char *endpoint_id, int64_t now)
{
    id_make("dlv_", now, d->id);
    text_copy(d->org_id, sizeof d->org_id, org_id);
    text_copy(d->endpoint_id, sizeof d->endpoint_id, endpoint_id ? endpoint_id : "");
    d->next_attempt_at = now;
    d->created_at = now;
}
