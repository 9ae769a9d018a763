/* libmicrohttpd glue: epoll with a small thread pool, bounded bodies, suspend/resume for
 * answers produced on other threads, one JSON log line per request. */
#include "http/server.h"

#include "core/id.h"
#include "core/log.h"
#include "core/mem.h"
#include "core/timeutil.h"
#include "core/text.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_RESPONSE_HEADERS 8
#define DISCARD_MAX (16u * 1024 * 1024) /* over-limit bytes read and dropped before a 413 */
/* Headers over HEADERS_MAX get hookd's JSON 431. libmicrohttpd keeps them in a connection's
 * memory, whose end it answers with its own HTML 431: CONNECTION_MEMORY leaves it room to hold
 * headers well over the limit for us to refuse. */
#define HEADERS_MAX (32 * 1024)
#define CONNECTION_MEMORY ((size_t)128 * 1024)

enum request_state {
    REQ_READING,  /* the body is arriving */
    REQ_DEFERRED, /* suspended, waiting for another thread's answer */
    REQ_ANSWERED, /* an answer is ready to be queued */
    REQ_QUEUED,   /* handed to libmicrohttpd */
};

struct response_header {
    char *name, *value;
};

struct http_request {
    struct MHD_Connection *conn;
    struct http_server *srv;
    char method[16];
    char *path;
    char *body;
    size_t body_len, body_cap;
    bool too_large;
    enum request_state state;
    int status;
    char *response;
    size_t response_len;
    const char *content_type;
    struct response_header headers[MAX_RESPONSE_HEADERS];
    int header_count;
    void *data;
    void (*free_data)(void *);
    void (*finish)(struct http_request *req); /* makes the answer after a resume */
    char log_key[ID_MAX];
    int64_t start_ns;
};

/* A certificate's daemon: new connections go to the newest; those it replaced serve the
 * connections they have until these end. */
#define RETIRED_MAX 4

struct daemon_slot {
    struct MHD_Daemon *daemon;
    char *cert_pem, *key_pem; /* its certificate, kept while it runs */
};

struct http_server {
    struct daemon_slot live;
    struct daemon_slot retired[RETIRED_MAX];
    struct http_options opts;
    int listen_fd;
    int port;
};

/* --- request accessors --- */

const char *http_method(const struct http_request *req)
{
    return req->method;
}

const char *http_path(const struct http_request *req)
{
    return req->path;
}

