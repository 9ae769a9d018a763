/* JSON-lines logger on stderr. */
#include "core/log.h"

#include "core/timeutil.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum log_level min_level = LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error", "info"};

void log_set_level(enum log_level level)
{
    min_level = level;
}

bool log_enabled(enum log_level level)
{
    return level >= min_level;
}

bool log_parse_level(const char *text, enum log_level *level)
{
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcmp(text, level_names[i]) == 0) {
            *level = (enum log_level)i;
            return true;
        }
    }
    return false;
}

void log_kv(enum log_level level, const char *msg, ...)
{
    char ts[TIME_RFC3339_LEN];
    json_t *line;
    const char *key;
    va_list ap;

    va_start(ap, msg);
    if (!log_enabled(level)) {
        /* the values are owned by us either way */
        while ((key = va_arg(ap, const char *)) != NULL)
            json_decref(va_arg(ap, json_t *));
        va_end(ap);
        return;
    }
    time_format_rfc3339(time_now_ms(), ts);
    line = json_object();
    json_object_set_new(line, "ts", json_string(ts));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "msg", json_string(msg));
    while ((key = va_arg(ap, const char *)) != NULL) {
        json_t *value = va_arg(ap, json_t *);
        json_object_set_new(line, key, value ? value : json_null());
    }
    va_end(ap);

    /* 15 digits: a value rounded as log_ms rounds prints as such (17 show its binary tail) */
    char *text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15));
    json_decref(line);
    if (text == NULL)
        return;
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: one write() keeps lines whole across threads */
    ssize_t unused = write(STDERR_FILENO, text, len + 1);
    (void)unused;
    free(text);
}

json_t *log_ms(double ms)
{
    return json_real(round(ms * 1000) / 1000);
}
