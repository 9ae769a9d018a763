/* struct err helpers. */
#include "core/err.h"
#include "core/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static void err_vset(struct err *e, int status, const char *code, const char *field,
                     const char *fmt, va_list ap)
{
    if (e == NULL)
        return;
    e->status = status;
    text_copy(e->code, sizeof e->code, code);
    text_copy(e->field, sizeof e->field, field ? field : "");
    vsnprintf(e->message, sizeof e->message, fmt, ap);
}

int err_set(struct err *e, int status, const char *code, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, status, code, field, fmt, ap);
    va_end(ap);
    return ERR_FAIL;
}

int err_invalid(struct err *e, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, 400, "validation_error", field, fmt, ap);
    va_end(ap);
    return ERR_FAIL;
}

int err_internal(struct err *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, 500, "internal_error", NULL, fmt, ap);
    va_end(ap);
    return ERR_FAIL;
}
