/* Configuration (§8): flags > HOOKD_* environment > config file > defaults, validation, and
 * options of features not built yet refused. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char config_path[64];

static int write_config(const char *text)
{
    snprintf(config_path, sizeof config_path, "/tmp/hookd-test-config-XXXXXX");
    int fd = mkstemp(config_path);
    if (fd < 0)
        return -1;
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    if (config_path[0])
        unlink(config_path);
    config_path[0] = '\0';
    return 0;
}

static int load(struct config *cfg, int argc, char **argv, char **env, struct err *e)
{
    config_defaults(cfg);
    return config_load(cfg, argc, argv, env, e);
}

static void defaults_match_the_spec(void **state)
{
    struct config cfg;
    struct err e;
    char *env[] = {NULL};
    (void)state;
    assert_int_equal(load(&cfg, 0, NULL, env, &e), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:8080");
    assert_string_equal(cfg.db, "sqlite:hookd.db");
    assert_int_equal(cfg.max_body, 1048576);
    assert_int_equal(cfg.rate_limit, 10000);
    assert_int_equal(cfg.max_connections, 256);
    assert_int_equal(cfg.disable_after, 20);
    assert_int_equal(cfg.retry_count, 7);
    assert_int_equal(cfg.retry_schedule_ms[0], 1000);
    assert_int_equal(cfg.retry_schedule_ms[6], 4096000);
    assert_int_equal(cfg.retention_ms, 30LL * 86400 * 1000);
    assert_int_equal(cfg.lease_ms, 30000);
    assert_int_equal(cfg.sqlite_sync, SQLITE_SYNC_NORMAL);
    assert_int_equal(cfg.role, ROLE_ALL);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_int_equal(config_origin_of(&cfg, "max-body"), ORIGIN_DEFAULT);
}

static void flags_beat_env_beat_file_beat_defaults(void **state)
{
    struct config cfg;
    struct err e;
    (void)state;
    assert_int_equal(write_config("# comment\n\nmax-body = 2048\nrate-limit = 7\nlog-level = "
                                  "warn\nlisten = 127.0.0.1:9001\n"),
                     0);
    char env_file[128];
    snprintf(env_file, sizeof env_file, "HOOKD_CONFIG=%s", config_path);
    char *env[] = {env_file, "HOOKD_RATE_LIMIT=8", "HOOKD_LOG_LEVEL=error", NULL};
    char *argv[] = {"--log-level", "debug"};
    assert_int_equal(load(&cfg, 2, argv, env, &e), 0);
    assert_int_equal(cfg.max_body, 2048); /* file over default */
    assert_int_equal(config_origin_of(&cfg, "max-body"), ORIGIN_FILE);
    assert_int_equal(cfg.rate_limit, 8); /* env over file */
    assert_int_equal(config_origin_of(&cfg, "rate-limit"), ORIGIN_ENV);
    assert_int_equal(cfg.log_level, LOG_DEBUG); /* flag over env over file */
    assert_int_equal(config_origin_of(&cfg, "log-level"), ORIGIN_FLAG);
    assert_string_equal(cfg.listen, "127.0.0.1:9001");
    assert_string_equal(cfg.db, "sqlite:hookd.db"); /* untouched default */
}

static void config_flag_names_the_file(void **state)
{
    struct config cfg;
    struct err e;
    (void)state;
    assert_int_equal(write_config("sqlite-sync = full\n"), 0);
    char *env[] = {NULL};
    char *argv[] = {"--config", config_path, "--max-body=4KiB"};
    assert_int_equal(load(&cfg, 3, argv, env, &e), 0);
    assert_int_equal(cfg.sqlite_sync, SQLITE_SYNC_FULL);
    assert_int_equal(cfg.max_body, 4096);
}

