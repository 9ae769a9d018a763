/* Attempt latencies kept as counts per bucket, for an endpoint's stats (§2.4): bucket i holds
 * the durations in (LATENCY_GROWTH^(i-1), LATENCY_GROWTH^i] ms, so a quantile read from the
 * counts is within a bucket's width (25 %) of the true one, whatever the spread. */
#ifndef HOOKD_CORE_LATENCY_H
#define HOOKD_CORE_LATENCY_H

#include <stdint.h>

#define LATENCY_GROWTH 1.25
/* bucket 51 ends past 88 s, above the longest timeout (60 s); longer durations go in it too */
#define LATENCY_BUCKETS 52

/* The bucket of a duration in ms (negative reads as 0). */
int latency_bucket(int64_t duration_ms);
/* The longest duration bucket i holds, in ms. */
double latency_bucket_upper_ms(int i);
/* The q-quantile (0 < q <= 1) of the counted durations, interpolated inside its bucket; -1 when
 * nothing is counted. */
double latency_quantile_ms(const int64_t counts[LATENCY_BUCKETS], double q);

#endif
