/* The HTTP server: libmicrohttpd glue. It reads each request (bounded by max_body), hands it
 * to one dispatch function, sends what the handler answered, and logs one line per request.
 * A handler may answer later from another thread: http_defer, then http_reply_*, then
 * http_resume. */
#ifndef HOOKD_HTTP_SERVER_H
#define HOOKD_HTTP_SERVER_H

#include "core/err.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct http_request;
typedef void (*http_dispatch_fn)(struct http_request *req, void *app);

struct http_options {
    const char *listen; /* "ADDR:PORT"; port 0 picks a free one */
    size_t max_body;
    const char *tls_cert_pem, *tls_key_pem; /* both NULL: plain HTTP */
    http_dispatch_fn dispatch;
    void *app;
    unsigned threads;
    bool bound; /* listen_fd was bound by http_bind, at listen_port; else http_start binds */
    int listen_fd, listen_port;
};

struct http_server;

/* Binds listen ("ADDR:PORT") ahead of http_start, so that a port in use is known before the
 * server creates anything: the socket, with *port the port bound, or -1 with e filled. */
int http_bind(const char *listen, int *port, struct err *e);
/* Binds (unless opts->bound) and starts serving; NULL with e filled on failure. */
struct http_server *http_start(const struct http_options *opts, struct err *e);
/* Serves new connections with a new certificate and key (PEM), on the same socket, without a
 * restart; connections already open go on with the old pair until they end. Non-zero, with e
 * filled, when the new pair cannot be used: the old one stays. */
int http_reload_tls(struct http_server *srv, const char *cert_pem, const char *key_pem,
                    struct err *e);
/* The port actually bound (useful with port 0). */
int http_port(const struct http_server *srv);
/* Closes every connection and frees srv; NULL is a no-op. */
void http_stop(struct http_server *srv);

/* Request accessors; strings live as long as the request. */
const char *http_method(const struct http_request *req);
const char *http_path(const struct http_request *req);
const char *http_header(const struct http_request *req, const char *name);
const char *http_query(const struct http_request *req, const char *name);
/* The first query parameter whose name is not one of the space-separated words of known, or
 * NULL when every one is. */
const char *http_query_unknown(const struct http_request *req, const char *known);
const char *http_body(const struct http_request *req, size_t *len);
/* The body was over the limit and dropped (the answer is already a 413 unless replaced). */
bool http_body_too_large(const struct http_request *req);
/* Every request header as "Name: value\n" lines, the values of the names in redact (a
 * NULL-terminated list, compared case-insensitively) replaced by "[redacted]". free() it. */
char *http_header_lines(const struct http_request *req, const char *const *redact);

/* Per-request data of the dispatcher, freed with free_fn when the request ends. */
void http_set_data(struct http_request *req, void *data, void (*free_fn)(void *));
void *http_data(const struct http_request *req);
/* Key id shown in the request log line ("" by default). */
void http_set_log_key(struct http_request *req, const char *key_id);

/* The status answered so far; 0 before an answer. */
int http_status(const struct http_request *req);

/* Answers: the last call before the handler returns (or before http_resume) wins. */
void http_reply_json(struct http_request *req, int status, json_t *body);
void http_reply_text(struct http_request *req, int status, const char *content_type,
                     const char *body, size_t len);
void http_reply_error(struct http_request *req, const struct err *e);
/* Adds a response header (copied). */
void http_add_header(struct http_request *req, const char *name, const char *value);

/* Suspends the request: call it in the handler before handing the request to another thread,
 * which answers with http_reply_* and then calls http_resume (once). */
void http_defer(struct http_request *req);
void http_resume(struct http_request *req);
/* Like http_resume, but the answer is made by finish(req) on the server's thread, so that the
 * resuming thread (the writer) does no more than wake the request. */
void http_resume_with(struct http_request *req, void (*finish)(struct http_request *req));

#endif
