/* Payload filters (issue 17): an endpoint's small declarative match over the envelope
 * ({id, type, timestamp, data}), compiled once into a tree and matched against each event. */
#ifndef HOOKD_CORE_FILTER_H
#define HOOKD_CORE_FILTER_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>

#define FILTER_MAX_BYTES 4096 /* serialized, compact */
#define FILTER_MAX_DEPTH 8    /* filters nested in $and / $or, the outermost counting 1 */
#define FILTER_MAX_ITEMS 100  /* in one $in, $nin, $and or $or */
#define FILTER_MAX_PATH 200   /* bytes of a dotted path */

struct filter;

/* Compiles spec (an object: {"data.amount": {"$gte": 100}, "$or": [...], ...}) into a matcher
 * the caller frees with filter_free. On a fault returns NULL with e filled: 400
 * validation_error on field "filter", the message naming the path and the operator. The
 * compiled filter keeps no reference to spec. */
struct filter *filter_compile(const json_t *spec, struct err *e);

/* Does envelope (the parsed envelope object) match f? Pure; f may be shared between threads. */
bool filter_matches(const struct filter *f, const json_t *envelope);

/* NULL is a no-op. */
void filter_free(struct filter *f);

/* Compiles the stored text of a filter (compact JSON, as the API wrote it); NULL when it does
 * not parse or compile, which the API never lets happen. */
struct filter *filter_compile_text(const char *text);

#endif
