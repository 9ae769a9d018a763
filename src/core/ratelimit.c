/* Token bucket arithmetic. */
#include "core/ratelimit.h"

#include <math.h>

void token_bucket_init(struct token_bucket *b, double rate, double burst, int64_t now_ns)
{
    b->rate = rate;
    b->burst = burst;
    b->tokens = burst;
    b->last_ns = now_ns;
}

bool token_bucket_take(struct token_bucket *b, int64_t now_ns, int *retry_after_s)
{
    if (now_ns > b->last_ns) {
        b->tokens += (double)(now_ns - b->last_ns) / 1e9 * b->rate;
        if (b->tokens > b->burst)
            b->tokens = b->burst;
        b->last_ns = now_ns;
    }
    if (b->tokens >= 1.0) {
        b->tokens -= 1.0;
        return true;
    }
    if (retry_after_s) {
        double wait = ceil((1.0 - b->tokens) / b->rate);
        *retry_after_s = wait < 1.0 ? 1 : (int)wait;
    }
    return false;
}
