/* The per-key API rate limit (§2.1): one token bucket per key id, rate N/s, burst 2N. */
#ifndef HOOKD_API_LIMITS_H
#define HOOKD_API_LIMITS_H

#include <stdbool.h>

struct key_limits;

struct key_limits *key_limits_new(long rate_per_second);
void key_limits_free(struct key_limits *limits);

/* Takes a token for key_id; false with *retry_after_s set when the key is over its rate.
 * Thread-safe. */
bool key_limits_take(struct key_limits *limits, const char *key_id, int *retry_after_s);

#endif
