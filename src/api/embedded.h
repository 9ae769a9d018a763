/* Files compiled into the server by src/api/embed.sh (the Makefile): the dashboard's pages and the
 * OpenAPI document. */
#ifndef HOOKD_API_EMBEDDED_H
#define HOOKD_API_EMBEDDED_H

#include <stddef.h>

struct embedded_file {
    const char *name; /* its path below web/ */
    const unsigned char *data;
    size_t len;
};

/* The files of web/, ended by a NULL name. */
extern const struct embedded_file web_files[];
/* src/api/openapi.json as its one entry "openapi.json", ended by a NULL name. */
extern const struct embedded_file api_openapi[];

/* The file of that name in table, or NULL. */
const struct embedded_file *embedded_find(const struct embedded_file *table, const char *name);

#endif
