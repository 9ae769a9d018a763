/* Pagination cursors: hex of "created_ms:id", opaque to clients but trivial to check. */
#include "core/page.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void page_cursor(int64_t created_ms, const char *id, char out[PAGE_CURSOR_MAX])
{
    char plain[24 + ID_MAX];
    int n = snprintf(plain, sizeof plain, "%lld:%s", (long long)created_ms, id);
    hex_encode((const unsigned char *)plain, (size_t)n, out);
}

static bool cursor_decode(const char *text, struct page *out)
{
    unsigned char plain[24 + ID_MAX];
    char *end;
    long n = hex_decode(text, plain, sizeof plain - 1);
    if (n <= 0)
        return false;
    plain[n] = '\0';
    if (memchr(plain, '\0', (size_t)n) != NULL)
        return false;
    errno = 0;
    long long ms = strtoll((const char *)plain, &end, 10);
    if (errno != 0 || end == (char *)plain || *end != ':' || ms < 0)
        return false;
    size_t id_len = strlen(end + 1);
    if (id_len == 0 || id_len >= ID_MAX)
        return false;
    out->before_ms = ms;
    memcpy(out->before_id, end + 1, id_len + 1);
    return true;
}

int page_parse(const char *limit, const char *cursor, struct page *out, struct err *e)
{
    memset(out, 0, sizeof *out);
    out->limit = PAGE_DEFAULT_LIMIT;
    if (limit != NULL) {
        char *end;
        errno = 0;
        long value = strtol(limit, &end, 10);
        if (errno != 0 || end == limit || *end != '\0' || value < 1 || value > PAGE_MAX_LIMIT)
            return err_invalid(e, "limit", "limit must be an integer from 1 to %d", PAGE_MAX_LIMIT);
        out->limit = (int)value;
    }
    if (cursor != NULL && cursor[0] != '\0') {
        if (!cursor_decode(cursor, out))
            return err_invalid(e, "cursor", "cursor is not one this server handed out");
        out->has_cursor = true;
    }
    return 0;
}
