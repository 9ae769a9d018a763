/* `hookd migrate`: apply pending schema migrations and report the version. */
#include "cli/cli.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] = "usage: hookd migrate [--db URL]\n"
                            "\n"
                            "Applies pending schema migrations (hookd serve also does on start).\n"
                            "  --db URL   database (default: HOOKD_DB, else sqlite:hookd.db)\n";

int cli_migrate(int argc, char **argv)
{
    const char *db = getenv("HOOKD_DB");
    int current, latest;
    struct store *st;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
            continue;
        }
        fprintf(stderr, "hookd migrate: unknown option '%s'\n\n%s", argv[i], usage);
        return 2;
    }
    st = cli_open_store(db ? db : "sqlite:hookd.db", &(struct store_options){0});
    if (st == NULL)
        return 1;
    if (store_schema_version(st, &current, &latest) != 0) {
        store_close(st);
        return 1;
    }
    printf("schema version %d of %d\n", current, latest);
    store_close(st);
    return 0;
}