/* An invalid value's error says the rule it broke (issue 18). */
static void bad_values_say_the_rule(void **state)
{
    struct config cfg;
    struct err e;
    char *none[] = {NULL};
    struct {
        const char *flag, *value, *rule;
    } cases[] = {
        {"--max-body", "10", "from 1 KiB to 64 MiB"},
        {"--disable-after", "0", "a whole number from 1 to"},
        {"--lease", "10ms", "at least 1s"},
        {"--retry-schedule", "1s,,2s", "separated by commas"},
        {"--role", "boss", "all, api or worker"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[] = {(char *)cases[i].flag, (char *)cases[i].value};
        assert_int_not_equal(load(&cfg, 2, argv, none, &e), 0);
        if (strstr(e.message, cases[i].rule) == NULL)
            fail_msg("%s %s: %s", cases[i].flag, cases[i].value, e.message);
    }
    char *env[] = {"HOOKD_ALLOW_HTTP=maybe", NULL};
    assert_int_not_equal(load(&cfg, 0, NULL, env, &e), 0);
    assert_non_null(strstr(e.message, "true or false"));
}

static void bad_values_name_the_option_and_source(void **state)
{
    struct config cfg;
    struct err e;
    char *env[] = {"HOOKD_MAX_BODY=lots", NULL};
    char *none[] = {NULL};
    (void)state;
    assert_int_not_equal(load(&cfg, 0, NULL, env, &e), 0);
    assert_string_equal(e.field, "max-body");
    assert_non_null(strstr(e.message, "environment"));

    char *argv[] = {"--sqlite-sync", "sometimes"};
    assert_int_not_equal(load(&cfg, 2, argv, none, &e), 0);
    assert_string_equal(e.field, "sqlite-sync");
    assert_non_null(strstr(e.message, "command line"));

    char *listen[] = {"--listen", "nowhere"};
    assert_int_not_equal(load(&cfg, 2, listen, none, &e), 0);
    assert_string_equal(e.field, "listen");

    char *missing[] = {"--db"};
    assert_int_not_equal(load(&cfg, 1, missing, none, &e), 0);
    assert_string_equal(e.field, "db");

    char *unknown[] = {"--colour", "blue"};
    assert_int_not_equal(load(&cfg, 2, unknown, none, &e), 0);
    assert_non_null(strstr(e.message, "unknown option"));

    char *short_key[] = {"--admin-key", "short"};
    assert_int_not_equal(load(&cfg, 2, short_key, none, &e), 0);
    assert_string_equal(e.field, "admin-key");

    char *tls[] = {"--tls-cert", "/tmp/cert.pem"};
    assert_int_not_equal(load(&cfg, 2, tls, none, &e), 0);
    assert_string_equal(e.field, "tls-cert");

    char *small[] = {"--max-body", "10"};
    assert_int_not_equal(load(&cfg, 2, small, none, &e), 0);

    char *schedule[] = {"--retry-schedule", "1s,,2s"};
    assert_int_not_equal(load(&cfg, 2, schedule, none, &e), 0);
    assert_string_equal(e.field, "retry-schedule");
}

static void unknown_file_keys_are_refused(void **state)
{
    struct config cfg;
    struct err e;
    char *env[] = {NULL};
    (void)state;
    assert_int_equal(write_config("max-body = 2048\ncolour = blue\n"), 0);
    char *argv[] = {"--config", config_path};
    assert_int_not_equal(load(&cfg, 2, argv, env, &e), 0);
    assert_non_null(strstr(e.message, ":2:"));
    assert_non_null(strstr(e.message, "colour"));
}

static void a_long_comment_stays_a_comment(void **state)
{
    struct config cfg;
    struct err e;
    char text[4200] = "#";
    char *env[] = {NULL};
    (void)state;
    memset(text + 1, 'x', 4000);
    strcpy(text + 4001, "role = worker\nmax-body = 2048\n");
    assert_int_equal(write_config(text), 0);
    char *argv[] = {"--config", config_path};
    assert_int_equal(load(&cfg, 2, argv, env, &e), 0);
    assert_int_equal(cfg.role, ROLE_ALL); /* the tail of the comment set nothing */
    assert_int_equal(cfg.max_body, 2048);
}

static void retention_and_backends_are_read(void **state)
{
    struct config cfg;
    struct err e;
    char *none[] = {NULL};
    char *env[] = {"HOOKD_RETENTION=7d", NULL};
    (void)state;
    char *retention[] = {"--retention", "90d"};
    assert_int_equal(load(&cfg, 2, retention, none, &e), 0);
    assert_int_equal(cfg.retention_ms, 90LL * 86400000);
    assert_int_equal(load(&cfg, 0, NULL, env, &e), 0);
    assert_int_equal(cfg.retention_ms, 7LL * 86400000);
    char *short_one[] = {"--retention", "59m"};
    assert_int_not_equal(load(&cfg, 2, short_one, none, &e), 0);
    assert_string_equal(e.field, "retention");
    char *pg[] = {"--db", "postgres://localhost/hookd"};
    assert_int_equal(load(&cfg, 2, pg, none, &e), 0); /* the PostgreSQL backend is built */
    char *bad[] = {"--db", "mysql://localhost/hookd"};
    assert_int_not_equal(load(&cfg, 2, bad, none, &e), 0);
    assert_string_equal(e.field, "db");
}

static void engine_options_are_read(void **state)
{
    struct config cfg;
    struct err e;
    char *none[] = {NULL};
    char *argv[] = {"--allow-http",
                    "--allow-private=false",
                    "--no-ping",
                    "--retry-schedule",
                    "100ms,2s,1m",
                    "--disable-after",
                    "3",
                    "--max-connections",
                    "9",
                    "--role",
                    "worker",
                    "--proxy",
                    "http://proxy:3128"};
    (void)state;
    assert_int_equal(load(&cfg, 13, argv, none, &e), 0);
    assert_true(cfg.allow_http);
    assert_false(cfg.allow_private);
    assert_true(cfg.no_ping);
    assert_int_equal(cfg.retry_count, 3);
    assert_int_equal(cfg.retry_schedule_ms[0], 100);
    assert_int_equal(cfg.retry_schedule_ms[2], 60000);
    assert_int_equal(cfg.disable_after, 3);
    assert_int_equal(cfg.max_connections, 9);
    assert_int_equal(cfg.role, ROLE_WORKER);
    assert_string_equal(cfg.proxy, "http://proxy:3128");
}

static void help_lists_every_option_with_its_default(void **state)
{
    char buffer[16384] = {0};
    FILE *out = fmemopen(buffer, sizeof buffer - 1, "w");
    const char *names[] = {"--listen",        "--db",
                           "--admin-key",     "--config",
                           "--allow-http",    "--allow-private",
                           "--no-ping",       "--retry-schedule",
                           "--disable-after", "--max-body",
                           "--rate-limit",    "--max-connections",
                           "--retention",     "--lease",
                           "--tls-cert",      "--tls-key",
                           "--ca-file",       "--proxy",
                           "--sqlite-sync",   "--role",
                           "--log-level"};
    (void)state;
    config_print_help(out);
    fclose(out);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        assert_non_null(strstr(buffer, names[i]));
    assert_non_null(strstr(buffer, "default: 127.0.0.1:8080"));
    assert_non_null(strstr(buffer, "default: 1s,4s,16s,64s,256s,1024s,4096s"));
    assert_non_null(strstr(buffer, "HOOKD_MAX_BODY"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(defaults_match_the_spec, teardown),
        cmocka_unit_test_teardown(bad_values_say_the_rule, teardown),
        cmocka_unit_test_teardown(flags_beat_env_beat_file_beat_defaults, teardown),
        cmocka_unit_test_teardown(config_flag_names_the_file, teardown),
        cmocka_unit_test_teardown(bad_values_name_the_option_and_source, teardown),
        cmocka_unit_test_teardown(unknown_file_keys_are_refused, teardown),
        cmocka_unit_test_teardown(a_long_comment_stays_a_comment, teardown),
        cmocka_unit_test_teardown(retention_and_backends_are_read, teardown),
        cmocka_unit_test_teardown(engine_options_are_read, teardown),
        cmocka_unit_test_teardown(help_lists_every_option_with_its_default, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
