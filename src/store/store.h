/* The only door to persistence. Each operation and rule is written once (store_*.c) over a thin
 * SQL driver (sql.h) with two drivers, SQLite and PostgreSQL; no SQL lives anywhere else.
 *
 * Connections: reads run on a pooled connection from store_acquire(); every write runs inside
 * a transaction on the writer's connection (writer.h), which groups many requests into one
 * commit. Functions return 0, ERR_NOT_FOUND, ERR_CONFLICT or ERR_FAIL (details logged). */
#ifndef HOOKD_STORE_STORE_H
#define HOOKD_STORE_STORE_H

#include "core/err.h"
#include "core/id.h"
#include "core/jsonv.h"
#include "core/latency.h"
#include "core/page.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define NAME_BYTES (LIMIT_NAME_CHARS * 4 + 1) /* 100 code points of UTF-8 */
#define SECRET_BYTES 64
#define SCHEME_BYTES 16
#define IDEM_KEY_BYTES 256

/* Key scopes (§2.1), a bit set. */
enum {
    SCOPE_ADMIN = 1 << 0,
    SCOPE_EVENTS = 1 << 1,
    SCOPE_WEBHOOKS = 1 << 2,
    SCOPE_SOURCES = 1 << 3,
};

struct org {
    char id[ID_MAX];
    char name[NAME_BYTES];
    char primary_secret[SECRET_BYTES];
    char signature_scheme[SCHEME_BYTES]; /* "standard" or "hex" */
    int retention_days;                  /* its history's age limit; 0: the server's --retention */
    int64_t created_at;                  /* ms */
    /* how its customer portal looks ("" each: hookd's own) */
    char portal_name[NAME_BYTES];
    char portal_logo_url[LIMIT_URL_BYTES + 1];
    char portal_accent_color[8]; /* "#rrggbb" */
};

struct api_key {
    char id[ID_MAX];
    char org_id[ID_MAX]; /* "" for an admin key */
    char name[NAME_BYTES];
    unsigned scopes;
    unsigned char secret_hash[32]; /* SHA-256 of the secret part; the key is never stored */
    int64_t created_at;
    int64_t revoked_at; /* 0 while active */
};

/* A remembered response to an Idempotency-Key (§2.1). */
struct idem_record {
    char scope[ID_MAX]; /* the caller's org id, or "admin" */
    char key[IDEM_KEY_BYTES];
    unsigned char request_hash[32];
    int status;
    char *body; /* owned: free() it; NULL when not loaded */
    int64_t created_at;
};

#define DESCRIPTION_BYTES (LIMIT_DESCRIPTION_CHARS * 4 + 1)
#define ERROR_BYTES 64

/* One catalog entry (§2.3). */
struct event_type {
    char name[NAME_BYTES];
    char description[DESCRIPTION_BYTES];
    char *schema; /* JSON text or NULL; owned */
    int64_t created_at, updated_at;
};

/* A subscriber (§2.4). Heap strings are owned: endpoint_clear() frees them. */
struct endpoint {
    char id[ID_MAX];
    char org_id[ID_MAX];
    char *url;
    char name[NAME_BYTES];
    char *description;
    char *events;   /* JSON array of names and `prefix.*` patterns; "[]" = all */
    char *headers;  /* JSON object of custom headers */
    char *metadata; /* JSON object */
    bool is_active;
    int timeout_seconds;
    double rate_limit; /* deliveries/s; 0 = none */
    int max_in_flight;
    char signature_scheme[SCHEME_BYTES];
    char secret[SECRET_BYTES];
    char previous_secret[SECRET_BYTES]; /* "" unless rotating */
    int64_t previous_secret_expires_at;
    int64_t verified_at, last_success_at, last_failure_at;
    int consecutive_failures;
    int64_t disabled_at;
    char disabled_reason[32];
    int64_t created_at, updated_at;
    bool operational;     /* the org's operational webhook (set at insert only): hookd's notices */
    char *retry_schedule; /* its own, in --retry-schedule's syntax; NULL: the server's */
    int disable_after;    /* its own threshold; 0: the server's --disable-after */
    char *filter;         /* its payload filter (compact JSON); NULL: none */
    bool is_poll;         /* kind "poll" (set at insert only): read by its consumer, no URL */
    bool is_fifo;         /* ordering "fifo": one delivery of a key at a time, in order */
    unsigned char poll_token_hash[32]; /* of the consumer's token; zeros for push endpoints */
};

