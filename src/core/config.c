/* Option table and the three sources of values (flags, HOOKD_* environment, config file). */
#include "core/config.h"

#include "core/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct option_def;
typedef bool (*option_parser)(struct config *cfg, const struct option_def *opt, const char *text);

struct option_def {
    const char *name; /* flag without "--"; env is HOOKD_ + upper snake; file key is name */
    const char *metavar;
    const char *default_text; /* parsed like any value; NULL = unset */
    const char *help;
    option_parser parse;
    size_t offset; /* into struct config */
    size_t size;   /* for strings: the buffer size */
    long min, max; /* for numbers */
    bool is_flag;  /* boolean: "--name" alone means true */
};

#define FIELD(f) offsetof(struct config, f), sizeof(((struct config *)0)->f)

static bool parse_string(struct config *cfg, const struct option_def *opt, const char *text)
{
    size_t len = strlen(text);
    if (len >= opt->size)
        return false;
    memcpy((char *)cfg + opt->offset, text, len + 1);
    return true;
}

/* An absolute http(s) base without query or fragment; its trailing '/' is dropped. */
static bool parse_base_url(struct config *cfg, const struct option_def *opt, const char *text)
{
    size_t len = strlen(text);
    size_t scheme = strncmp(text, "https://", 8) == 0  ? 8
                    : strncmp(text, "http://", 7) == 0 ? 7
                                                       : 0;
    if (scheme == 0 || len == scheme || text[scheme] == '/' || strpbrk(text, "?# \t\r\n") != NULL)
        return false;
    while (len > scheme && text[len - 1] == '/')
        len--;
    if (len >= opt->size)
        return false;
    memcpy((char *)cfg + opt->offset, text, len);
    ((char *)cfg + opt->offset)[len] = '\0';
    return true;
}

static bool parse_bool(struct config *cfg, const struct option_def *opt, const char *text)
{
    bool *out = (bool *)((char *)cfg + opt->offset);
    if (strcmp(text, "true") == 0 || strcmp(text, "1") == 0 || strcmp(text, "yes") == 0 ||
        strcmp(text, "on") == 0)
        *out = true;
    else if (strcmp(text, "false") == 0 || strcmp(text, "0") == 0 || strcmp(text, "no") == 0 ||
             strcmp(text, "off") == 0)
        *out = false;
    else
        return false;
    return true;
}

static bool parse_long_text(const char *text, long min, long max, long *out)
{
    char *end;
    long value;
    if (!isdigit((unsigned char)text[0]) && text[0] != '-')
        return false;
    errno = 0;
    value = strtol(text, &end, 10);
    if (errno != 0 || *end != '\0' || value < min || value > max)
        return false;
    *out = value;
    return true;
}

static bool parse_long(struct config *cfg, const struct option_def *opt, const char *text)
{
    return parse_long_text(text, opt->min, opt->max, (long *)((char *)cfg + opt->offset));
}

/* A byte count: a plain number, or with a KiB/MiB suffix. */
static bool parse_bytes(struct config *cfg, const struct option_def *opt, const char *text)
{
    char number[32];
    long multiplier = 1, value;
    size_t len = strlen(text);
    if (len >= sizeof number)
        return false;
    memcpy(number, text, len + 1);
    if (len > 3 && strcmp(number + len - 3, "KiB") == 0) {
        multiplier = 1024;
        number[len - 3] = '\0';
    } else if (len > 3 && strcmp(number + len - 3, "MiB") == 0) {
        multiplier = 1024 * 1024;
        number[len - 3] = '\0';
    }
    if (!parse_long_text(number, 0, opt->max / multiplier, &value) || value * multiplier < opt->min)
        return false;
    *(long *)((char *)cfg + opt->offset) = value * multiplier;
    return true;
}

static bool parse_duration(struct config *cfg, const struct option_def *opt, const char *text)
{
    int64_t ms;
    if (!time_parse_duration(text, &ms) || ms < opt->min)
        return false;
    *(int64_t *)((char *)cfg + opt->offset) = ms;
    return true;
}

bool config_parse_schedule(const char *text, int64_t out[CONFIG_MAX_RETRIES], int *count)
{
    char item[32];
    const char *p = text;
    *count = 0;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        int64_t ms;
        if (len == 0 || len >= sizeof item || *count == CONFIG_MAX_RETRIES)
            return false;
        memcpy(item, p, len);
        item[len] = '\0';
        if (!time_parse_duration(item, &ms) || ms <= 0)
            return false;
        out[(*count)++] = ms;
        p += len + (comma ? 1 : 0);
        if (comma && *p == '\0')
            return false;
    }
    return *count > 0;
}

static bool parse_schedule(struct config *cfg, const struct option_def *opt, const char *text)
{
    (void)opt;
    return config_parse_schedule(text, cfg->retry_schedule_ms, &cfg->retry_count);
}

