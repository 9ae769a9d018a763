/* The statement helpers of the store's rules, over a driver's primitives. */
#include "store/sql.h"

#include "core/log.h"
#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct sql_driver *driver(struct sql_stmt *s)
{
    return s->conn->store->driver;
}

struct sql_stmt *sql_prepare(struct store_conn *c, const char *sql)
{
    return sql_driver_of(c)->prepare(c, sql);
}

void sql_text(struct sql_stmt *s, int i, const char *text)
{
    if (text == NULL)
        driver(s)->bind_null(s, i, SQL_TEXT);
    else
        driver(s)->bind_text(s, i, text, strlen(text));
}

void sql_text_or_null(struct sql_stmt *s, int i, const char *text)
{
    sql_text(s, i, text && *text ? text : NULL);
}

void sql_int(struct sql_stmt *s, int i, int64_t value)
{
    driver(s)->bind_int(s, i, value);
}

void sql_int_or_null(struct sql_stmt *s, int i, int64_t value)
{
    if (value == 0)
        driver(s)->bind_null(s, i, SQL_INT);
    else
        driver(s)->bind_int(s, i, value);
}

void sql_positive_double_or_null(struct sql_stmt *s, int i, double value)
{
    if (value > 0)
        driver(s)->bind_double(s, i, value);
    else
        driver(s)->bind_null(s, i, SQL_DOUBLE);
}

void sql_bytes(struct sql_stmt *s, int i, const void *data, size_t len)
{
    driver(s)->bind_bytes(s, i, data ? data : "", len);
}

void sql_bytes_or_null(struct sql_stmt *s, int i, const char *text)
{
    if (text == NULL || *text == '\0')
        driver(s)->bind_null(s, i, SQL_BYTES);
    else
        driver(s)->bind_bytes(s, i, text, strlen(text));
}

void sql_page(struct sql_stmt *s, int first, const struct page *page)
{
    if (page->has_cursor) {
        sql_int(s, first, page->before_ms);
        sql_text(s, first + 1, page->before_id);
    } else {
        driver(s)->bind_null(s, first, SQL_INT);
        driver(s)->bind_null(s, first + 1, SQL_TEXT);
    }
    sql_int(s, first + 2, page->limit + 1);
}

/* Steps to the end; the answer of the first step that is not a row. */
static int step_through(struct sql_stmt *s)
{
    int rc;
    while ((rc = driver(s)->step(s)) == SQL_ROW)
        ;
    return rc;
}

int sql_run(struct sql_stmt *s)
{
    int rc = step_through(s);
    driver(s)->reset(s);
    return rc;
}

int sql_run_later(struct sql_stmt *s)
{
    if (driver(s)->run_later)
        return driver(s)->run_later(s);
    return sql_run(s) == 0 ? 0 : ERR_FAIL;
}

struct sql_stmt *sql_prepare_rows(struct store_conn *c, const char *row_sql, const char *set_sql)
{
    const struct sql_driver *d = sql_driver_of(c);
    struct sql_stmt *s;
    if (set_sql == NULL || d->rows_begin == NULL)
        return sql_prepare(c, row_sql);
    s = sql_prepare(c, set_sql);
    if (s)
        d->rows_begin(s);
    return s;
}

int sql_rows_add(struct sql_stmt *s)
{
    return driver(s)->rows_add ? driver(s)->rows_add(s) : sql_run_later(s);
}

static int run_counting(struct sql_stmt *s, int if_none)
{
    int rc = step_through(s);
    if (rc == 0 && driver(s)->changes(s) == 0)
        rc = if_none;
    driver(s)->reset(s);
    return rc;
}

int sql_run_rows(struct sql_stmt *s, long *changed)
{
    int rc = step_through(s);
    *changed = rc == 0 ? driver(s)->changes(s) : 0;
    driver(s)->reset(s);
    return rc;
}

int sql_run_changed(struct sql_stmt *s)
{
    return run_counting(s, ERR_NOT_FOUND);
}

