/* Event type names and subscription filters (§2.3): names are [a-z0-9_]+(\.[a-z0-9_]+)*, at most
 * 100 characters; a filter entry is a name or `prefix.*`, matching every name that starts with
 * `prefix.` at any depth. */
#ifndef HOOKD_CORE_EVENTNAME_H
#define HOOKD_CORE_EVENTNAME_H

#include <stdbool.h>
#include <stddef.h>

#define EVENT_NAME_MAX 100

bool event_name_is_valid(const char *name);
/* A name, or a valid name followed by ".*". */
bool event_pattern_is_valid(const char *pattern);
/* The prefix of a wildcard pattern (without ".*") into out, or false for an exact name. */
bool event_pattern_prefix(const char *pattern, char *out, size_t out_size);
bool event_pattern_matches(const char *pattern, const char *type);

/* Does a stored filter (a compact JSON array of valid patterns, as hookd writes it; "[]" = all)
 * match type? Scans the text without a JSON parser: patterns never hold quotes or escapes. */
bool event_filter_matches(const char *filter_json, const char *type);

#endif