static bool parse_sqlite_sync(struct config *cfg, const struct option_def *opt, const char *text)
{
    (void)opt;
    if (strcmp(text, "normal") == 0)
        cfg->sqlite_sync = SQLITE_SYNC_NORMAL;
    else if (strcmp(text, "full") == 0)
        cfg->sqlite_sync = SQLITE_SYNC_FULL;
    else
        return false;
    return true;
}

static bool parse_role(struct config *cfg, const struct option_def *opt, const char *text)
{
    (void)opt;
    if (strcmp(text, "all") == 0)
        cfg->role = ROLE_ALL;
    else if (strcmp(text, "api") == 0)
        cfg->role = ROLE_API;
    else if (strcmp(text, "worker") == 0)
        cfg->role = ROLE_WORKER;
    else
        return false;
    return true;
}

static bool parse_log_level(struct config *cfg, const struct option_def *opt, const char *text)
{
    (void)opt;
    return log_parse_level(text, &cfg->log_level);
}

/* A duration in the largest unit that writes it whole: "1s", "1h", "250ms". */
static void duration_text(int64_t ms, char *out, size_t size)
{
    if (ms % 3600000 == 0)
        snprintf(out, size, "%lldh", (long long)(ms / 3600000));
    else if (ms % 1000 == 0)
        snprintf(out, size, "%llds", (long long)(ms / 1000));
    else
        snprintf(out, size, "%lldms", (long long)ms);
}

/* The rule a value of opt keeps, said in its error. */
static void value_rule(const struct option_def *opt, char *out, size_t size)
{
    char at_least[32];
    if (opt->parse == parse_long) {
        snprintf(out, size, "a whole number from %ld to %ld", opt->min, opt->max);
    } else if (opt->parse == parse_bytes) {
        snprintf(out, size, "a size from %ld KiB to %ld MiB (bytes, or a number with KiB or MiB)",
                 opt->min / 1024, opt->max / (1024 * 1024));
    } else if (opt->parse == parse_duration) {
        duration_text(opt->min, at_least, sizeof at_least);
        snprintf(out, size, "a duration of at least %s (a number with ms, s, m, h or d)", at_least);
    } else if (opt->parse == parse_schedule) {
        snprintf(out, size, "1 to %d delays above 0, separated by commas (ms, s, m, h)",
                 CONFIG_MAX_RETRIES);
    } else if (opt->parse == parse_bool) {
        snprintf(out, size, "true or false");
    } else if (opt->parse == parse_sqlite_sync) {
        snprintf(out, size, "normal or full");
    } else if (opt->parse == parse_role) {
        snprintf(out, size, "all, api or worker");
    } else if (opt->parse == parse_log_level) {
        snprintf(out, size, "debug, info, warn or error");
    } else if (opt->parse == parse_base_url) {
        snprintf(out, size,
                 "an absolute http(s) URL without query or fragment, at most %zu characters",
                 opt->size - 1);
    } else if (opt->parse == parse_string) {
        snprintf(out, size, "at most %zu characters", opt->size - 1);
    } else {
        out[0] = '\0';
    }
}