const char *http_header(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_query(const struct http_request *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

struct query_check {
    const char *known;
    const char *unknown;
};

static enum MHD_Result find_unknown_name(void *arg, enum MHD_ValueKind kind, const char *name,
                                         const char *value)
{
    struct query_check *q = arg;
    (void)kind;
    (void)value;
    if (text_word_in(name, q->known))
        return MHD_YES;
    q->unknown = name;
    return MHD_NO;
}

const char *http_query_unknown(const struct http_request *req, const char *known)
{
    struct query_check q = {known, NULL};
    MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, find_unknown_name, &q);
    return q.unknown;
}

bool http_body_too_large(const struct http_request *req)
{
    return req->too_large;
}

const char *http_body(const struct http_request *req, size_t *len)
{
    *len = req->body_len;
    return req->body ? req->body : "";
}

struct header_text {
    char *text;
    size_t len, cap;
    const char *const *redact;
};

static enum MHD_Result add_header_line(void *arg, enum MHD_ValueKind kind, const char *name,
                                       const char *value)
{
    struct header_text *h = arg;
    size_t need;
    (void)kind;
    for (const char *const *r = h->redact; r && *r; r++)
        if (strcasecmp(name, *r) == 0)
            value = "[redacted]";
    need = strlen(name) + strlen(value ? value : "") + 3;
    if (h->len + need + 1 > h->cap) {
        h->cap = (h->len + need + 1) * 2;
        h->text = xrealloc(h->text, h->cap);
    }
    h->len +=
        (size_t)snprintf(h->text + h->len, h->cap - h->len, "%s: %s\n", name, value ? value : "");
    return MHD_YES;
}

char *http_header_lines(const struct http_request *req, const char *const *redact)
{
    struct header_text h = {xstrdup(""), 0, 1, redact};
    MHD_get_connection_values(req->conn, MHD_HEADER_KIND, add_header_line, &h);
    return h.text;
}

void http_set_data(struct http_request *req, void *data, void (*free_fn)(void *))
{
    req->data = data;
    req->free_data = free_fn;
}

void *http_data(const struct http_request *req)
{
    return req->data;
}

void http_set_log_key(struct http_request *req, const char *key_id)
{
    text_copy(req->log_key, sizeof req->log_key, key_id);
}

/* --- answers --- */

int http_status(const struct http_request *req)
{
    return req->state == REQ_READING ? 0 : req->status;
}

void http_reply_text(struct http_request *req, int status, const char *content_type,
                     const char *body, size_t len)
{
    free(req->response);
    req->response = xstrndup(body, len);
    req->response_len = len;
    req->status = status;
    req->content_type = content_type;
    if (req->state == REQ_READING)
        req->state = REQ_ANSWERED;
}

void http_reply_json(struct http_request *req, int status, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    json_decref(body);
    if (text == NULL) {
        http_reply_text(req, 500, "application/json",
                        "{\"error\":\"internal_error\",\"message\":\"cannot encode\"}", 52);
        return;
    }
    free(req->response);
    req->response = text;
    req->response_len = strlen(text);
    req->status = status;
    req->content_type = "application/json";
    if (req->state == REQ_READING)
        req->state = REQ_ANSWERED;
}

void http_reply_error(struct http_request *req, const struct err *e)
{
    json_t *body = json_pack("{s:s, s:s}", "error", e->code, "message", e->message);
    if (e->field[0] != '\0')
        json_object_set_new(body, "field", json_string(e->field));
    http_reply_json(req, e->status ? e->status : 500, body);
}

void http_add_header(struct http_request *req, const char *name, const char *value)
{
    if (req->header_count == MAX_RESPONSE_HEADERS)
        return;
    req->headers[req->header_count].name = xstrdup(name);
    req->headers[req->header_count].value = xstrdup(value);
    req->header_count++;
}

void http_defer(struct http_request *req)
{
    if (req->state == REQ_DEFERRED)
        return; /* already waiting (a ping that goes on into a write) */
    req->state = REQ_DEFERRED;
    MHD_suspend_connection(req->conn);
}

void http_resume(struct http_request *req)
{
    req->state = REQ_ANSWERED;
    MHD_resume_connection(req->conn);
}

void http_resume_with(struct http_request *req, void (*finish)(struct http_request *req))
{
    req->finish = finish;
    http_resume(req);
}

static enum MHD_Result queue_answer(struct http_request *req)
{
    struct MHD_Response *response;
    enum MHD_Result rc;

    if (req->finish) {
        void (*finish)(struct http_request *) = req->finish;
        req->finish = NULL;
        finish(req);
    }
    if (req->response == NULL) {
        struct err e;
        err_internal(&e, "the handler gave no answer");
        http_reply_error(req, &e);
    }
    response =
        MHD_create_response_from_buffer(req->response_len, req->response, MHD_RESPMEM_MUST_FREE);
    if (response == NULL)
        return MHD_NO;
    req->response = NULL; /* libmicrohttpd frees it */
    MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, req->content_type);
    for (int i = 0; i < req->header_count; i++)
        MHD_add_response_header(response, req->headers[i].name, req->headers[i].value);
    rc = MHD_queue_response(req->conn, (unsigned)req->status, response);
    MHD_destroy_response(response);
    req->state = REQ_QUEUED;
    return rc;
}

