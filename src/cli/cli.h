/* The commands of the hookd program (§5). Each returns the process exit code: 0 success,
 * 1 failure, 2 usage error. argv[0] is the command's name. */
#ifndef HOOKD_CLI_CLI_H
#define HOOKD_CLI_CLI_H

#include <stdbool.h>
#include <stdint.h>

int cli_serve(int argc, char **argv);
int cli_keys(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_sign(int argc, char **argv);
int cli_verify(int argc, char **argv);

struct store_options;
/* Opens the database of url and brings its schema up to date; prints errors. NULL on failure. */
struct store *cli_open_store(const char *url, const struct store_options *opts);

#endif