static const struct option_def options[] = {
    {"listen", "ADDR:PORT", "127.0.0.1:8080", "API and ingest address (port 0: any)", parse_string,
     FIELD(listen), 0, 0, false},
    {"db", "URL", "sqlite:hookd.db", "database: sqlite:PATH or postgres://...", parse_string,
     FIELD(db), 0, 0, false},
    {"admin-key", "KEY", NULL, "fixed admin key (else one is minted and printed on first start)",
     parse_string, FIELD(admin_key), 0, 0, false},
    {"config", "FILE", NULL, "config file of `key = value` lines (names without --)", parse_string,
     FIELD(config_file), 0, 0, false},
    {"allow-http", NULL, "false", "allow http:// endpoint URLs (development, tests)", parse_bool,
     FIELD(allow_http), 0, 0, true},
    {"allow-private", NULL, "false", "allow private and loopback addresses (development, tests)",
     parse_bool, FIELD(allow_private), 0, 0, true},
    {"no-ping", NULL, "false", "skip ping verification on endpoint create/update", parse_bool,
     FIELD(no_ping), 0, 0, true},
    {"retry-schedule", "LIST", "1s,4s,16s,64s,256s,1024s,4096s",
     "delays between attempts (ms, s, m, h)", parse_schedule, 0, 0, 0, 0, false},
    {"disable-after", "N", "20", "consecutive failures before an endpoint is disabled", parse_long,
     FIELD(disable_after), 1, CONFIG_DISABLE_AFTER_MAX, false},
    {"max-body", "BYTES", "1048576", "request body limit, API and ingest (also KiB, MiB)",
     parse_bytes, FIELD(max_body), 1024, 64L * 1024 * 1024, false},
    {"rate-limit", "N", "10000", "API requests/s per key, burst 2N; 0 = off", parse_long,
     FIELD(rate_limit), 0, 100000000, false},
    {"max-connections", "N", "256", "global cap on concurrent outbound requests", parse_long,
     FIELD(max_connections), 1, 100000, false},
    {"delivery-threads", "N", "0",
     "delivery loops, endpoints shared out among them; 0 = one per core", parse_long,
     FIELD(delivery_threads), 0, 64, false},
    {"retention", "DURATION", "30d", "age after which history is purged", parse_duration,
     FIELD(retention_ms), 3600 * 1000, 0, false},
    {"lease", "DURATION", "30s", "heartbeat age after which a node's claims are free",
     parse_duration, FIELD(lease_ms), 1000, 0, false},
    {"tls-cert", "FILE", NULL, "serve HTTPS with this certificate (PEM)", parse_string,
     FIELD(tls_cert), 0, 0, false},
    {"tls-key", "FILE", NULL, "private key of --tls-cert (PEM)", parse_string, FIELD(tls_key), 0, 0,
     false},
    {"ca-file", "FILE", NULL, "extra trusted CAs for outbound HTTPS (default: system CAs only)",
     parse_string, FIELD(ca_file), 0, 0, false},
    {"proxy", "URL", NULL, "egress proxy for deliveries (proxy env variables are ignored)",
     parse_string, FIELD(proxy), 0, 0, false},
    {"public-url", "URL", NULL,
     "how senders reach hookd (https://hooks.example.com): absolute ingest URLs", parse_base_url,
     FIELD(public_url), 0, 0, false},
    {"sqlite-sync", "MODE", "normal", "normal (crash-safe) or full (also power-loss-safe)",
     parse_sqlite_sync, 0, 0, 0, 0, false},
    {"role", "ROLE", "all", "all, api (accept and store) or worker (dispatch)", parse_role, 0, 0, 0,
     0, false},
    {"log-level", "LEVEL", "info", "debug, info, warn or error", parse_log_level, 0, 0, 0, 0,
     false},
};

#define OPTION_COUNT (sizeof options / sizeof options[0])

_Static_assert(OPTION_COUNT <=
                   sizeof(((struct config *)0)->origin) / sizeof(((struct config *)0)->origin[0]),
               "struct config.origin must have a slot per option");

static const struct option_def *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

static const char *origin_text(enum config_origin origin)
{
    switch (origin) {
    case ORIGIN_FILE:
        return "config file";
    case ORIGIN_ENV:
        return "environment";
    case ORIGIN_FLAG:
        return "command line";
    case ORIGIN_DEFAULT:
        break;
    }
    return "default";
}

/* Parses text into opt and records its origin; a bad value names the option and the source. */
static int apply(struct config *cfg, const struct option_def *opt, const char *text,
                 enum config_origin origin, struct err *e)
{
    if (!opt->parse(cfg, opt, text)) {
        char rule[128];
        value_rule(opt, rule, sizeof rule);
        return err_invalid(e, opt->name, "option --%s (from the %s): invalid value '%.40s'%s%s",
                           opt->name, origin_text(origin), text, rule[0] ? ": " : "", rule);
    }
    cfg->origin[opt - options] = origin;
    return 0;
}

void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (options[i].default_text && !options[i].parse(cfg, &options[i], options[i].default_text))
            abort(); /* a default that does not parse is a bug in the table */
}

static void env_name(const struct option_def *opt, char *out, size_t size)
{
    size_t n = (size_t)snprintf(out, size, "HOOKD_");
    for (const char *p = opt->name; *p && n + 1 < size; p++)
        out[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    out[n] = '\0';
}

static const char *env_lookup(char **env, const char *name)
{
    size_t len = strlen(name);
    for (char **p = env; p && *p; p++)
        if (strncmp(*p, name, len) == 0 && (*p)[len] == '=')
            return *p + len + 1;
    return NULL;
}

static char *trim(char *s)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

static int load_file(struct config *cfg, const char *path, struct err *e)
{
    char *line = NULL;
    size_t cap = 0;
    int lineno = 0, rc = 0;
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return err_invalid(e, "config", "cannot read config file %s: %s", path, strerror(errno));
    /* getline: a line of any length is one line (a long comment stays a comment) */
    while (rc == 0 && getline(&line, &cap, f) != -1) {
        char *text = trim(line), *eq, *key, *value;
        const struct option_def *opt;
        lineno++;
        if (*text == '\0' || *text == '#')
            continue;
        eq = strchr(text, '=');
        if (eq == NULL) {
            rc = err_invalid(e, "config", "%s:%d: expected `key = value`", path, lineno);
            break;
        }
        *eq = '\0';
        key = trim(text);
        value = trim(eq + 1);
        opt = find_option(key, strlen(key));
        if (opt == NULL || strcmp(key, "config") == 0)
            rc = err_invalid(e, "config", "%s:%d: unknown option '%.60s'", path, lineno, key);
        else
            rc = apply(cfg, opt, value, ORIGIN_FILE, e);
    }
    free(line);
    fclose(f);
    return rc;
}

/* Finds --config in argv (or HOOKD_CONFIG) before anything else is applied. */
static const char *config_path(int argc, char **argv, char **env)
{
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], "--config=", 9) == 0)
            return argv[i] + 9;
    }
    return env_lookup(env, "HOOKD_CONFIG");
}

