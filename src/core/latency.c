/* Latency buckets and their quantiles (latency.h). */
#include "core/latency.h"

#include <math.h>

int latency_bucket(int64_t duration_ms)
{
    int i = 0;
    double upper = 1;
    while (i < LATENCY_BUCKETS - 1 && (double)duration_ms > upper) {
        upper *= LATENCY_GROWTH;
        i++;
    }
    return i;
}

double latency_bucket_upper_ms(int i)
{
    return pow(LATENCY_GROWTH, i);
}

double latency_quantile_ms(const int64_t counts[LATENCY_BUCKETS], double q)
{
    int64_t total = 0, below = 0;
    for (int i = 0; i < LATENCY_BUCKETS; i++)
        total += counts[i];
    if (total == 0)
        return -1;
    /* the rank of the quantile among the durations, 1-based: the smallest covering q */
    double rank = ceil(q * (double)total);
    for (int i = 0; i < LATENCY_BUCKETS; i++) {
        if (counts[i] == 0 || (double)(below + counts[i]) < rank) {
            below += counts[i];
            continue;
        }
        double lower = i == 0 ? 0 : latency_bucket_upper_ms(i - 1);
        double upper = latency_bucket_upper_ms(i);
        /* the rank's place among the bucket's durations, spread evenly over its width */
        return lower + (upper - lower) * (rank - (double)below) / (double)counts[i];
    }
    return latency_bucket_upper_ms(LATENCY_BUCKETS - 1);
}
