/* The producer's own bytes of a member of a JSON object, for the ingest path: the stored
 * envelope keeps `data` as it was sent, made compact (no re-serialization: 0.1 stays 0.1, and
 * jansson's dump is not paid for). Only for a document jansson has already accepted (with
 * JSON_REJECT_DUPLICATES); fuzz/fuzz_jsonspan.c holds it against jansson. */
#ifndef HOOKD_CORE_JSONSPAN_H
#define HOOKD_CORE_JSONSPAN_H

#include <stdbool.h>
#include <stddef.h>

/* Finds the top-level member `name` of the object in doc[0..len): true with the value's bytes
 * at doc[*start .. *start + *value_len), false when the object has no such member. */
bool json_member_span(const char *doc, size_t len, const char *name, size_t *start,
                      size_t *value_len);

/* Copies the valid JSON text src[0..len) into out without the white space between tokens
 * (out has room for len bytes); returns the length written. Strings are copied as they are. */
size_t json_compact_copy(const char *src, size_t len, char *out);

#endif
