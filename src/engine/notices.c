/* Operational notices (see notices.h). */
#include "engine/notices.h"

#include "core/eventname.h"
#include "core/mem.h"
#include "engine/fanout.h"

#include <stdlib.h>
#include <string.h>

bool notice_pattern_is_known(const char *pattern)
{
    static const char *const types[] = {NOTICE_ENDPOINT_DISABLED, NOTICE_ENDPOINT_ENABLED,
                                        NOTICE_DELIVERY_EXHAUSTED, NOTICE_SOURCE_FAILING};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (event_pattern_matches(pattern, types[i]))
            return true;
    return false;
}

/* Whether the org has a notice's receiver: an active operational endpoint taking type that the
 * notice is not about. */
static int wants_notice(struct store_conn *tx, const char *org_id, const char *about_endpoint,
                        const char *type, bool *wanted)
{
    const struct fanout_list *list;
    int rc = store_endpoint_fanout(tx, org_id, &list);
    *wanted = false;
    for (int i = 0; rc == 0 && i < list->count; i++) {
        const struct fanout_target *t = &list->items[i];
        if (!t->operational)
            continue;
        if (about_endpoint && strcmp(t->id, about_endpoint) == 0) {
            *wanted = false;
            return 0;
        }
        *wanted = *wanted || event_filter_matches(t->events, type);
    }
    return rc;
}

int notice_store(struct store_conn *tx, struct notices *n, const char *org_id,
                 const char *about_endpoint, const char *type, json_t *data, const char *node_id)
{
    struct fanout *f;
    struct err e;
    bool wanted;
    char *text;
    int rc = wants_notice(tx, org_id, about_endpoint, type, &wanted);

    if (rc != 0 || !wanted) {
        json_decref(data);
        return rc;
    }
    text = json_dumps(data, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(data);
    if (text == NULL)
        return ERR_FAIL;
    f = fanout_new(org_id, NULL, type, text);
    free(text);
    fanout_set_operational(f);
    if ((rc = fanout_store(tx, f, node_id, &e)) != 0) {
        fanout_free(f);
        return rc;
    }
    if (n->count == n->cap) {
        n->cap = n->cap ? n->cap * 2 : 4;
        n->items = xrealloc(n->items, (size_t)n->cap * sizeof *n->items);
    }
    n->items[n->count++] = f;
    return 0;
}

void notices_hand_off(struct notices *n, struct engine *eng)
{
    for (int i = 0; i < n->count; i++)
        fanout_hand_off(n->items[i], eng);
    notices_free(n);
}

void notices_free(struct notices *n)
{
    for (int i = 0; i < n->count; i++)
        fanout_free(n->items[i]);
    free(n->items);
    memset(n, 0, sizeof *n);
}
