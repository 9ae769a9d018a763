/* What the libFuzzer targets in fuzz/ share: the entry point's prototype, a check that turns a
 * broken invariant into a crash libFuzzer records, and a splitter for inputs made of pieces. */
#ifndef HOOKD_FUZZ_FUZZ_H
#define HOOKD_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An invariant of the code under test; a failure aborts, which libFuzzer saves as a crash. */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Copies data[0..size) into a new buffer with a NUL after it. Aborts on out-of-memory (libFuzzer
 * would report it anyway). The caller frees. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1);
    if (copy == NULL)
        abort();
    if (size > 0)
        memcpy(copy, data, size);
    copy[size] = '\0';
    return copy;
}

/* Cuts buf[0..len) (NUL-terminated at len) in place at the first count - 1 sep bytes: pieces[i]
 * gets the i-th NUL-terminated piece, the last piece the rest (which may hold sep and NULs; its
 * length goes to *rest_len). Pieces past the end of the input are "". */
static inline void fuzz_split(char *buf, size_t len, char sep, char **pieces, size_t count,
                              size_t *rest_len)
{
    size_t at = 0;
    for (size_t i = 0; i + 1 < count; i++) {
        char *end = at < len ? memchr(buf + at, sep, len - at) : NULL;
        pieces[i] = buf + at;
        if (end == NULL) {
            at = len;
        } else {
            *end = '\0';
            at = (size_t)(end - buf) + 1;
        }
    }
    pieces[count - 1] = buf + at;
    *rest_len = len - at;
}

#endif
