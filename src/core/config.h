/* Options of `hookd serve` (§8): one table gives each option's flag, environment name, config
 * file key, default and help; values come from flags > HOOKD_* environment > --config file >
 * defaults. Options whose feature is not built yet are refused when set. */
#ifndef HOOKD_CORE_CONFIG_H
#define HOOKD_CORE_CONFIG_H

#include "core/err.h"
#include "core/log.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_MAX_RETRIES 32
#define CONFIG_DISABLE_AFTER_MAX 1000000 /* --disable-after, and an endpoint's own */

enum config_role { ROLE_ALL, ROLE_API, ROLE_WORKER };
enum config_sqlite_sync { SQLITE_SYNC_NORMAL, SQLITE_SYNC_FULL };
enum config_origin { ORIGIN_DEFAULT, ORIGIN_FILE, ORIGIN_ENV, ORIGIN_FLAG };

struct config {
    char listen[256];
    char db[1024];
    char admin_key[256];
    char config_file[1024];
    bool allow_http, allow_private, no_ping;
    int64_t retry_schedule_ms[CONFIG_MAX_RETRIES];
    int retry_count;
    long disable_after;
    long max_body;
    long rate_limit;
    long max_connections;
    long delivery_threads; /* 0: one per core */
    int64_t retention_ms;
    int64_t lease_ms;
    char tls_cert[1024], tls_key[1024], ca_file[1024], proxy[1024];
    char public_url[512]; /* how clients reach hookd, without a trailing '/'; "" if not told */
    enum config_sqlite_sync sqlite_sync;
    enum config_role role;
    enum log_level log_level;
    /* where each option's value came from, indexed like the option table */
    enum config_origin origin[32];
};

/* A retry schedule in --retry-schedule's syntax ("1s,4s,16s": 1 to CONFIG_MAX_RETRIES positive
 * durations) into out; false if it is not one. The server's flag and an endpoint's own
 * retry_schedule are read by this one rule. */
bool config_parse_schedule(const char *text, int64_t out[CONFIG_MAX_RETRIES], int *count);

/* Fills cfg with every default. */
void config_defaults(struct config *cfg);

/* Applies the config file, then env (a NULL-terminated "NAME=value" array, e.g. environ), then
 * argv (flags only, without the program and command names). Validates the result. On error
 * returns ERR_FAIL with e->message naming the option and where its value came from. */
int config_load(struct config *cfg, int argc, char **argv, char **env, struct err *e);

/* Writes the option list with defaults, for `hookd serve --help`. */
void config_print_help(FILE *out);

/* The origin of an option by flag name ("max-body"), for tests and messages. */
enum config_origin config_origin_of(const struct config *cfg, const char *name);

#endif
