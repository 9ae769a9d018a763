/* Allocation for the server: out of memory is not recoverable here, so these abort with a
 * log line instead of returning NULL (libhookd never uses them). */
#ifndef HOOKD_CORE_MEM_H
#define HOOKD_CORE_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
