/* Fuzzes `hookd serve`'s option parsing (§8): the input as a --config file (written to a temp file
 * of this process, as config_load reads a path), then its lines as flags and as HOOKD_*
 * environment entries. */
#include "fuzz.h"

#include "core/config.h"

#include <fcntl.h>
#include <unistd.h>

#define MAX_LINES 64

static char config_path[64];

static void remove_config_file(void)
{
    unlink(config_path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(config_path, sizeof config_path, "/tmp/hookd-fuzz-config-%ld.conf", (long)getpid());
    atexit(remove_config_file);
    return 0;
}

static void write_config(const uint8_t *data, size_t size)
{
    int fd = open(config_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    size_t done = 0;

    if (fd < 0) {
        perror(config_path);
        abort();
    }
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            perror(config_path);
            abort();
        }
        done += (size_t)n;
    }
    if (close(fd) != 0) {
        perror(config_path);
        abort();
    }
}

/* A loaded config obeys what validate() promises. */
static void check_loaded(const struct config *cfg)
{
    FUZZ_CHECK(strchr(cfg->listen, ':') != NULL);
    FUZZ_CHECK((strncmp(cfg->db, "sqlite:", 7) == 0 && cfg->db[7] != '\0') ||
               strncmp(cfg->db, "postgres://", 11) == 0 ||
               strncmp(cfg->db, "postgresql://", 13) == 0);
    FUZZ_CHECK(cfg->retry_count >= 1 && cfg->retry_count <= CONFIG_MAX_RETRIES);
    for (int i = 0; i < cfg->retry_count; i++)
        FUZZ_CHECK(cfg->retry_schedule_ms[i] > 0);
    FUZZ_CHECK(cfg->max_body >= 1024 && cfg->max_body <= 64L * 1024 * 1024);
    FUZZ_CHECK(cfg->admin_key[0] == '\0' || strlen(cfg->admin_key) >= 16);
    FUZZ_CHECK((cfg->tls_cert[0] == '\0') == (cfg->tls_key[0] == '\0'));
}

static void load(int argc, char **argv, char **env)
{
    struct config cfg;
    struct err e = {0};

    config_defaults(&cfg);
    if (config_load(&cfg, argc, argv, env, &e) == 0)
        check_loaded(&cfg);
    else
        FUZZ_CHECK(e.status == 400 && e.message[0] != '\0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *argv[MAX_LINES + 3] = {"--config", config_path, NULL}, *env[MAX_LINES + 1] = {NULL};
    char *text, *line;
    int count = 0;

    write_config(data, size);
    load(2, argv, env);

    /* the same lines as flags ("--listen=..." or "--listen", "...") and as environment entries
     * ("HOOKD_LISTEN=..."); the file is not read again */
    text = fuzz_strndup(data, size);
    line = text;
    while (line != NULL && count < MAX_LINES) {
        char *newline = strchr(line, '\n');
        if (newline != NULL)
            *newline = '\0';
        /* naming another config file could make the parser read /dev/zero or any file */
        if (strcmp(line, "--config") != 0 && strncmp(line, "--config=", 9) != 0 &&
            strncmp(line, "HOOKD_CONFIG=", 13) != 0) {
            argv[count] = line;
            env[count] = line;
            count++;
        }
        line = newline != NULL ? newline + 1 : NULL;
    }
    argv[count] = NULL;
    env[count] = NULL;
    load(count, argv, env);
    load(0, argv, env);
    free(text);
    return 0;
}
