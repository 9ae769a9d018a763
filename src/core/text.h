/* Small string helpers for fixed-size buffers. */
#ifndef HOOKD_CORE_TEXT_H
#define HOOKD_CORE_TEXT_H

#include <stddef.h>
#include <string.h>

/* Copies src (NULL reads as "") into dst[size], size > 0, cut short if it does not fit and
 * always terminated: snprintf(dst, size, "%s", src) without the formatting, which showed in the
 * profiles of the hot paths. Returns dst. */
static inline char *text_copy(char *dst, size_t size, const char *src)
{
    size_t len = src ? strnlen(src, size - 1) : 0;
    memmove(dst, src ? src : "", len);
    dst[len] = '\0';
    return dst;
}

/* FNV-1a of a string: the slot of an id in the small hash tables of the caches. */
static inline unsigned text_hash(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

/* True if word is one of the space-separated words of list ("limit cursor org_id"). */
static inline int text_word_in(const char *word, const char *list)
{
    size_t len = strlen(word);
    if (len == 0)
        return 0;
    for (const char *at = list; (at = strstr(at, word)) != NULL; at += len)
        if ((at == list || at[-1] == ' ') && (at[len] == ' ' || at[len] == '\0'))
            return 1;
    return 0;
}

#endif