static struct http_request *request_new(struct http_server *srv, struct MHD_Connection *conn,
                                        const char *url, const char *method)
{
    struct http_request *req = xcalloc(1, sizeof *req);
    req->conn = conn;
    req->srv = srv;
    text_copy(req->method, sizeof req->method, method);
    req->path = xstrdup(url);
    req->start_ns = time_mono_ns();
    return req;
}

static void request_free(struct http_request *req)
{
    if (req->free_data)
        req->free_data(req->data);
    for (int i = 0; i < req->header_count; i++) {
        free(req->headers[i].name);
        free(req->headers[i].value);
    }
    free(req->response);
    free(req->body);
    free(req->path);
    free(req);
}

static void reply_too_large(struct http_request *req)
{
    struct err e;
    err_set(&e, 413, "payload_too_large", NULL, "the request body is larger than %zu bytes",
            req->srv->opts.max_body);
    http_reply_error(req, &e);
}

static void append_body(struct http_request *req, const char *data, size_t len)
{
    size_t max = req->srv->opts.max_body;
    if (req->too_large || req->body_len + len > max) {
        req->too_large = true;
        return;
    }
    if (req->body_len + len > req->body_cap) {
        size_t cap = req->body_cap ? req->body_cap : 4096;
        while (cap < req->body_len + len)
            cap *= 2;
        if (cap > max)
            cap = max;
        req->body = xrealloc(req->body, cap + 1);
        req->body_cap = cap;
    }
    memcpy(req->body + req->body_len, data, len);
    req->body_len += len;
    req->body[req->body_len] = '\0';
}

/* RFC 9110 tokens: what a header name may hold. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("!#$%&'*+-.^_`|~", *s))
            return false;
    return true;
}

struct header_scan {
    bool bad_name;
    size_t bytes; /* "Name: value\r\n" of every header */
};

static enum MHD_Result scan_header(void *arg, enum MHD_ValueKind kind, const char *name,
                                   const char *value)
{
    struct header_scan *scan = arg;
    (void)kind;
    if (!is_token(name)) {
        scan->bad_name = true;
        return MHD_NO;
    }
    scan->bytes += strlen(name) + (value ? strlen(value) : 0) + 4;
    return MHD_YES;
}

/* The first look at a request's line and headers: a 400 for a header name that is not a token
 * (RFC 9112 §5.1: no whitespace before the colon, a smuggling trick) and a 431 for headers over
 * HEADERS_MAX, both as JSON. Returns non-zero when it answered. */