/* What the fan-out needs of an endpoint: its id, its events filter and whether it takes the
 * org's events or hookd's operational notices. */
struct filter; /* core/filter.h */

struct fanout_target {
    char id[ID_MAX];
    char *events;           /* owned */
    char *filter;           /* owned; NULL: none */
    struct filter *matcher; /* filter compiled once per list read, owned; NULL: none, or no
                               filter that compiles (which then matches nothing) */
    bool operational;
    bool is_poll;
    bool is_fifo;
};

struct fanout_list {
    struct fanout_target *items;
    int count, cap;
};

void fanout_list_add(struct fanout_list *list, const struct fanout_target *target);
/* Empties the list and keeps its room. */
void fanout_list_reset(struct fanout_list *list);
void fanout_list_free(struct fanout_list *list);

/* One emitted event (§2.5). payload is the envelope, sent byte-identical. */
struct event {
    char org_id[ID_MAX];
    char id[ID_MAX];
    char type[NAME_BYTES];
    char *payload; /* owned */
    int64_t created_at;
    int delivery_count;
    char ordering_key[NAME_BYTES]; /* "" : the endpoint's one key */
};

/* Stored as these numbers; SQL text spells them SQL_NUM(DLV_PENDING_N) (store/sql.h). */
#define DLV_PENDING_N 0
/* next_attempt_at of a delivery no engine attempts: a poll endpoint's, waiting to be read */
#define DLV_NEVER_DUE 9223372036854775807
#define DLV_DELIVERED_N 1
#define DLV_FAILED_N 2
#define DLV_EXHAUSTED_N 3
enum delivery_status {
    DLV_PENDING = DLV_PENDING_N,
    DLV_DELIVERED = DLV_DELIVERED_N,
    DLV_FAILED = DLV_FAILED_N,
    DLV_EXHAUSTED = DLV_EXHAUSTED_N,
};

/* One event to one endpoint (§2.6). */
struct delivery {
    char id[ID_MAX];
    char org_id[ID_MAX];
    char event_id[ID_MAX];
    char endpoint_id[ID_MAX]; /* "" for a one-shot webhook_url delivery */
    char *url;                /* the one-shot URL, else NULL; owned */
    char event_type[NAME_BYTES];
    enum delivery_status status;
    bool claimed; /* pending and held by a live node: shown as in_flight */
    int attempt_count;
    int schedule_start; /* attempt_count when the current retry schedule began */
    int64_t next_attempt_at, last_attempt_at;
    int last_response_status; /* 0 = none */
    char last_error[ERROR_BYTES];
    int64_t created_at, delivered_at;
    const char *ordering_key; /* a fifo endpoint's: its key; NULL for the others (not owned) */
};

/* One HTTP request of a delivery. Heap strings are owned. */
struct attempt {
    char id[ID_MAX];
    char delivery_id[ID_MAX];
    int n;
    int64_t started_at;
    int duration_ms;
    int response_status;     /* 0 = no response */
    char *response_body;     /* first 1 KiB, may be NULL */
    char *response_headers;  /* JSON object, may be NULL */
    char error[ERROR_BYTES]; /* "" when a response came */
    char *request_headers;   /* JSON object */
};

/* Filters of the event and delivery lists ("" / 0 = any). */
struct list_filter {
    char endpoint_id[ID_MAX];
    char event_id[ID_MAX];
    char type[NAME_BYTES];
    int status; /* -1 any; else enum delivery_status, or DLV_IN_FLIGHT */
    int64_t since, until;
    int is_active; /* endpoints: -1 any, 0, 1 */
};
#define DLV_IN_FLIGHT 100

