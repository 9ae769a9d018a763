/* `hookd keys create`: mint an API key offline, straight into the database. */
#include "cli/cli.h"

#include "api/auth.h"
#include "store/store.h"
#include "store/writer.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: hookd keys create --name NAME (--admin | --org ORG_ID --scopes LIST) [--db URL]\n"
    "\n"
    "Mints an API key and prints it once on stdout; only its hash is stored.\n"
    "  --name NAME     what the key is for\n"
    "  --admin         an admin key (every org, organizations and keys)\n"
    "  --org ORG_ID    an org key, with --scopes: events,webhooks,sources\n"
    "  --db URL        database (default: HOOKD_DB, else sqlite:hookd.db)\n";

struct key_job {
    struct write_job job;
    struct api_key key;
    const char *error;
};

static int key_job_apply(struct store_conn *tx, struct write_job *job)
{
    struct key_job *kj = (struct key_job *)job;
    struct org org;
    if (kj->key.org_id[0] != '\0' && store_org_get(tx, kj->key.org_id, &org) != 0) {
        kj->error = "no such organization";
        return ERR_NOT_FOUND;
    }
    return store_key_insert(tx, &kj->key);
}

static void key_job_done(struct write_job *job, bool committed)
{
    (void)job;
    (void)committed;
}

static int parse_scopes(const char *list, unsigned *scopes)
{
    char name[32];
    *scopes = 0;
    while (*list) {
        size_t len = strcspn(list, ",");
        unsigned bit;
        if (len == 0 || len >= sizeof name)
            return -1;
        memcpy(name, list, len);
        name[len] = '\0';
        if (!scope_from_name(name, &bit) || bit == SCOPE_ADMIN)
            return -1;
        *scopes |= bit;
        list += len + (list[len] == ',');
    }
    return *scopes ? 0 : -1;
}

int cli_keys(int argc, char **argv)
{
    const char *db = getenv("HOOKD_DB"), *name = NULL, *org = NULL, *scope_list = NULL;
    bool admin = false;
    unsigned scopes = 0;
    struct key_job kj = {0};
    char text[KEY_TEXT_MAX];
    struct store *st;
    int rc;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc < 2 || strcmp(argv[1], "create") != 0) {
        fputs(usage, stderr);
        return 2;
    }
    for (int i = 2; i < argc; i++) {
        const char **target = NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return 0;
        } else if (strcmp(argv[i], "--admin") == 0) {
            admin = true;
            continue;
        } else if (strcmp(argv[i], "--db") == 0) {
            target = &db;
        } else if (strcmp(argv[i], "--name") == 0) {
            target = &name;
        } else if (strcmp(argv[i], "--org") == 0) {
            target = &org;
        } else if (strcmp(argv[i], "--scopes") == 0) {
            target = &scope_list;
        }
        if (target == NULL || i + 1 >= argc) {
            fprintf(stderr, "hookd keys create: %s '%s'\n\n%s",
                    target ? "missing value for" : "unknown option", argv[i], usage);
            return 2;
        }
        *target = argv[++i];
    }
    if (name == NULL || name[0] == '\0' || admin == (org != NULL) ||
        (org && (scope_list == NULL || parse_scopes(scope_list, &scopes) != 0)) ||
        (admin && scope_list)) {
        fprintf(stderr,
                "hookd keys create: give --name and either --admin or --org with "
                "--scopes (events, webhooks, sources)\n\n%s",
                usage);
        return 2;
    }
    /* a mistyped path must not get a key printed for a database nobody serves */
    st = cli_open_store(db ? db : "sqlite:hookd.db", &(struct store_options){.must_exist = true});
    if (st == NULL)
        return 1;
    auth_mint_key(org, name, admin ? SCOPE_ADMIN : scopes, &kj.key, text);
    kj.job.apply = key_job_apply;
    kj.job.done = key_job_done;
    rc = writer_run_batch(st, &kj.job);
    store_close(st);
    if (rc != 0 || kj.job.result != 0) {
        fprintf(stderr, "hookd keys create: %s\n", kj.error ? kj.error : "cannot store the key");
        OPENSSL_cleanse(text, sizeof text);
        return 1;
    }
    puts(text);
    OPENSSL_cleanse(text, sizeof text);
    return 0;
}