static int check_headers(struct http_request *req, struct MHD_Connection *conn, const char *url)
{
    struct header_scan scan = {false, strlen(url)};
    struct err e;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_header, &scan);
    if (scan.bad_name)
        err_set(&e, 400, "bad_request", NULL, "a header name is not a token");
    else if (scan.bytes > HEADERS_MAX)
        err_set(&e, 431, "headers_too_large", NULL,
                "the request line and headers are %zu bytes; the limit is %d", scan.bytes,
                HEADERS_MAX);
    else
        return 0;
    http_reply_error(req, &e);
    http_add_header(req, "Connection", "close");
    return 1;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct http_server *srv = cls;
    struct http_request *req = *con_cls;
    (void)version;

    if (req == NULL) {
        const char *length =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        req = request_new(srv, conn, url, method);
        *con_cls = req;
        if (check_headers(req, conn, url) != 0)
            return queue_answer(req);
        if (length != NULL) {
            unsigned long long declared = strtoull(length, NULL, 10);
            if (declared > srv->opts.max_body + DISCARD_MAX) {
                reply_too_large(req); /* answer at once; the connection closes */
                return queue_answer(req);
            }
            /* read and drop a moderately large body so that the client, still sending,
             * reads the 413 instead of a reset connection */
            req->too_large = declared > srv->opts.max_body;
            /* a client waiting for 100-continue has sent nothing yet: the 413 goes now */
            const char *expect = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Expect");
            if (req->too_large && expect && strcasecmp(expect, "100-continue") == 0) {
                reply_too_large(req);
                return queue_answer(req);
            }
        }
        return MHD_YES;
    }
    if (req->state == REQ_QUEUED) {
        *upload_data_size = 0; /* an early answer was sent: discard the rest */
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        append_body(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->state == REQ_READING) {
        /* the dispatcher sees an over-limit request too (its body dropped), so that a route
         * may record it; http_body_too_large() tells, and the answer defaults to 413 */
        if (req->too_large)
            reply_too_large(req);
        srv->opts.dispatch(req, srv->opts.app);
        if (req->state == REQ_DEFERRED)
            return MHD_YES;
    }
    return queue_answer(req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode why)
{
    struct http_request *req = *con_cls;
    (void)cls;
    (void)conn;
    if (req == NULL)
        return;
    if (log_enabled(LOG_INFO)) {
        double ms = (double)(time_mono_ns() - req->start_ns) / 1e6;
        log_kv(LOG_INFO, "request", "method", json_string(req->method), "path",
               json_string(req->path), "status",
               req->state == REQ_QUEUED ? json_integer(req->status) : json_null(), "duration_ms",
               log_ms(ms), "key_id", req->log_key[0] ? json_string(req->log_key) : json_null(),
               "completed", json_boolean(why == MHD_REQUEST_TERMINATED_COMPLETED_OK), NULL);
    }
    request_free(req);
    *con_cls = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char text[512];
    (void)cls;
    vsnprintf(text, sizeof text, fmt, ap);
    text[strcspn(text, "\n")] = '\0';
    log_kv(LOG_DEBUG, "libmicrohttpd", "detail", json_string(text), NULL);
}

/* Binds ADDR:PORT ourselves so that port 0 works and the bound port can be reported. */
static int bind_listen(const char *listen_addr, int *port_out, struct err *e)
{
    char host[256], port[16];
    const char *colon = strrchr(listen_addr, ':');
    struct addrinfo hints = {0}, *ai = NULL;
    struct sockaddr_storage bound;
    socklen_t bound_len = sizeof bound;
    int fd = -1, one = 1;
    size_t host_len = (size_t)(colon - listen_addr);

    if (listen_addr[0] == '[') { /* [v6]:port */
        listen_addr++;
        host_len -= 2;
    }
    if (host_len >= sizeof host)
        return err_invalid(e, "listen", "the listen address is too long");
    memcpy(host, listen_addr, host_len);
    host[host_len] = '\0';
    text_copy(port, sizeof port, colon + 1);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host[0] ? host : NULL, port, &hints, &ai) != 0 || ai == NULL)
        return err_invalid(e, "listen", "cannot resolve listen address '%s'", host);
    fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &bound_len) != 0) {
        err_invalid(e, "listen", "cannot listen on %s:%s: %s", host, port, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    return fd;
}

int http_bind(const char *listen, int *port, struct err *e)
{
    int fd = bind_listen(listen, port, e);
    return fd < 0 ? -1 : fd;
}

/* Starts a daemon on the server's socket, with cert_pem and key_pem when given (TLS). */
static int start_daemon(struct http_server *srv, const char *cert_pem, const char *key_pem,
                        struct daemon_slot *out)
{
    /* TURBO: no shutdown() before close(), and accept4 without extra fcntl calls; ITC: a
     * replaced daemon can stop accepting while its connections go on (MHD_quiesce_daemon) */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO | MHD_USE_ITC;
    const struct http_options *opts = &srv->opts;
    /* a daemon of its own: libmicrohttpd closes it when it stops, and when it fails to start */
    int fd = dup(srv->listen_fd);

    memset(out, 0, sizeof *out);
    if (fd < 0)
        return ERR_FAIL;
    if (cert_pem) {
        flags |= MHD_USE_TLS;
        out->cert_pem = xstrdup(cert_pem);
        out->key_pem = xstrdup(key_pem);
    }
    out->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, srv, MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, opts->threads ? opts->threads : 2u,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv, MHD_OPTION_CONNECTION_TIMEOUT, 60u,
        MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, CONNECTION_MEMORY,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, srv, MHD_OPTION_STRICT_FOR_CLIENT,
        1, /* RFC 9112 to the letter: no space before ':' etc. */
        cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, out->cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, out->key_pem, MHD_OPTION_END);
    return out->daemon ? 0 : ERR_FAIL;
}

