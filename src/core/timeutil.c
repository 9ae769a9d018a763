/* Time helpers: clocks, RFC 3339, durations. */
#include "core/timeutil.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void time_format_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN])
{
    time_t secs = (time_t)(ms / 1000);
    int millis = (int)(ms % 1000);
    struct tm tm;
    if (millis < 0) {
        millis += 1000;
        secs -= 1;
    }
    gmtime_r(&secs, &tm);
    char text[64]; /* roomy enough for any int the compiler can imagine */
    snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
    memcpy(out, text, TIME_RFC3339_LEN - 1); /* years 0..9999 always give 24 characters */
    out[TIME_RFC3339_LEN - 1] = '\0';
}

/* Reads exactly n digits at *p into *value and advances *p. */
static bool read_digits(const char **p, int n, int *value)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *value = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

static int days_in_month(int year, int month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    return month == 2 && leap ? 29 : days[month - 1];
}

bool time_parse_rfc3339(const char *text, int64_t *ms)
{
    const char *p = text;
    int year, month, day, hour, minute, second, millis = 0;
    struct tm tm = {0};

    if (text == NULL)
        return false;
    if (!read_digits(&p, 4, &year) || !expect(&p, '-') || !read_digits(&p, 2, &month) ||
        !expect(&p, '-') || !read_digits(&p, 2, &day))
        return false;
    if (*p != 'T' && *p != 't')
        return false;
    p++;
    if (!read_digits(&p, 2, &hour) || !expect(&p, ':') || !read_digits(&p, 2, &minute) ||
        !expect(&p, ':') || !read_digits(&p, 2, &second))
        return false;
    if (*p == '.') {
        int scale = 100, digits = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (digits < 3)
                millis += (*p - '0') * scale;
            scale /= 10;
            digits++;
            p++;
        }
        if (digits == 0)
            return false;
    }
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
        minute > 59 || second > 60)
        return false;

    int offset_minutes = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1, oh, om;
        p++;
        if (!read_digits(&p, 2, &oh) || !expect(&p, ':') || !read_digits(&p, 2, &om) || oh > 23 ||
            om > 59)
            return false;
        offset_minutes = sign * (oh * 60 + om);
    } else {
        return false;
    }
    if (*p != '\0')
        return false;

    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    int64_t secs = (int64_t)timegm(&tm) - (int64_t)offset_minutes * 60;
    *ms = secs * 1000 + millis;
    return true;
}

bool time_parse_duration(const char *text, int64_t *ms)
{
    char *end;
    long long value;
    int64_t unit;

    if (text == NULL || !isdigit((unsigned char)text[0]))
        return false;
    errno = 0;
    value = strtoll(text, &end, 10);
    if (errno != 0)
        return false;
    if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "s") == 0 || *end == '\0')
        unit = 1000;
    else if (strcmp(end, "m") == 0)
        unit = 60 * 1000;
    else if (strcmp(end, "h") == 0)
        unit = 3600 * 1000;
    else if (strcmp(end, "d") == 0)
        unit = 86400 * 1000;
    else
        return false;
    if (value > INT64_MAX / unit)
        return false;
    *ms = value * unit;
    return true;
}