/* What the engine learned from one attempt, applied in one go by delivery_record. */
struct attempt_outcome {
    struct attempt attempt;
    char org_id[ID_MAX];
    char endpoint_id[ID_MAX]; /* "" for one-shot */
    char event_id[ID_MAX];
    enum delivery_status status; /* DLV_PENDING = retry at next_attempt_at */
    int64_t next_attempt_at;
    bool no_attempt;   /* ended without a request (endpoint inactive): no attempt row */
    bool disable_gone; /* 410: disable the endpoint with reason "gone" */
    int disable_after; /* consecutive failures that disable the endpoint */
    bool disabled;     /* out: this outcome disabled the endpoint */
    bool stale;        /* out: the delivery had ended meanwhile; only the attempt was kept */
    bool fifo;         /* its endpoint orders its keys: the end lets the key's next one start */
    bool promoted;     /* out: the key's next delivery became due */
};

/* Why an outcome's disable happened: "gone" (410) or "consecutive_failures". */
const char *outcome_disable_reason(const struct attempt_outcome *o);

/* A due delivery as the engine needs it, with its envelope. */
struct due_delivery {
    char id[ID_MAX];
    char org_id[ID_MAX];
    char event_id[ID_MAX];
    char endpoint_id[ID_MAX];
    char *url; /* one-shot; owned */
    char event_type[NAME_BYTES];
    int attempt_count, schedule_start;
    int64_t next_attempt_at;
    char *payload; /* owned */
};

#define SOURCE_SECRET_BYTES 257

/* An inbound source (§2.7): a reception URL and how to verify what arrives there. */
struct source {
    char id[ID_MAX];
    char org_id[ID_MAX];
    char name[NAME_BYTES];
    char *verification; /* JSON object {"scheme", ...parameters}; owned */
    char secret[SOURCE_SECRET_BYTES];
    char event_type[NAME_BYTES]; /* "" = from the preset's header or the payload */
    bool forward;
    bool is_active;
    int tolerance_seconds;
    int64_t created_at, updated_at;
};

/* One request received on a source, with its verdict. */
struct inbound_message {
    char id[ID_MAX];
    char source_id[ID_MAX];
    char org_id[ID_MAX];
    char status[16]; /* "accepted", "duplicate", "rejected" */
    char reason[64]; /* why it was rejected, "" otherwise */
    int http_status; /* what the sender was answered */
    char dedupe_key[300];
    char *headers; /* "Name: value\n" lines, credentials redacted; owned */
    char *body;    /* owned; may be cut (body_truncated) */
    size_t body_len;
    bool body_truncated;
    char event_id[ID_MAX]; /* the event it became, "" if none */
    int64_t created_at;
};

/* Starts a new pending delivery of the org to endpoint_id (NULL or "" for a one-shot), due
 * and created at now, with a fresh id; the caller fills event_id, event_type and url. */
void delivery_fresh(struct delivery *d, const char *org_id, const char *endpoint_id, int64_t now);

void source_clear(struct source *src);
void inbound_message_clear(struct inbound_message *msg);
void endpoint_clear(struct endpoint *ep);
void event_type_clear(struct event_type *et);
void attempt_clear(struct attempt *a);
/* A 2xx response came (§2.6, "delivered"): the one rule of what counts as delivered. */
bool attempt_succeeded(const struct attempt *a);
void due_delivery_clear(struct due_delivery *d);
const char *delivery_status_name(enum delivery_status status, bool claimed);
/* "pending", "in_flight", ... into a filter value; -1 if unknown. */
int delivery_status_parse(const char *name);

struct store_options {
    bool sqlite_full_sync; /* SQLite synchronous=FULL instead of NORMAL */
    bool exclusive;        /* this process serves: refuse a second server on the same file */
    int64_t lease_ms;      /* claims of a node whose heartbeat is older are free (§4.5);
                            * 0 = 30 s */
    bool must_exist;       /* refuse a database that does not exist yet instead of creating it */
};

struct store;
struct store_conn;
struct sql_driver;

/* Opens the database a URL names ("sqlite:PATH", "postgres://..."). */
int store_open(const char *url, const struct store_options *opts, struct store **out,
               struct err *e);