static void stop_daemon(struct daemon_slot *slot)
{
    if (slot->daemon)
        MHD_stop_daemon(slot->daemon);
    if (slot->key_pem)
        OPENSSL_cleanse(slot->key_pem, strlen(slot->key_pem));
    free(slot->cert_pem);
    free(slot->key_pem);
    memset(slot, 0, sizeof *slot);
}

struct http_server *http_start(const struct http_options *opts, struct err *e)
{
    struct http_server *srv = xcalloc(1, sizeof *srv);

    srv->opts = *opts;
    if (opts->bound) {
        srv->listen_fd = opts->listen_fd;
        srv->port = opts->listen_port;
    } else {
        srv->listen_fd = bind_listen(opts->listen, &srv->port, e);
    }
    if (srv->listen_fd < 0) {
        free(srv);
        return NULL;
    }
    if (start_daemon(srv, opts->tls_cert_pem, opts->tls_key_pem, &srv->live) != 0) {
        err_internal(e, "cannot start the HTTP server on %s%s", opts->listen,
                     opts->tls_cert_pem ? " (check --tls-cert and --tls-key)" : "");
        stop_daemon(&srv->live);
        close(srv->listen_fd);
        free(srv);
        return NULL;
    }
    return srv;
}

/* Stops the replaced daemons whose connections have ended, or, when a slot is needed, the
 * oldest whatever it still serves. */
static struct daemon_slot *retire_slot(struct http_server *srv)
{
    struct daemon_slot *free_slot = NULL;
    for (int i = 0; i < RETIRED_MAX; i++) {
        struct daemon_slot *r = &srv->retired[i];
        const union MHD_DaemonInfo *info =
            r->daemon ? MHD_get_daemon_info(r->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;
        if (r->daemon && info && info->num_connections == 0)
            stop_daemon(r);
        if (r->daemon == NULL && free_slot == NULL)
            free_slot = r;
    }
    if (free_slot == NULL) {
        stop_daemon(&srv->retired[0]);
        memmove(&srv->retired[0], &srv->retired[1], sizeof srv->retired[0] * (RETIRED_MAX - 1));
        free_slot = &srv->retired[RETIRED_MAX - 1];
        memset(free_slot, 0, sizeof *free_slot);
    }
    return free_slot;
}

int http_reload_tls(struct http_server *srv, const char *cert_pem, const char *key_pem,
                    struct err *e)
{
    struct daemon_slot next, *old;
    if (srv->live.cert_pem == NULL)
        return err_invalid(e, "tls-cert", "the server was started without TLS");
    if (start_daemon(srv, cert_pem, key_pem, &next) != 0) {
        stop_daemon(&next);
        return err_invalid(e, "tls-cert",
                           "the new certificate and key cannot be used; the old ones stay");
    }
    /* both accept for a moment; then only the new one does */
    old = retire_slot(srv);
    *old = srv->live;
    srv->live = next;
    MHD_socket quiet = MHD_quiesce_daemon(old->daemon); /* hands back its copy of the socket */
    if (quiet != MHD_INVALID_SOCKET)
        close(quiet);
    return 0;
}

int http_port(const struct http_server *srv)
{
    return srv->port;
}

void http_stop(struct http_server *srv)
{
    if (srv == NULL)
        return;
    for (int i = 0; i < RETIRED_MAX; i++)
        stop_daemon(&srv->retired[i]);
    stop_daemon(&srv->live); /* closes its copy of the socket */
    close(srv->listen_fd);
    free(srv);
}