static int apply_flags(struct config *cfg, int argc, char **argv, struct err *e)
{
    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i], *eq, *value;
        const struct option_def *opt;
        if (strncmp(arg, "--", 2) != 0)
            return err_invalid(e, "", "unexpected argument '%.60s'", arg);
        arg += 2;
        eq = strchr(arg, '=');
        opt = find_option(arg, eq ? (size_t)(eq - arg) : strlen(arg));
        if (opt == NULL)
            return err_invalid(e, "", "unknown option '--%.60s'", arg);
        if (eq)
            value = eq + 1;
        else if (opt->is_flag)
            value = "true";
        else if (i + 1 < argc)
            value = argv[++i];
        else
            return err_invalid(e, opt->name, "option --%s needs a value (%s)", opt->name,
                               opt->metavar);
        if (apply(cfg, opt, value, ORIGIN_FLAG, e) != 0)
            return ERR_FAIL;
    }
    return 0;
}

static bool listen_is_valid(const char *listen)
{
    const char *colon = strrchr(listen, ':');
    long port;
    if (colon == NULL || colon == listen)
        return false;
    if (listen[0] == '[' && colon[-1] != ']')
        return false;
    return parse_long_text(colon + 1, 0, 65535, &port);
}

static int validate(struct config *cfg, struct err *e)
{
    if (!listen_is_valid(cfg->listen))
        return err_invalid(e, "listen", "option --listen: expected ADDR:PORT, got '%.60s'",
                           cfg->listen);
    bool postgres =
        strncmp(cfg->db, "postgres://", 11) == 0 || strncmp(cfg->db, "postgresql://", 13) == 0;
    if (!postgres && (strncmp(cfg->db, "sqlite:", 7) != 0 || cfg->db[7] == '\0'))
        return err_invalid(e, "db",
                           "option --db: expected sqlite:PATH or postgres://..., got "
                           "'%.60s'",
                           cfg->db);
    if (cfg->admin_key[0] != '\0') {
        if (strlen(cfg->admin_key) < 16)
            return err_invalid(e, "admin-key", "option --admin-key: use at least 16 characters");
        for (const char *p = cfg->admin_key; *p; p++)
            if (!isgraph((unsigned char)*p))
                return err_invalid(e, "admin-key",
                                   "option --admin-key: only printable characters, no spaces");
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0'))
        return err_invalid(e, "tls-cert", "options --tls-cert and --tls-key go together");
    return 0;
}

int config_load(struct config *cfg, int argc, char **argv, char **env, struct err *e)
{
    const char *path = config_path(argc, argv, env);
    char name[64];

    if (path != NULL && load_file(cfg, path, e) != 0)
        return ERR_FAIL;
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const char *value;
        env_name(&options[i], name, sizeof name);
        value = env_lookup(env, name);
        if (value != NULL && apply(cfg, &options[i], value, ORIGIN_ENV, e) != 0)
            return ERR_FAIL;
    }
    if (apply_flags(cfg, argc, argv, e) != 0)
        return ERR_FAIL;
    return validate(cfg, e);
}

void config_print_help(FILE *out)
{
    char name[64], flag[64];
    fprintf(out, "Options (each also HOOKD_<NAME> in the environment and a key of --config):\n");
    for (size_t i = 0; i < OPTION_COUNT; i++) {
        const struct option_def *opt = &options[i];
        env_name(opt, name, sizeof name);
        snprintf(flag, sizeof flag, "--%s%s%s", opt->name, opt->metavar ? " " : "",
                 opt->metavar ? opt->metavar : "");
        fprintf(out, "  %-28s %s\n  %-28s   default: %s; env %s\n", flag, opt->help, "",
                opt->default_text ? opt->default_text : "none", name);
    }
}

enum config_origin config_origin_of(const struct config *cfg, const char *name)
{
    const struct option_def *opt = find_option(name, strlen(name));
    return opt ? cfg->origin[opt - options] : ORIGIN_DEFAULT;
}