void store_close(struct store *st);
/* Applies pending migrations; *applied gets how many ran. */
int store_migrate(struct store *st, int *applied, struct err *e);
int store_schema_version(struct store *st, int *current, int *latest);
/* Writes a consistent copy of the database to path, a file that must not exist yet, while the
 * server goes on writing (SQLite). ERR_FAIL with e filled, and a database with its own tools
 * (PostgreSQL: pg_dump) is refused with them named. */
int store_backup(struct store *st, const char *path, struct err *e);
/* Several nodes share the database (PostgreSQL): work may come from other nodes. */
bool store_is_shared(struct store *st);

/* Pooled read connection; release it on the same thread when done. NULL if the database
 * cannot be reached. */
struct store_conn *store_acquire(struct store *st);
void store_release(struct store_conn *c); /* NULL is a no-op */
int store_ping(struct store_conn *c);

/* Write transactions: one open at a time, on the writer's connection. Savepoints make one
 * request's failure roll back only its own writes. */
struct store_conn *store_tx_begin(struct store *st);
int store_tx_commit(struct store_conn *tx);
void store_tx_rollback(struct store_conn *tx);
int store_savepoint(struct store_conn *tx);
int store_savepoint_release(struct store_conn *tx);
int store_savepoint_rollback(struct store_conn *tx);

/* Wake-ups between nodes (-1 where the database has none, as SQLite): a socket that becomes
 * readable when a commit made work no node holds (PostgreSQL: LISTEN hookd_work on a
 * connection of its own). Called once; only the engine's thread uses it. -1 also if the
 * listening connection cannot be made (the engine then only polls). */
int store_wake_fd(struct store *st);
/* Consumes what made wake_fd readable: > 0 a wake-up came, and *from is the earliest due time
 * of the work the commits behind it made; 0 none, -1 the connection was lost (the engine falls
 * back to polling). */
int store_wake_drain(struct store *st, int64_t *from);

/* --- orgs, keys, idempotency, nodes (store_orgs.c) --- */
int store_org_insert(struct store_conn *tx, const struct org *org);
int store_org_get(struct store_conn *c, const char *id, struct org *out);
/* Fills out[0..limit] (limit + 1 slots, one more tells there is a next page). */
int store_org_list(struct store_conn *c, const struct page *page, struct org *out, int *count);
int store_org_update(struct store_conn *tx, const struct org *org);
/* Marks the org deleted, revokes its keys, deletes its endpoints and sources and ends its
 * queued deliveries exhausted. ERR_NOT_FOUND if absent or deleted. */
int store_org_delete(struct store_conn *tx, const char *id, int64_t now);

int store_key_insert(struct store_conn *tx, const struct api_key *key);
int store_key_get(struct store_conn *c, const char *id, struct api_key *out);
/* Keys of one org (org_id "" = admin keys), newest first. */
int store_key_list(struct store_conn *c, const char *org_id, const struct page *page,
                   struct api_key *out, int *count);
/* ERR_NOT_FOUND if absent or already revoked. */
int store_key_revoke(struct store_conn *tx, const char *id, int64_t now);
int store_key_count(struct store_conn *c, long *count);

/* out->body is allocated; ERR_NOT_FOUND if there is none created at or after not_before. */
int store_idem_get(struct store_conn *c, const char *scope, const char *key, int64_t not_before,
                   struct idem_record *out);
int store_idem_put(struct store_conn *tx, const struct idem_record *rec);
int store_idem_purge(struct store_conn *tx, int64_t older_than, int max_rows);

/* The node's heartbeat row (§4.5): claims of a node with an old heartbeat are free. */
int store_node_heartbeat(struct store_conn *tx, const char *node_id, int64_t now);
int store_node_remove(struct store_conn *tx, const char *node_id);

/* --- the catalog (§2.3) and endpoints (§2.4), always within one org (store_endpoints.c) --- */
int store_event_type_insert(struct store_conn *tx, const struct event_type *et);
int store_event_type_get(struct store_conn *c, const char *name, struct event_type *out);
/* Sorted by name; page cursors use before_id as "after this name". */
int store_event_type_list(struct store_conn *c, const struct page *page, struct event_type *out,
                          int *count);
