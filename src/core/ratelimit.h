/* Token buckets: `rate` tokens per second, at most `burst` saved up. Pure logic; callers pass
 * the time and do their own locking. */
#ifndef HOOKD_CORE_RATELIMIT_H
#define HOOKD_CORE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct token_bucket {
    double rate;     /* tokens per second, > 0 */
    double burst;    /* capacity */
    double tokens;   /* available now */
    int64_t last_ns; /* when tokens was last brought up to date */
};

/* A full bucket at time now_ns. */
void token_bucket_init(struct token_bucket *b, double rate, double burst, int64_t now_ns);

/* Takes one token if there is one. If not, returns false and sets *retry_after_s to the whole
 * seconds (at least 1) until one is available. */
bool token_bucket_take(struct token_bucket *b, int64_t now_ns, int *retry_after_s);

#endif
