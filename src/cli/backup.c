/* `hookd backup`: a consistent copy of a SQLite database, taken while the server runs. */
#include "cli/cli.h"

#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "usage: hookd backup [--db URL] OUT\n"
    "\n"
    "Writes a consistent copy of the database to the new file OUT while hookd serve goes on.\n"
    "Restore by stopping hookd and putting the copy in the database's place.\n"
    "PostgreSQL databases are backed up with pg_dump.\n"
    "  --db URL   database (default: HOOKD_DB, else sqlite:hookd.db)\n";

int cli_backup(int argc, char **argv)
{
    const char *db = getenv("HOOKD_DB"), *out = NULL;
    struct store *st = NULL;
    struct stat info;
    struct err e;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        }
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            db = argv[++i];
        } else if (argv[i][0] != '-' && out == NULL) {
            out = argv[i];
        } else {
            fprintf(stderr, "hookd backup: unexpected argument '%s'\n\n%s", argv[i], usage);
            return 2;
        }
    }
    if (out == NULL) {
        fprintf(stderr, "hookd backup: name the file to write\n\n%s", usage);
        return 2;
    }
    if (stat(out, &info) == 0) {
        fprintf(stderr, "hookd backup: %s exists; a backup is written to a new file\n", out);
        return 1;
    }
    /* no migration: the copy is of the database as the server has it */
    if (store_open(db ? db : "sqlite:hookd.db", &(struct store_options){.must_exist = true}, &st,
                   &e) != 0 ||
        store_backup(st, out, &e) != 0) {
        fprintf(stderr, "hookd backup: %s\n", e.message);
        store_close(st);
        return 1;
    }
    store_close(st);
    if (stat(out, &info) == 0)
        printf("backed up to %s (%lld bytes)\n", out, (long long)info.st_size);
    return 0;
}