int store_event_type_update(struct store_conn *tx, const struct event_type *et);
int store_event_type_delete(struct store_conn *tx, const char *name);
/* How many names start with prefix ("" counts all). */
int store_event_type_count_prefix(struct store_conn *c, const char *prefix, long *count);
/* Endpoints (not deleted, of any org) whose events list holds pattern as one of its entries,
 * at most max ids into ids; *count gets how many were read. */
struct endpoint_ref {
    char id[ID_MAX];
};
int store_endpoint_subscribers(struct store_conn *c, const char *pattern, struct endpoint_ref *ids,
                               int max, int *count);

int store_endpoint_insert(struct store_conn *tx, const struct endpoint *ep);
/* org_id "" finds it in any org (a poll consumer's authentication). */
int store_endpoint_get(struct store_conn *c, const char *org_id, const char *id,
                       struct endpoint *out);
int store_endpoint_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                        const struct page *page, struct endpoint *out, int *count);
/* Writes every settable field and the failure fields. */
int store_endpoint_update(struct store_conn *tx, const struct endpoint *ep);
/* Marks it deleted; its pending deliveries end exhausted ("endpoint deleted"). */
int store_endpoint_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now);
/* A poll endpoint's consumer (issue 17): with cursor (a delivery id, or NULL), the deliveries
 * handed out up to it become delivered; then up to max pending ones (those after the cursor,
 * and any not handed out yet) are handed out, oldest first, into out (payload owned). A page
 * read again without moving the cursor is handed out again: at least once, never lost. */
struct polled {
    char delivery_id[ID_MAX];
    char *payload;
};
int store_poll(struct store_conn *tx, const char *endpoint_id, const char *cursor, int64_t now,
               struct polled *out, int max, int *count);
/* FIFO ordering per key (issue 17). In a write: whether a new delivery of endpoint_id with key
 * is its key's head (no pending one before it), the endpoint locked against other nodes' writes
 * until the commit. */
int store_fifo_is_head(struct store_conn *tx, const char *endpoint_id, const char *key, bool *head);
/* After recording outcomes: each ended delivery of a fifo endpoint makes its key's next one due,
 * held by node_id (NULL: any node, woken); sets their `promoted`. */
int store_fifo_promote_ended(struct store_conn *tx, struct attempt_outcome *outcomes, int count,
                             const char *node_id, int64_t now);
/* Locks the endpoint's row until the end of the transaction where rows can be locked
 * (PostgreSQL); nothing elsewhere (SQLite's one writer already serializes). */
int store_endpoint_lock(struct store_conn *tx, const char *endpoint_id);

/* Sets a poll endpoint's token hash (at creation, and at rotation). */
int store_endpoint_poll_token(struct store_conn *tx, const char *id, const unsigned char hash[32]);

/* The org's operational webhook endpoint (whatever its state), or ERR_NOT_FOUND. */
int store_endpoint_operational(struct store_conn *c, const char *org_id, struct endpoint *out);
/* Active endpoints of an org, for fan-out, ordered by id. *out belongs to the connection and
 * stays valid until its next endpoint_fanout or the end of the transaction. */
int store_endpoint_fanout(struct store_conn *tx, const char *org_id,
                          const struct fanout_list **out);

/* --- events, deliveries and attempts (§2.5, §2.6, §4; store_deliveries.c) --- */
/* ERR_CONFLICT when the org already has an event with this id. */
int store_event_insert(struct store_conn *tx, const struct event *ev);
/* An event whose id hookd just made (no producer id): no row can have it, so it is sent with
 * the transaction's other rows, without waiting for an answer. */
int store_event_insert_new(struct store_conn *tx, const struct event *ev);
int store_event_get(struct store_conn *c, const char *org_id, const char *id, struct event *out);
int store_event_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                     const struct page *page, struct event *out, int *count);

/* Inserts a pending delivery claimed by node_id (NULL or "": by no node yet), due at
 * next_attempt_at. */
int store_delivery_insert(struct store_conn *tx, const struct delivery *d, const char *node_id);
int store_delivery_get(struct store_conn *c, const char *org_id, const char *id,
                       struct delivery *out);
