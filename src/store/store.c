/* Picks the backend a database URL names. */
#include "store/store.h"

#include <string.h>

extern const struct store_ops *const store_sqlite;

int store_open(const char *url, const struct store_options *opts, struct store **out, struct err *e)
{
    const struct store_ops *backends[] = {store_sqlite};
    const char *colon = strchr(url, ':');
    size_t scheme_len = colon ? (size_t)(colon - url) : 0;

    for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++) {
        const struct store_ops *ops = backends[i];
        if (scheme_len == strlen(ops->scheme) && strncmp(url, ops->scheme, scheme_len) == 0)
            return ops->open(colon + 1, opts, out, e);
    }
    return err_invalid(e, "db", "unsupported database URL '%.60s' (expected sqlite:PATH)", url);
}

void store_close(struct store *st)
{
    if (st)
        st->ops->close(st);
}
