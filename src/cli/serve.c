/* `hookd serve`: open the store, start the writer and the HTTP server, keep the node's
 * heartbeat, and stop cleanly on SIGTERM or SIGINT. */
#include "cli/cli.h"

#include "api/api.h"
#include "api/auth.h"
#include "api/limits.h"
#include "core/config.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "engine/engine.h"
#include "http/server.h"
#include "store/retention.h"
#include "store/store.h"
#include "store/writer.h"
#include "core/text.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

extern char **environ;

#define IDEMPOTENCY_KEEP_MS (24LL * 3600 * 1000)
#define PURGE_BATCH 1000

/* The node's periodic upkeep, run on the writer: heartbeat and purge of old idempotency keys. */
struct upkeep_job {
    struct write_job job;
    char node_id[ID_MAX];
};

static int upkeep_apply(struct store_conn *tx, struct write_job *job)
{
    struct upkeep_job *up = (struct upkeep_job *)job;
    int64_t now = time_now_ms();
    int rc = store_node_heartbeat(tx, up->node_id, now);
    if (rc == 0)
        rc = store_idem_purge(tx, now - IDEMPOTENCY_KEEP_MS, PURGE_BATCH);
    return rc;
}

static void upkeep_done(struct write_job *job, bool committed)
{
    if (!committed || job->result != 0)
        log_warn("heartbeat failed", "node", json_string(((struct upkeep_job *)job)->node_id),
                 NULL);
    free(job);
}

static void submit_upkeep(struct writer *w, const char *node_id)
{
    struct upkeep_job *up = xcalloc(1, sizeof *up);
    text_copy(up->node_id, sizeof up->node_id, node_id);
    up->job.apply = upkeep_apply;
    up->job.done = upkeep_done;
    writer_submit(w, &up->job);
}

/* A clean stop: the node's pending deliveries are free for others, and its row goes. */
static int remove_node_apply(struct store_conn *tx, struct write_job *job)
{
    const char *node_id = ((struct upkeep_job *)job)->node_id;
    int rc = store_delivery_release(tx, node_id);
    return rc ? rc : store_node_remove(tx, node_id);
}

/* The heartbeat first: a node's claims are only its own once its row is committed. */
static int heartbeat_apply(struct store_conn *tx, struct write_job *job)
{
    return store_node_heartbeat(tx, ((struct upkeep_job *)job)->node_id, time_now_ms());
}

static void ignore_done(struct write_job *job, bool committed)
{
    (void)job;
    (void)committed;
}

/* First start with an empty store and no --admin-key: mint an admin key and print it once. */
struct bootstrap_job {
    struct write_job job;
    struct api_key key;
    bool created;
};

static int bootstrap_apply(struct store_conn *tx, struct write_job *job)
{
    struct bootstrap_job *bj = (struct bootstrap_job *)job;
    long count;
    int rc = store_key_count(tx, &count);
    if (rc != 0 || count > 0)
        return rc;
    bj->created = true;
    return store_key_insert(tx, &bj->key);
}

static int bootstrap_admin_key(struct store *st)
{
    struct bootstrap_job bj = {0};
    char text[KEY_TEXT_MAX];

    auth_mint_key(NULL, "bootstrap admin", SCOPE_ADMIN, &bj.key, text);
    bj.job.apply = bootstrap_apply;
    bj.job.done = ignore_done;
    if (writer_run_batch(st, &bj.job) != 0 || bj.job.result != 0) {
        OPENSSL_cleanse(text, sizeof text);
        return ERR_FAIL;
    }
    if (bj.created) {
        printf("hookd: created the admin key; it is shown only this once, store it now:\n"
               "  %s\n",
               text);
        fflush(stdout);
        log_info("admin key created", "key_id", json_string(bj.key.id), NULL);
    }
    OPENSSL_cleanse(text, sizeof text);
    return 0;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long size;
    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && size < 1024 * 1024 &&
        fseek(f, 0, SEEK_SET) == 0) {
        data = xmalloc((size_t)size + 1);
        if (fread(data, 1, (size_t)size, f) != (size_t)size) {
            free(data);
            data = NULL;
        } else {
            data[size] = '\0';
        }
    }
    fclose(f);
    return data;
}

static const char usage[] = "usage: hookd serve [options]\n"
                            "\n"
                            "Runs the hookd server: the API and the delivery engine (see --role).\n"
                            "\n";

/* The PEM files of --tls-cert and --tls-key, read at start and on SIGHUP; false when either
 * cannot be read. */