int store_delivery_list(struct store_conn *c, const char *org_id, const struct list_filter *f,
                        const struct page *page, struct delivery *out, int *count);
int store_attempt_list(struct store_conn *c, const char *delivery_id, struct attempt *out, int max,
                       int *count);
/* Records outcomes in their order: inserts each attempt and moves its delivery and endpoint on
 * (auto-disable included). */
int store_delivery_record(struct store_conn *tx, struct attempt_outcome *outcomes, int count,
                          int64_t now);
/* A failed/exhausted delivery back to pending for one more schedule. ERR_CONFLICT in any
 * other state. */
int store_delivery_retry(struct store_conn *tx, const char *org_id, const char *id,
                         const char *node_id, int64_t now);
/* New pending deliveries for the events that an endpoint's deliveries in [since, until)
 * with one of the statuses (a bit set of 1 << enum delivery_status) belong to. */
int store_delivery_replay(struct store_conn *tx, const char *org_id, const char *endpoint_id,
                          int64_t since, int64_t until, unsigned statuses, const char *node_id,
                          int64_t now, long *queued);
/* What a delivery loop's scan of the store asks for (store_delivery_due). */
struct due_scan {
    const char *node_id; /* the scanning node; NULL reads nothing */
    int64_t due;         /* due by */
    int64_t after_ms;    /* the cursor: rows after (after_ms, after_id) */
    const char *after_id;
    bool held;       /* also the rows node_id holds already, not only those no live node holds */
    int part, parts; /* only rows whose queue key is in this part (engine/job.h's queue_key_part) */
};
/* Pending deliveries of a scan, in (next_attempt_at, id) order, with their envelopes: where
 * nodes share the database, those that no live node holds become the scanning node's. */
int store_delivery_due(struct store_conn *c, const struct due_scan *scan, struct due_delivery *out,
                       int max, int *count);
/* Releases the node's pending deliveries (clean stop). */
int store_delivery_release(struct store_conn *tx, const char *node_id);

/* Retention (§4.6): deletes history older than its org's retention_days, or keep_ms for orgs
 * without one (done deliveries with their attempts, events no delivery refers to, inbound
 * messages), the oldest first, org by org from the one after after_org, until about max_rows
 * went; *purged counts them. after_org ("" at first) is where the next call goes on; "" again
 * once every org was done. A delivery still pending keeps its event. */
int store_history_purge(struct store_conn *tx, int64_t now, int64_t keep_ms, int max_rows,
                        char after_org[ID_MAX], long *purged);
/* After a purge, in its transaction: gives back to the file system up to STORE_RECLAIM_PAGES
 * of the pages that deleted rows freed, so that a SQLite file follows what it holds rather
 * than the most it ever held; *more when it stopped at that bound. Nothing where the database
 * does it on its own (PostgreSQL's autovacuum). Pages not given back yet are reused by new
 * rows meanwhile. */
int store_reclaim(struct store_conn *tx, bool *more);
/* 1 MiB of SQLite's 4 KiB pages: moving a page takes about 10 us from the cache (more from
 * disk), so a reclaim holds the writer about as long as a purge batch. */
#define STORE_RECLAIM_PAGES 256

/* What an operator watches (GET /metrics): the deliveries pending, and the due time of the
 * oldest of them (INT64_MAX when none is pending). */
struct queue_stats {
    long pending;
    int64_t oldest_due;
};
int store_queue_stats(struct store_conn *c, struct queue_stats *out);
/* Endpoints not active (disabled by hookd or by their owner), deleted ones aside. */
int store_endpoints_inactive(struct store_conn *c, long *count);

/* --- an endpoint's stats (§2.4; store_stats.c), counted as outcomes are recorded --- */
#define STATS_BUCKET_MS (5 * 60 * 1000) /* their resolution: times are counted in such buckets */

/* What one span of time saw of an endpoint: deliveries that ended in it by how they ended, and
 * its attempts with their durations. */
