/* The request of one delivery: the fixed headers, the signature headers (§3) and the custom
 * headers of its endpoint, built without allocating on the delivery path. */
#ifndef HOOKD_ENGINE_REQUEST_H
#define HOOKD_ENGINE_REQUEST_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

/* The fixed and signature headers of one request (§3), as "Name: value" lines. */
struct sign_input {
    const char *event_id, *event_type, *delivery_id; /* delivery_id NULL: a ping, no header */
    int attempt;
    long long timestamp;
    const char *body;
    size_t body_len;
    bool hex_scheme;
    bool ed25519_scheme; /* standard headers, v1a signatures; secrets are whsk_ keys */
    const char *secret;
    const char *previous_secret; /* NULL or "" when not rotating */
    const char *custom_lines;    /* "Name: value\n" lines, or NULL */
};
/* The headers of one request, built without allocating: list nodes and text live here. */
#define HEADER_BLOCK_NODES 40
#define HEADER_BLOCK_TEXT (24 * 1024)
struct header_block {
    struct curl_slist nodes[HEADER_BLOCK_NODES];
    char text[HEADER_BLOCK_TEXT];
    size_t used;
    int count;
};
/* Fills block and returns its list (NULL-terminated through ->next). */
struct curl_slist *request_headers(const struct sign_input *in, struct header_block *block);

/* A custom headers object (JSON text, as endpoints store it) as "Name: value\n" lines;
 * NULL if there are none. free() it. */
char *header_lines_from_json(const char *json);
/* The lines of a header list, "Name: value\n" each, for the delivery log. free() it. */
char *header_lines_of(const struct curl_slist *list);

#endif
