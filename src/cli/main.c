/* hookd: the command-line entry point; picks the command. */
#include "cli/cli.h"

#include "core/log.h"
#include "hookd/hookd.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "usage: hookd <command> [options]\n"
    "\n"
    "commands:\n"
    "  serve         run the server (hookd serve --help lists every option)\n"
    "  keys create   mint an API key offline (admin or org)\n"
    "  migrate       bring the database schema up to date\n"
    "  backup        copy a SQLite database consistently while the server runs\n"
    "  sign          sign a body from stdin and print the webhook headers\n"
    "  verify        verify a webhook's signature (body on stdin, exit code 0 = valid)\n"
    "  version       print the version\n"
    "\n"
    "Each command takes --help.\n";

struct store *cli_open_store(const char *url, const struct store_options *opts)
{
    struct store *st = NULL;
    struct err e;
    int applied, current, latest;

    if (store_open(url, opts, &st, &e) != 0) {
        fprintf(stderr, "hookd: %s\n", e.message);
        return NULL;
    }
    if (store_migrate(st, &applied, &e) != 0) {
        fprintf(stderr, "hookd: %s\n", e.message);
        store_close(st);
        return NULL;
    }
    if (applied > 0 && store_schema_version(st, &current, &latest) == 0)
        log_info("migrated", "applied", json_integer(applied), "schema_version",
                 json_integer(current), NULL);
    return st;
}

static int is_help(const char *arg)
{
    return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(argv[1], "serve") == 0)
        return cli_serve(argc - 1, argv + 1);
    if (strcmp(argv[1], "keys") == 0)
        return cli_keys(argc - 1, argv + 1);
    if (strcmp(argv[1], "migrate") == 0)
        return cli_migrate(argc - 1, argv + 1);
    if (strcmp(argv[1], "backup") == 0)
        return cli_backup(argc - 1, argv + 1);
    if (strcmp(argv[1], "sign") == 0)
        return cli_sign(argc - 1, argv + 1);
    if (strcmp(argv[1], "verify") == 0)
        return cli_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        if (argc > 2 && is_help(argv[2])) {
            puts("usage: hookd version\n\nPrints the version of hookd and of libhookd.");
            return 0;
        }
        if (argc > 2) {
            fprintf(stderr, "hookd version: unexpected argument '%s'\n", argv[2]);
            return 2;
        }
        printf("hookd %s (libhookd %s)\n", HOOKD_VERSION_STRING, hookd_version());
        return 0;
    }
    fprintf(stderr, "hookd: unknown command '%s'\n\n%s", argv[1], usage);
    return 2;
}
