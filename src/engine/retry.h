/* The retry policy (§4.1): what an attempt's outcome means for its delivery. Pure. */
#ifndef HOOKD_ENGINE_RETRY_H
#define HOOKD_ENGINE_RETRY_H

#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct retry_input {
    int http_status;          /* 0 when no response came */
    bool blocked;             /* the address was refused (§4.4): never retried */
    int attempts_in_schedule; /* attempts of the current schedule, this one included (>= 1) */
    const int64_t *schedule;  /* delays after attempt 1, 2, ... */
    int schedule_len;
    int64_t retry_after_ms; /* from Retry-After on 429/503, or -1 */
    double jitter;          /* uniform in [-1, 1]: the delay moves by up to 10 % */
};

struct retry_decision {
    enum delivery_status status; /* DLV_PENDING means retry after delay_ms */
    int64_t delay_ms;
    bool disable_gone; /* 410 */
};

void retry_decide(const struct retry_input *in, struct retry_decision *out);

/* Retry-After as delta-seconds or an HTTP date, relative to now_ms; false if unparseable.
 * A date in the past gives 0. */
bool retry_after_parse(const char *value, int64_t now_ms, int64_t *delay_ms);

#endif
