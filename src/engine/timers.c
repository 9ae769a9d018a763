/* The timer heap: a binary min-heap on due. */
#include "engine/timers.h"

#include "core/mem.h"

#include <stdlib.h>

static void swap(struct timer_heap *h, int a, int b)
{
    struct timer t = h->items[a];
    h->items[a] = h->items[b];
    h->items[b] = t;
}

void timer_push(struct timer_heap *h, int64_t due, struct engine_job *job,
                struct sched_endpoint *ep)
{
    int i;
    if (h->count == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->items = xrealloc(h->items, (size_t)h->cap * sizeof *h->items);
    }
    i = h->count++;
    h->items[i] = (struct timer){due, job, ep};
    while (i > 0 && h->items[(i - 1) / 2].due > h->items[i].due) {
        swap(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

struct timer timer_pop(struct timer_heap *h)
{
    struct timer top = h->items[0];
    int i = 0;
    h->items[0] = h->items[--h->count];
    for (;;) {
        int left = 2 * i + 1, right = left + 1, least = i;
        if (left < h->count && h->items[left].due < h->items[least].due)
            least = left;
        if (right < h->count && h->items[right].due < h->items[least].due)
            least = right;
        if (least == i)
            break;
        swap(h, i, least);
        i = least;
    }
    return top;
}

int64_t timer_next_due(const struct timer_heap *h)
{
    return h->count > 0 ? h->items[0].due : INT64_MAX;
}

void timer_heap_free(struct timer_heap *h)
{
    free(h->items);
    h->items = NULL;
    h->count = h->cap = 0;
}
