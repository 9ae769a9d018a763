/* Request headers and signatures (see request.h). */
#include "engine/request.h"

#include "core/mem.h"
#include "hookd/hookd.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Appends "name: value" (or a preformatted line when value is NULL) to the block; built with
 * memcpy, as a dozen snprintf calls per request showed in the delivery thread's profile. */
static void add_header(struct header_block *b, const char *name, const char *value)
{
    size_t room = sizeof b->text - b->used, name_len = strlen(name);
    size_t value_len = value ? strlen(value) : 0, n = name_len + (value ? 2 + value_len : 0);
    char *at = b->text + b->used;
    if (n >= room || b->count == HEADER_BLOCK_NODES)
        return; /* cannot happen within the limits on custom headers */
    memcpy(at, name, name_len);
    if (value) {
        memcpy(at + name_len, ": ", 2);
        memcpy(at + name_len + 2, value, value_len);
    }
    at[n] = '\0';
    b->nodes[b->count].data = at;
    b->nodes[b->count].next = NULL;
    if (b->count > 0)
        b->nodes[b->count - 1].next = &b->nodes[b->count];
    b->count++;
    b->used += n + 1;
}

char *header_lines_from_json(const char *json)
{
    json_t *headers = json ? json_loads(json, 0, NULL) : NULL;
    const char *name;
    json_t *value;
    char *lines = NULL;
    size_t used = 0;
    json_object_foreach(headers, name, value)
    {
        const char *text = json_string_value(value);
        size_t add;
        if (text == NULL)
            continue;
        add = strlen(name) + strlen(text) + 3;
        lines = xrealloc(lines, used + add + 1);
        used += (size_t)snprintf(lines + used, add + 1, "%s: %s\n", name, text);
    }
    json_decref(headers);
    return lines;
}

char *header_lines_of(const struct curl_slist *list)
{
    size_t size = 1, used = 0;
    char *text;
    for (const struct curl_slist *l = list; l; l = l->next)
        size += strlen(l->data) + 1;
    text = xmalloc(size);
    for (const struct curl_slist *l = list; l; l = l->next) {
        size_t len = strlen(l->data);
        if (l->data[len - 1] == ':')
            continue; /* "Expect:" removes a header; nothing was sent */
        memcpy(text + used, l->data, len);
        text[used + len] = '\n';
        used += len + 1;
    }
    text[used] = '\0';
    return text;
}

struct curl_slist *request_headers(const struct sign_input *in, struct header_block *b)
{
    char sig[HOOKD_SIGNATURE_MAX], old[HOOKD_SIGNATURE_MAX], both[2 * HOOKD_SIGNATURE_MAX + 2];
    char number[32], line[2048];
    bool rotating = in->previous_secret && in->previous_secret[0];

    b->used = 0;
    b->count = 0;
    for (const char *p = in->custom_lines; p && *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len < sizeof line) {
            memcpy(line, p, len);
            line[len] = '\0';
            add_header(b, line, NULL);
        }
        p += len + (end != NULL);
    }
    add_header(b, "Content-Type", "application/json");
    add_header(b, "User-Agent", "hookd/" HOOKD_VERSION_STRING);
    add_header(b, "X-Webhook-Event", in->event_type);
    if (in->delivery_id)
        add_header(b, "X-Webhook-Delivery", in->delivery_id);
    snprintf(number, sizeof number, "%d", in->attempt);
    add_header(b, "X-Webhook-Attempt", number);
    snprintf(number, sizeof number, "%lld", in->timestamp);
    if (in->hex_scheme) {
        hookd_sign_hex(in->secret, in->timestamp, in->body, in->body_len, sig, sizeof sig);
        if (rotating)
            hookd_sign_hex(in->previous_secret, in->timestamp, in->body, in->body_len, old,
                           sizeof old);
        snprintf(both, sizeof both, "%s%s%s", sig, rotating ? "," : "", rotating ? old : "");
        add_header(b, "X-Webhook-Signature", both);
        add_header(b, "X-Webhook-Timestamp", number);
    } else {
        /* v1 (HMAC) and v1a (Ed25519) share the headers and the signed content */
        hookd_status (*sign)(const char *, const char *, long long, const void *, size_t, char *,
                             size_t) =
            in->ed25519_scheme ? hookd_sign_ed25519 : hookd_sign_standard;
        sign(in->secret, in->event_id, in->timestamp, in->body, in->body_len, sig, sizeof sig);
        if (rotating)
            sign(in->previous_secret, in->event_id, in->timestamp, in->body, in->body_len, old,
                 sizeof old);
        snprintf(both, sizeof both, "%s%s%s", sig, rotating ? " " : "", rotating ? old : "");
        add_header(b, "webhook-id", in->event_id);
        add_header(b, "webhook-timestamp", number);
        add_header(b, "webhook-signature", both);
    }
    /* no 100-continue round trip before the body, and no Accept nobody asked for */
    add_header(b, "Expect:", NULL);
    add_header(b, "Accept:", NULL);
    return b->count ? &b->nodes[0] : NULL;
}
