/* Logs: one JSON object per line on stderr, {"ts","level","msg",...fields}. Thread-safe. */
#ifndef HOOKD_CORE_LOG_H
#define HOOKD_CORE_LOG_H

#include <jansson.h>
#include <stdbool.h>

/* LOG_ALWAYS is for the few lifecycle lines (listening, stopping) that tools rely on: written
 * whatever the level, shown as "info". */
enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR, LOG_ALWAYS };

/* Sets the lowest level written (default LOG_INFO). */
void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Parses "debug", "info", "warn", "error"; returns false on anything else. */
bool log_parse_level(const char *text, enum log_level *level);

/* Writes one line. The variadic part is (const char *key, json_t *value) pairs ended by NULL;
 * each value is stolen (a NULL value is written as null). Never log secrets. */
void log_kv(enum log_level level, const char *msg, ...);

/* A duration for a log line: milliseconds, at most three decimals. */
json_t *log_ms(double ms);

#define log_info(msg, ...) log_kv(LOG_INFO, msg, __VA_ARGS__)
#define log_warn(msg, ...) log_kv(LOG_WARN, msg, __VA_ARGS__)
#define log_error(msg, ...) log_kv(LOG_ERROR, msg, __VA_ARGS__)

#endif