static bool read_tls_pair(const struct config *cfg, char **cert, char **key)
{
    *cert = read_file(cfg->tls_cert);
    *key = read_file(cfg->tls_key);
    return *cert != NULL && *key != NULL;
}

/* Frees a pair read by read_tls_pair, the key's bytes wiped first. */
static void free_tls_pair(char *cert, char *key)
{
    if (key)
        OPENSSL_cleanse(key, strlen(key));
    free(cert);
    free(key);
}

/* SIGHUP: the certificate files read again and served to new connections (a renewed
 * certificate without a restart). A pair that cannot be read or used leaves the old one. */
static void reload_tls(struct http_server *srv, const struct config *cfg)
{
    char *cert, *key;
    struct err e;
    if (cfg->tls_cert[0] == '\0') {
        log_kv(LOG_INFO, "SIGHUP: no certificate to reload (no --tls-cert)", NULL);
        return;
    }
    if (!read_tls_pair(cfg, &cert, &key))
        log_error("SIGHUP: cannot read the certificate or key; the old ones stay", "tls_cert",
                  json_string(cfg->tls_cert), "tls_key", json_string(cfg->tls_key), NULL);
    else if (http_reload_tls(srv, cert, key, &e) != 0)
        log_error("SIGHUP: the certificate was not replaced", "error", json_string(e.message),
                  NULL);
    else
        log_info("SIGHUP: certificate reloaded", "tls_cert", json_string(cfg->tls_cert), NULL);
    free_tls_pair(cert, key);
}

/* --retention, or HOOKD_TEST_RETENTION (tests only): a duration below the option's 1 h
 * minimum, so that a test sees history purged while it runs. */
static int64_t retention_of(const struct config *cfg)
{
    const char *test = getenv("HOOKD_TEST_RETENTION");
    int64_t ms;
    if (test == NULL)
        return cfg->retention_ms;
    if (!time_parse_duration(test, &ms) || ms <= 0) {
        log_warn("HOOKD_TEST_RETENTION is not a duration: ignored", "value", json_string(test),
                 NULL);
        return cfg->retention_ms;
    }
    log_warn("HOOKD_TEST_RETENTION overrides --retention: for tests only", "retention_ms",
             json_integer(ms), NULL);
    return ms;
}