int sql_insert(struct sql_stmt *s)
{
    return run_counting(s, ERR_CONFLICT);
}

int sql_read_one(struct sql_stmt *s, void *out, void (*read_row)(struct sql_stmt *, void *))
{
    int rc = driver(s)->step(s);
    if (rc == SQL_ROW)
        read_row(s, out);
    driver(s)->reset(s);
    return rc == SQL_ROW ? 0 : rc == SQL_DONE ? ERR_NOT_FOUND : ERR_FAIL;
}

int sql_read_rows(struct sql_stmt *s, void *out, size_t size, int *count,
                  void (*read_row)(struct sql_stmt *, void *))
{
    int rc, n = 0;
    while ((rc = driver(s)->step(s)) == SQL_ROW)
        read_row(s, (char *)out + (size_t)n++ * size);
    driver(s)->reset(s);
    *count = n;
    return rc == SQL_DONE ? 0 : ERR_FAIL;
}

int sql_read_one_of_org(struct store_conn *c, const char *sql, const char *id, const char *org_id,
                        void *out, void (*read_row)(struct sql_stmt *, void *))
{
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, id);
    sql_text(s, 2, org_id);
    return sql_read_one(s, out, read_row);
}

int sql_read_org_page(struct store_conn *c, const char *sql, const char *org_id,
                      const struct page *page, void *out, size_t size, int *count,
                      void (*read_row)(struct sql_stmt *, void *))
{
    struct sql_stmt *s = sql_prepare(c, sql);
    if (s == NULL)
        return ERR_FAIL;
    sql_text(s, 1, org_id);
    sql_page(s, 2, page);
    return sql_read_rows(s, out, size, count, read_row);
}

int sql_read_count(struct sql_stmt *s, long *count)
{
    int rc = driver(s)->step(s);
    *count = rc == SQL_ROW ? (long)driver(s)->column_int(s, 0) : 0;
    driver(s)->reset(s);
    return rc == SQL_ROW ? 0 : ERR_FAIL;
}

void sql_col_copy(struct sql_stmt *s, int col, char *out, size_t size)
{
    size_t len;
    const char *text = driver(s)->column_text(s, col, &len);
    snprintf(out, size, "%.*s", (int)len, text);
}

char *sql_col_dup(struct sql_stmt *s, int col)
{
    size_t len;
    const char *text = driver(s)->column_text(s, col, &len);
    return xstrndup(text, len);
}

char *sql_col_dup_or_null(struct sql_stmt *s, int col)
{
    return driver(s)->column_null(s, col) ? NULL : sql_col_dup(s, col);
}

int64_t sql_col_int64(struct sql_stmt *s, int col)
{
    return driver(s)->column_int(s, col);
}

int sql_col_int(struct sql_stmt *s, int col)
{
    return (int)driver(s)->column_int(s, col);
}

double sql_col_double(struct sql_stmt *s, int col)
{
    return driver(s)->column_double(s, col);
}

char *sql_col_dup_bytes(struct sql_stmt *s, int col, size_t *len)
{
    const void *bytes = driver(s)->column_bytes(s, col, len);
    char *out = xmalloc(*len + 1);
    if (*len)
        memcpy(out, bytes, *len);
    out[*len] = '\0';
    return out;
}

void sql_col_copy_bytes_exact(struct sql_stmt *s, int col, unsigned char *out, size_t size)
{
    size_t len;
    const void *bytes = driver(s)->column_bytes(s, col, &len);
    if (len == size)
        memcpy(out, bytes, size);
    else
        memset(out, 0, size);
}

void sql_col_copy_bytes_text(struct sql_stmt *s, int col, char *out, size_t size)
{
    size_t len;
    const char *bytes = driver(s)->column_bytes(s, col, &len);
    if (len >= size)
        len = size - 1;
    memcpy(out, bytes, len);
    out[len] = '\0';
}

int64_t sql_lease_cutoff(struct store_conn *c, int64_t now)
{
    return now - c->store->lease_ms;
}
