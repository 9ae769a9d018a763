/* The only door to persistence. Backends (store_sqlite.c, later store_pg.c) fill one table of
 * operations; no SQL lives anywhere else.
 *
 * Connections: reads run on a pooled connection from store_acquire(); every write runs inside
 * a transaction on the writer's connection (writer.h), which groups many requests into one
 * commit. Functions return 0, ERR_NOT_FOUND, ERR_CONFLICT or ERR_FAIL (details logged). */
#ifndef HOOKD_STORE_STORE_H
#define HOOKD_STORE_STORE_H

#include "core/err.h"
#include "core/id.h"
#include "core/jsonv.h"
#include "core/page.h"

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
    int64_t created_at;                  /* ms */
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

struct store_options {
    bool sqlite_full_sync; /* SQLite synchronous=FULL instead of NORMAL */
    bool exclusive;        /* this process serves: refuse a second server on the same file */
};

struct store;
struct store_conn;

struct store_ops {
    const char *scheme; /* URL scheme it serves: "sqlite" */
    int (*open)(const char *location, const struct store_options *opts, struct store **out,
                struct err *e);
    void (*close)(struct store *st);
    /* Applies pending migrations; *applied gets how many ran. */
    int (*migrate)(struct store *st, int *applied, struct err *e);
    int (*schema_version)(struct store *st, int *current, int *latest);

    struct store_conn *(*acquire)(struct store *st);
    void (*release)(struct store_conn *c);
    int (*ping)(struct store_conn *c);

    /* Write transactions: one open at a time, on the writer's connection. Savepoints make one
     * request's failure roll back only its own writes. */
    struct store_conn *(*tx_begin)(struct store *st);
    int (*tx_commit)(struct store_conn *tx);
    void (*tx_rollback)(struct store_conn *tx);
    int (*savepoint)(struct store_conn *tx);
    int (*savepoint_release)(struct store_conn *tx);
    int (*savepoint_rollback)(struct store_conn *tx);

    int (*org_insert)(struct store_conn *tx, const struct org *org);
    int (*org_get)(struct store_conn *c, const char *id, struct org *out);
    /* Fills out[0..limit] (limit + 1 slots, one more tells there is a next page). */
    int (*org_list)(struct store_conn *c, const struct page *page, struct org *out, int *count);
    int (*org_update)(struct store_conn *tx, const struct org *org);
    /* Marks the org deleted and revokes its keys. ERR_NOT_FOUND if absent or deleted. */
    int (*org_delete)(struct store_conn *tx, const char *id, int64_t now);

    int (*key_insert)(struct store_conn *tx, const struct api_key *key);
    int (*key_get)(struct store_conn *c, const char *id, struct api_key *out);
    /* Keys of one org (org_id "" = admin keys), newest first. */
    int (*key_list)(struct store_conn *c, const char *org_id, const struct page *page,
                    struct api_key *out, int *count);
    /* ERR_NOT_FOUND if absent or already revoked. */
    int (*key_revoke)(struct store_conn *tx, const char *id, int64_t now);
    int (*key_count)(struct store_conn *c, long *count);

    /* out->body is allocated; ERR_NOT_FOUND if there is none created at or after not_before. */
    int (*idem_get)(struct store_conn *c, const char *scope, const char *key, int64_t not_before,
                    struct idem_record *out);
    int (*idem_put)(struct store_conn *tx, const struct idem_record *rec);
    int (*idem_purge)(struct store_conn *tx, int64_t older_than, int max_rows);

    /* The node's heartbeat row (§4.5): claims of a node with an old heartbeat are free. */
    int (*node_heartbeat)(struct store_conn *tx, const char *node_id, int64_t now);
    int (*node_remove)(struct store_conn *tx, const char *node_id);
};

/* The common head of every backend's handle. */
struct store {
    const struct store_ops *ops;
};
struct store_conn {
    struct store *store;
};

/* Opens the backend the URL names ("sqlite:PATH"). */
int store_open(const char *url, const struct store_options *opts, struct store **out,
               struct err *e);
void store_close(struct store *st);

static inline const struct store_ops *store_ops_of(struct store_conn *c)
{
    return c->store->ops;
}

/* Pooled read connection; release it on the same thread when done. */
static inline struct store_conn *store_acquire(struct store *st)
{
    return st->ops->acquire(st);
}
static inline void store_release(struct store_conn *c)
{
    if (c)
        c->store->ops->release(c);
}

#endif