struct stats_counts {
    int64_t delivered, failed, exhausted;
    int64_t attempts, attempts_failed;
    int64_t latency[LATENCY_BUCKETS];
};
/* Adds the endpoint's counts from since into steps[i] for [since + i * step_ms, + step_ms),
 * i < step_count (since and step_ms multiples of STATS_BUCKET_MS). */
int store_endpoint_stats(struct store_conn *c, const char *endpoint_id, int64_t since,
                         int64_t step_ms, struct stats_counts *steps, int step_count);

/* --- customer portal sessions (issue 16; store_portal.c) --- */

/* A one-time link to an org's portal, exchanged once for a session; both credentials are kept as
 * SHA-256 hashes only. */
struct portal_session {
    char id[ID_MAX];
    char org_id[ID_MAX];
    unsigned char link_hash[32];
    unsigned char session_hash[32]; /* zeros until exchanged */
    bool read_only;
    char *endpoint_ids;    /* JSON array of the endpoints it shows; NULL: all of the org's */
    int64_t expires_in_ms; /* how long the link, then the session, lasts */
    int64_t expires_at;    /* of the link */
    int64_t exchanged_at, session_expires_at, revoked_at, created_at; /* 0: not yet */
};

void portal_session_clear(struct portal_session *ps);
int store_portal_insert(struct store_conn *tx, const struct portal_session *ps);
/* org_id "" finds it in any org (authentication). */
int store_portal_get(struct store_conn *c, const char *org_id, const char *id,
                     struct portal_session *out);
/* The org's sessions, newest first. */
int store_portal_list(struct store_conn *c, const char *org_id, const struct page *page,
                      struct portal_session *out, int *count);
/* Exchanges the link: only once, before it expires and unless revoked; ERR_NOT_FOUND else. */
int store_portal_exchange(struct store_conn *tx, const char *id,
                          const unsigned char session_hash[32], int64_t now);
int store_portal_revoke(struct store_conn *tx, const char *org_id, const char *id, int64_t now);

/* --- inbound sources and messages (§2.7; store_inbound.c) --- */
int store_source_insert(struct store_conn *tx, const struct source *src);
/* org_id "" finds the source in any org (the reception path). */
int store_source_get(struct store_conn *c, const char *org_id, const char *id, struct source *out);
int store_source_list(struct store_conn *c, const char *org_id, const struct page *page,
                      struct source *out, int *count);
int store_source_update(struct store_conn *tx, const struct source *src);
int store_source_delete(struct store_conn *tx, const char *org_id, const char *id, int64_t now);
/* Counts a rejected request on the source: *in_row gets the rejections since the last accepted
 * one (0 if the source is gone). */
int store_source_rejected(struct store_conn *tx, const char *id, int *in_row);
/* A request was accepted: the count of rejections in a row starts over. */
int store_source_accepted(struct store_conn *tx, const char *id);
int store_inbound_insert(struct store_conn *tx, const struct inbound_message *msg);
int store_inbound_get(struct store_conn *c, const char *org_id, const char *id,
                      struct inbound_message *out);
/* Messages of a source, newest first; status "" = any. */
int store_inbound_list(struct store_conn *c, const char *org_id, const char *source_id,
                       const char *status, const struct page *page, struct inbound_message *out,
                       int *count);
/* Was a message with this key accepted on the source at or after since? 0 yes,
 * ERR_NOT_FOUND no. */
int store_inbound_seen(struct store_conn *tx, const char *source_id, const char *dedupe_key,
                       int64_t since);

#define STORE_NO_NOTIFY INT64_MAX

/* The common heads of every driver's handles (their own structs begin with these). */
struct fanout_cache;
struct store {
    const struct sql_driver *driver;
    int64_t lease_ms;
    int stats_shard; /* store_stats.c's rows of this process, apart from other nodes' */
    pthread_mutex_t pool_lock;
    struct store_conn *pool; /* free read connections */
};
struct store_conn {
    struct store *store;
    int64_t notify_from; /* the open transaction made work no node holds, due from this time;
                          * STORE_NO_NOTIFY if none */
    struct fanout_cache *fanout_cache; /* fan-out lists by org (store_endpoints.c) */
    struct store_conn *next_free;      /* in the pool */
};

#endif
