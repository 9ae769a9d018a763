/* Retry decisions and Retry-After parsing. */
#include "engine/retry.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdlib.h>

static bool is_retryable(int status)
{
    if (status == 0)
        return true; /* connection errors and timeouts */
    if (status >= 300 && status <= 399)
        return true; /* redirects are not followed: a failure like any other */
    return status >= 500 || status == 408 || status == 425 || status == 429;
}

void retry_decide(const struct retry_input *in, struct retry_decision *out)
{
    int index = in->attempts_in_schedule - 1;
    out->delay_ms = 0;
    out->disable_gone = false;
    if (in->http_status >= 200 && in->http_status <= 299) {
        out->status = DLV_DELIVERED;
        return;
    }
    if (in->blocked || !is_retryable(in->http_status)) {
        out->status = DLV_FAILED;
        out->disable_gone = in->http_status == 410;
        return;
    }
    if (index >= in->schedule_len) {
        out->status = DLV_EXHAUSTED;
        return;
    }
    out->status = DLV_PENDING;
    out->delay_ms = in->schedule[index] + (int64_t)((double)in->schedule[index] * 0.1 * in->jitter);
    if (in->retry_after_ms > out->delay_ms && (in->http_status == 429 || in->http_status == 503)) {
        /* lengthens, never shortens, and never beyond the next-but-one delay */
        int cap_index = index + 1 < in->schedule_len ? index + 1 : in->schedule_len - 1;
        int64_t cap = in->schedule[cap_index];
        out->delay_ms = in->retry_after_ms < cap ? in->retry_after_ms : cap;
        if (out->delay_ms < in->schedule[index])
            out->delay_ms = in->schedule[index];
    }
}

bool retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms)
{
    char *end;
    if (value == NULL)
        return false;
    while (isspace((unsigned char)*value))
        value++;
    if (isdigit((unsigned char)*value)) {
        errno = 0;
        long long seconds = strtoll(value, &end, 10);
        while (isspace((unsigned char)*end))
            end++;
        if (errno != 0 || *end != '\0' || seconds > 365LL * 86400)
            return false;
        *delay_ms = seconds * 1000;
        return true;
    }
    time_t when = curl_getdate(value, NULL); /* RFC 7231 HTTP-date */
    if (when < 0)
        return false;
    *delay_ms = (int64_t)when * 1000 > now_ms ? (int64_t)when * 1000 - now_ms : 0;
    return true;
}