static int run(const struct config *cfg)
{
    struct app app = {.cfg = cfg};
    struct retention *retention = NULL;
    struct http_options http_opts = {0};
    struct http_server *srv = NULL;
    char node_id[ID_MAX], *cert = NULL, *key = NULL;
    sigset_t signals;
    int status = 1, sig;
    struct err e;

    /* before any thread starts (the store starts one): every thread inherits the blocked
     * signals, and only this one takes them, in sigtimedwait below */
    sigemptyset(&signals);
    sigaddset(&signals, SIGTERM);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* first: a port in use stops the start before a database is created or a key minted */
    http_opts.listen_fd = http_bind(cfg->listen, &http_opts.listen_port, &e);
    if (http_opts.listen_fd < 0) {
        fprintf(stderr, "hookd: %s\n", e.message);
        return 1;
    }
    http_opts.bound = true;
    app.store = cli_open_store(
        cfg->db, &(struct store_options){.exclusive = true,
                                         .sqlite_full_sync = cfg->sqlite_sync == SQLITE_SYNC_FULL,
                                         .lease_ms = cfg->lease_ms});
    if (app.store == NULL) {
        close(http_opts.listen_fd);
        return 1;
    }
    if (cfg->admin_key[0] != '\0') {
        app.has_admin_key = true;
        auth_hash(cfg->admin_key, strlen(cfg->admin_key), app.admin_key_hash);
    } else if (bootstrap_admin_key(app.store) != 0) {
        fprintf(stderr, "hookd: cannot create the admin key\n");
        goto out;
    }
    if (cfg->tls_cert[0] != '\0') {
        if (!read_tls_pair(cfg, &cert, &key)) {
            fprintf(stderr, "hookd: cannot read --tls-cert %s or --tls-key %s\n", cfg->tls_cert,
                    cfg->tls_key);
            goto out;
        }
    }
    if (cfg->rate_limit > 0)
        app.limits = key_limits_new(cfg->rate_limit);
    app.keys = key_cache_new();

    id_new("node_", node_id);
    text_copy(app.node_id, sizeof app.node_id, node_id);
    {
        struct upkeep_job claim = {.job = {.apply = heartbeat_apply, .done = ignore_done}};
        text_copy(claim.node_id, sizeof claim.node_id, node_id);
        if (writer_run_batch(app.store, &claim.job) != 0 || claim.job.result != 0) {
            fprintf(stderr, "hookd: cannot register the node in the store\n");
            goto out;
        }
    }
    app.writer = writer_start(app.store);
    submit_upkeep(app.writer, node_id);
    if (cfg->role != ROLE_API) {
        struct engine_options engine_opts = {
            .cfg = cfg, .store = app.store, .writer = app.writer, .node_id = node_id};
        app.engine = engine_start(&engine_opts, &e);
        if (app.engine == NULL) {
            fprintf(stderr, "hookd: %s\n", e.message);
            goto out;
        }
    }
    if (cfg->allow_http || cfg->allow_private)
        log_warn("URL safety relaxed for development: do not use in production", "allow_http",
                 json_boolean(cfg->allow_http), "allow_private", json_boolean(cfg->allow_private),
                 NULL);

    http_opts.listen = cfg->listen;
    http_opts.max_body = (size_t)cfg->max_body;
    http_opts.tls_cert_pem = cert;
    http_opts.tls_key_pem = key;
    http_opts.dispatch = api_dispatch;
    http_opts.app = &app;
    http_opts.threads = 2;
    srv = http_start(&http_opts, &e);
    http_opts.bound = false; /* the socket is the server's now, or closed */
    if (srv == NULL) {
        fprintf(stderr, "hookd: %s\n", e.message);
        goto out;
    }
    retention = retention_start(app.writer, retention_of(cfg));
    if (retention == NULL) {
        fprintf(stderr, "hookd: cannot start the retention thread\n");
        goto out;
    }
    log_kv(LOG_ALWAYS, "listening", "listen", json_string(cfg->listen), "port",
           json_integer(http_port(srv)), "tls", json_boolean(cert != NULL), "db",
           json_string(cfg->db), "node", json_string(node_id), "version",
           json_string(HOOKD_VERSION_STRING), NULL);

    for (;;) {
        int64_t period_ms = cfg->lease_ms / 3 > 1000 ? cfg->lease_ms / 3 : 1000;
        struct timespec timeout = {period_ms / 1000, (period_ms % 1000) * 1000000};
        sig = sigtimedwait(&signals, NULL, &timeout);
        if (sig == SIGTERM || sig == SIGINT)
            break;
        if (sig < 0 && errno != EAGAIN && errno != EINTR)
            break;
        if (sig == SIGHUP) {
            reload_tls(srv, cfg);
            continue;
        }
        submit_upkeep(app.writer, node_id);
    }
    log_kv(LOG_ALWAYS, "stopping", "signal", json_integer(sig), NULL);
    /* the listener stays open through the grace: new requests get 503, as load balancers
     * expect, and /readyz says so, instead of a refused connection */
    atomic_store(&app.stopping, true);
    engine_stop(app.engine); /* attempts in flight finish (10 s at most); results queued */
    retention_stop(retention);
    retention = NULL;
    writer_stop(app.writer); /* commits what is queued and answers every waiting request */
    http_stop(srv);
    srv = NULL;
    {
        struct upkeep_job bye = {.job = {.apply = remove_node_apply, .done = ignore_done}};
        text_copy(bye.node_id, sizeof bye.node_id, node_id);
        writer_run_batch(app.store, &bye.job);
    }
    log_kv(LOG_ALWAYS, "stopped", "node", json_string(node_id), NULL);
    status = 0;
out:
    if (srv == NULL && http_opts.bound)
        close(http_opts.listen_fd); /* bound, never served */
    http_stop(srv);
    engine_stop(app.engine); /* no-ops when already stopped */
    retention_stop(retention);
    writer_stop(app.writer);
    engine_free(app.engine);
    writer_free(app.writer);
    key_limits_free(app.limits);
    key_cache_free(app.keys);
    store_close(app.store);
    free_tls_pair(cert, key);
    return status;
}

int cli_serve(int argc, char **argv)
{
    struct config cfg;
    struct err e;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            config_print_help(stdout);
            return 0;
        }
    }
    config_defaults(&cfg);
    if (config_load(&cfg, argc - 1, argv + 1, environ, &e) != 0) {
        fprintf(stderr, "hookd serve: %s\n(hookd serve --help lists the options)\n", e.message);
        return 2;
    }
    log_set_level(cfg.log_level);
    return run(&cfg);
}
