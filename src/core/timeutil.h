/* Wall-clock time in milliseconds, RFC 3339 formatting and parsing, durations. */
#ifndef HOOKD_CORE_TIMEUTIL_H
#define HOOKD_CORE_TIMEUTIL_H

#include <stdbool.h>
#include <stdint.h>

#define TIME_RFC3339_LEN 25 /* "2026-04-24T18:30:00.000Z" + NUL */

/* Milliseconds since the Unix epoch (CLOCK_REALTIME). */
int64_t time_now_ms(void);
/* Monotonic nanoseconds, for durations. */
int64_t time_mono_ns(void);

/* Formats ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out[TIME_RFC3339_LEN]. */
void time_format_rfc3339(int64_t ms, char out[TIME_RFC3339_LEN]);

/* Parses an RFC 3339 timestamp (any offset, optional fraction) into ms. Returns false if the
 * text is not one. */
bool time_parse_rfc3339(const char *text, int64_t *ms);

/* Parses "250ms", "15s", "5m", "2h", "30d" into ms; a bare number is seconds. Returns false on
 * anything else, negative values or overflow. */
bool time_parse_duration(const char *text, int64_t *ms);

#endif
