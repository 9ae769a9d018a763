/* Cursor pagination shared by every list (§2.1): newest first, ordered by (created_at, id);
 * the cursor is an opaque token holding the last item's sort key. */
#ifndef HOOKD_CORE_PAGE_H
#define HOOKD_CORE_PAGE_H

#include "core/err.h"
#include "core/id.h"

#include <stdbool.h>
#include <stdint.h>

#define PAGE_DEFAULT_LIMIT 50
#define PAGE_MAX_LIMIT 250
#define PAGE_CURSOR_MAX (2 * (24 + ID_MAX) + 1)

struct page {
    int limit;         /* items wanted, 1..250 */
    bool has_cursor;   /* false: start at the newest */
    int64_t before_ms; /* with has_cursor: items strictly older than (before_ms, before_id) */
    char before_id[ID_MAX];
};

/* Reads ?limit= and ?cursor= (either may be NULL). 400 naming the field on bad values. */
int page_parse(const char *limit, const char *cursor, struct page *out, struct err *e);

/* Writes the cursor that continues after the item (created_ms, id). */
void page_cursor(int64_t created_ms, const char *id, char out[PAGE_CURSOR_MAX]);

#endif
